"""Where webhooks may go: HTTPS to public addresses in production (no server-side request
forgery), plain HTTP to this machine only in development."""

from __future__ import annotations

import pytest

from domain.webhooks.targets import TargetRefused, TargetRules, check_target
from tests.unit.fakes import FakeResolver

PRODUCTION = TargetRules()
DEVELOPMENT = TargetRules.development()
DNS = FakeResolver(
    {
        "hooks.partner.example": ["93.184.216.34"],
        "internal.partner.example": ["10.20.30.40"],
        "sneaky.partner.example": ["93.184.216.34", "192.168.1.10"],
        "metadata.partner.example": ["169.254.169.254"],
        "v6.partner.example": ["2606:2800:220:1:248:1893:25c8:1946"],
        "mapped.partner.example": ["::ffff:127.0.0.1"],
        "localhost": ["127.0.0.1", "::1"],
    }
)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1/hooks",
        "https://[::1]/hooks",
        "https://0.0.0.0/hooks",
        "https://224.0.0.1/hooks",
        "https://100.64.0.1/hooks",
        "https://internal.partner.example/hooks",
        "https://sneaky.partner.example/hooks",
        "https://metadata.partner.example/hooks",
        "https://mapped.partner.example/hooks",
        "https://localhost/hooks",
        "https://unknown.partner.example/hooks",
    ],
)
async def test_production_refuses_urls_that_reach_a_non_public_address(url: str) -> None:
    with pytest.raises(TargetRefused):
        await check_target(url, PRODUCTION, DNS)


async def test_a_host_resolving_to_a_private_address_is_refused_without_naming_it() -> None:
    with pytest.raises(TargetRefused, match="not public") as refusal:
        await check_target("https://internal.partner.example/hooks", PRODUCTION, DNS)
    assert "10.20.30.40" not in str(refusal.value)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://hooks.partner.example/consent", "93.184.216.34"),
        ("https://hooks.partner.example:8443/consent?x=1", "93.184.216.34"),
        ("https://v6.partner.example/consent", "2606:2800:220:1:248:1893:25c8:1946"),
        ("https://93.184.216.34/consent", "93.184.216.34"),
    ],
)
async def test_production_accepts_https_to_a_public_address_and_says_where_to_connect(
    url: str, address: str
) -> None:
    target = await check_target(url, PRODUCTION, DNS)
    assert target.connect_to == address


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.partner.example/consent",
        "ftp://hooks.partner.example/consent",
        "https://user:password@hooks.partner.example/consent",
        "https://hooks.partner.example/consent#fragment",
        "https:///consent",
        "https://hooks.partner.example:port/consent",
        "hooks.partner.example/consent",
        "https://hooks.partner.example/" + "x" * 2000,
    ],
)
async def test_malformed_or_unencrypted_urls_are_refused_everywhere(url: str) -> None:
    for rules in (PRODUCTION, DEVELOPMENT):
        with pytest.raises(TargetRefused):
            await check_target(url, rules, DNS)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://[::1]:8080/hooks", "http://localhost/hooks"]
)
async def test_development_allows_plain_http_to_this_machine(url: str) -> None:
    target = await check_target(url, DEVELOPMENT, DNS)
    assert target.connect_to is None  # the HTTP client resolves the name itself


async def test_development_still_refuses_plain_http_to_another_machine() -> None:
    with pytest.raises(TargetRefused, match="https"):
        await check_target("http://10.0.0.1/hooks", DEVELOPMENT, DNS)
