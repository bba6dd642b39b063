"""Who the client is behind reverse proxies: X-Forwarded-For is believed only from a proxy."""

from __future__ import annotations

import pytest

from api.context import TrustedProxies

PROXIES = TrustedProxies.parse(["10.0.0.0/8", "192.168.1.5", "fd00::/8"])


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert PROXIES.client_ip("203.0.113.7", "198.51.100.1") == "203.0.113.7"


def test_a_trusted_proxy_is_believed_about_the_hop_before_it() -> None:
    assert PROXIES.client_ip("10.0.0.1", "198.51.100.1") == "198.51.100.1"


def test_the_rightmost_untrusted_hop_is_the_client_because_the_left_can_be_forged() -> None:
    # given: the client wrote a first hop itself; the proxy appended what it saw
    forwarded = "6.6.6.6, 198.51.100.1"

    assert PROXIES.client_ip("10.0.0.1", forwarded) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_back_to_the_client() -> None:
    forwarded = "6.6.6.6, 198.51.100.1, 192.168.1.5, 10.0.0.3"

    assert PROXIES.client_ip("10.0.0.2", forwarded) == "198.51.100.1"


def test_a_header_naming_only_trusted_proxies_leaves_the_peer() -> None:
    assert PROXIES.client_ip("10.0.0.1", "10.0.0.2, 10.0.0.3") == "10.0.0.1"


@pytest.mark.parametrize(
    "forwarded", ["not-an-ip", "198.51.100.1, garbage", "198.51.100.1:4711", "unknown"]
)
def test_garbage_where_the_client_should_be_falls_back_to_the_peer(forwarded: str) -> None:
    assert PROXIES.client_ip("10.0.0.1", forwarded) == "10.0.0.1"


def test_garbage_left_of_the_client_is_never_reached() -> None:
    assert PROXIES.client_ip("10.0.0.1", "garbage, 198.51.100.1") == "198.51.100.1"


@pytest.mark.parametrize("forwarded", [None, "", " , ,"])
def test_a_trusted_proxy_without_a_forwarded_address_is_the_client(forwarded: str | None) -> None:
    assert PROXIES.client_ip("10.0.0.1", forwarded) == "10.0.0.1"


def test_without_a_peer_there_is_no_client_address() -> None:
    assert PROXIES.client_ip(None, "198.51.100.1") is None


def test_ipv6_proxies_and_clients_are_understood() -> None:
    assert PROXIES.client_ip("fd00::1", "2001:db8::7, fd00::2") == "2001:db8::7"


def test_an_untrusted_ipv6_peer_is_the_client() -> None:
    assert PROXIES.client_ip("2001:db8::1", "198.51.100.1") == "2001:db8::1"


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    nobody = TrustedProxies.parse([])

    assert nobody.client_ip("10.0.0.1", "198.51.100.1") == "10.0.0.1"


def test_a_peer_that_is_not_an_address_is_not_trusted() -> None:
    assert not PROXIES.trusts("testclient")
    assert PROXIES.client_ip("testclient", "198.51.100.1") == "testclient"
