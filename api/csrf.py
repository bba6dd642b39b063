"""Cross-site request forgery: a browser attaches the session cookie to requests that other
sites make it send, so a request signed in by cookie is believed only when it is JSON (which no
page on another site can send without CORS letting it) and names an allowed origin. Requests
with a bearer token, or with no credentials at all, carry nothing a forger could borrow."""

from __future__ import annotations

import logging

from starlette.requests import Request
from strawberry.http.parse_content_type import parse_content_type

from api.credentials import bearer_token
from api.origins import origin_of
from api.settings import Settings

log = logging.getLogger("datarights.csrf")


class CookieRequests:
    def __init__(self, settings: Settings) -> None:
        self.cookie_name = settings.cookie_name
        own = [settings.own_origin] if settings.own_origin else []
        self.origins = frozenset([*settings.allowed_origins, *own])

    def signed_in_by_cookie(self, request: Request) -> bool:
        """Whether the session cookie is what would authenticate the request (a bearer token
        wins over it; see api/context.py ``request_token``)."""
        if bearer_token(request.headers):
            return False
        return bool(request.cookies.get(self.cookie_name))

    def refusal(self, request: Request) -> str | None:
        """Why a request signed in by cookie is refused; None when it may go on."""
        if not self.signed_in_by_cookie(request):
            return None
        content_type, _ = parse_content_type(request.headers.get("content-type", ""))
        if content_type != "application/json":
            reason = "A request signed in with the session cookie must be sent as application/json."
        else:
            # Browsers send Origin with every POST; Referer stands in for the few that do not.
            claimed = request.headers.get("origin") or request.headers.get("referer")
            origin = origin_of(claimed) if claimed else None
            if origin is None:
                reason = "A request signed in with the session cookie must say its Origin."
            elif origin not in self.origins:
                reason = "This origin may not send requests signed in with the session cookie."
            else:
                return None
        log.info("cross-site request refused: %s", reason)
        return reason
