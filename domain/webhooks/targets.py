"""Where a webhook may be sent: HTTPS to public addresses, so that a partner cannot make this
service reach into its own network (server-side request forgery).

Names are resolved through the :class:`~domain.ports.HostResolver` port, both when an endpoint
is registered and again before every delivery: a name that resolved to a public address at
registration may point somewhere private later (DNS rebinding), so the worker connects only to
an address it has just checked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from domain.ports import HostResolver

MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class TargetRules:
    """Production's rules by default; development may also use plain HTTP to this machine and
    reach addresses that are not public (a receiver on the developer's network)."""

    allow_http_to_loopback: bool = False
    allow_non_public_addresses: bool = False

    @classmethod
    def development(cls) -> TargetRules:
        return cls(allow_http_to_loopback=True, allow_non_public_addresses=True)


class NoResolver:
    """Resolves nothing, so that where addresses are checked every host name is refused: the
    safe default until an application gives a real resolver."""

    async def resolve(self, host: str) -> list[str]:
        return []


class TargetRefused(Exception):
    """The URL may not receive webhooks; the message says why, for whoever registers it."""


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    """A URL that passed the rules, and the address to connect to: one that was checked just
    now (None where addresses are not checked, and the HTTP client resolves the name)."""

    url: str
    host: str
    connect_to: str | None


def check_form(url: str, rules: TargetRules) -> str:
    """The URL's host if its form is acceptable (scheme, no credentials, no fragment)."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"A webhook URL has at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise TargetRefused("That is not a URL.") from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise TargetRefused("A webhook URL is an https:// address with a host name.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("A webhook URL cannot carry a user name or password.")
    if parts.fragment:
        raise TargetRefused("A webhook URL cannot have a #fragment.")
    if parts.scheme == "http" and not (rules.allow_http_to_loopback and _names_loopback(host)):
        raise TargetRefused(
            "A webhook URL must use https (plain http is allowed only to this machine, "
            "in development)."
        )
    return host


async def check_target(url: str, rules: TargetRules, resolver: HostResolver) -> CheckedTarget:
    """Refuse a URL the rules forbid, resolving its host where addresses are checked."""
    host = check_form(url, rules)
    if rules.allow_non_public_addresses:
        return CheckedTarget(url, host, None)
    literal = _ip(host)
    addresses = [literal] if literal else [a for a in map(_ip, await resolver.resolve(host)) if a]
    if not addresses:
        raise TargetRefused(f"The host {host!r} does not resolve to any address.")
    if not all(is_public(address) for address in addresses):
        # Which address it was stays out of the message: it may describe an internal network.
        raise TargetRefused(
            f"The host {host!r} resolves to an address that is not public (loopback, private, "
            "link-local, multicast, reserved or unspecified); webhooks go to public addresses."
        )
    return CheckedTarget(url, host, str(addresses[0]))


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public Internet (not this machine, not a private network)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _names_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
