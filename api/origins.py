"""Web origins (scheme, host, port), as browsers send them in ``Origin`` and ``Referer``."""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased and without its default port;
    None for anything else (``null``, other schemes, no host, a malformed port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_bare_origin(url: str) -> bool:
    """Whether ``url`` names an origin and nothing more (no path, query, fragment or user)."""
    parts = urlsplit(url.strip())
    return (
        origin_of(url) is not None
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
    )
