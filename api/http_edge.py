"""ASGI middleware at the HTTP edge: a request id and an access event for every request, a last
answer for faults nothing else caught, security headers on every response, and the body limit.

Outermost first (see api/app.py): SecurityHeaders, RequestIdentity, CORS, BodyLimit, the app."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid
from html.parser import HTMLParser

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.availability import UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, is_unavailable
from api.errors import MASKED_MESSAGE
from api.graphql_http import error_body, failure_status, negotiate
from api.logs import operation_name, request_id

log = logging.getLogger("datarights.http")
access_log = logging.getLogger("datarights.access")

# An incoming X-Request-ID (from a load balancer) is kept only if it could not disturb a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{7,127}")
_LOGGABLE_PATH = re.compile(r"/[A-Za-z0-9/._\-{}]{0,199}")
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})

STRICT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=63072000; includeSubDomains"


async def send_error(
    send: Send, status: int, body: bytes, media_type: str, headers: list[tuple[str, str]]
) -> None:
    raw = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def new_request_id(incoming: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdentity:
    """Gives each request an id (``X-Request-ID``, in every log line and in masked errors),
    writes one access event per request, and answers a fault that escaped every other handler
    with the masked error instead of a bare 500."""

    def __init__(self, app: ASGIApp, graphql_path: str) -> None:
        self.app = app
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(Headers(scope=scope).get("x-request-id"))
        id_token = request_id.set(rid)
        name_token = operation_name.set(None)
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as fault:
            if started:
                log.exception("the response failed after it began")
                raise  # the server drops the connection: a truncated answer is not a whole one
            await self._fault(scope, fault, rid, send_with_id)
        finally:
            self._access(scope, status, time.perf_counter() - began)
            operation_name.reset(name_token)
            request_id.reset(id_token)

    async def _fault(self, scope: Scope, fault: Exception, rid: str, send: Send) -> None:
        """The answer to a fault nothing else caught: masked, or the outage it is; on /graphql
        with the status GraphQL over HTTP gives the negotiated media type."""
        if is_unavailable(fault):
            # Not a fault of ours to hide: the client can wait and retry (api/availability.py).
            log.warning("database unavailable: %s", type(fault).__name__)
            status, code, message = 503, UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE
        else:
            log.exception("unexpected error")
            status, code, message = 500, "INTERNAL_SERVER_ERROR", MASKED_MESSAGE
        media_type = "application/json"
        if scope["path"] == self.graphql_path:
            media_type = negotiate(Headers(scope=scope).get("accept")) or media_type
            status = failure_status(media_type, [code])
        headers = [("Retry-After", "5")] if code == UNAVAILABLE_CODE else []
        body = error_body(message, code, requestId=rid)
        await send_error(send, status, body, media_type, headers)

    def _access(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        # The route's template (/exports/{export_id}) where one matched; a raw path only when it
        # cannot carry anything but a path (no e-mail, no query string).
        path = getattr(route, "path", None) or scope["path"]
        if not _LOGGABLE_PATH.fullmatch(path):
            path = "(unloggable path)"
        # Load balancers probe health every few seconds: their lines would bury the rest.
        level = logging.DEBUG if path in _PROBES else logging.INFO
        access_log.log(
            level,
            "%s %s %d %.1fms",
            scope["method"],
            path,
            status,
            seconds * 1000,
            extra={
                "method": scope["method"],
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


class SecurityHeaders:
    """The headers every response carries, and a Content-Security-Policy: the strict one
    everywhere, a given one for the HTML of GraphiQL (development only), and one for each path
    prefix in ``page_policies`` (pages served by the app, such as the privacy center)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool,
        ide_path: str,
        ide_policy: str,
        page_policies: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.hsts = hsts
        self.ide_path = ide_path
        self.ide_policy = ide_policy
        self.page_policies = page_policies or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                ide = html and scope["path"] == self.ide_path
                headers["Content-Security-Policy"] = self.ide_policy if ide else STRICT_POLICY
                for prefix, policy in self.page_policies.items():
                    if scope["path"] == prefix or scope["path"].startswith(prefix + "/"):
                        headers["Content-Security-Policy"] = policy
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                # Everything here is personal or per caller: no cache keeps a copy.
                headers["Cache-Control"] = "no-store"
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses a request body larger than ``max_bytes`` with 413, counting what arrives (a
    Content-Length is not believed, nor needed), before anything parses it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before it finished sending
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        message = f"The request body is larger than {self.max_bytes} bytes."
        await send_error(send, 413, error_body(message, "BAD_REQUEST"), "application/json", [])


def graphiql_policy(html: str) -> str:
    """A Content-Security-Policy for this GraphiQL page that allows exactly what it loads: its
    scripts and style sheets by their full URLs, its inline script and style by their hashes,
    its data: icon, and requests to this origin."""
    page = _PageResources()
    page.feed(html)
    page.close()
    scripts = " ".join([*page.script_urls, *map(_hash_source, page.inline_scripts)])
    styles = " ".join([*page.style_urls, *map(_hash_source, page.inline_styles)])
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src data:; "
        "font-src data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def _hash_source(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


class _PageResources(HTMLParser):
    """What an HTML page loads: script and style-sheet URLs, inline scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.script_urls: list[str] = []
        self.style_urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self._inline: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.script_urls.append(str(attributes["src"]))
        elif tag == "script":
            self._inline, self._text = self.inline_scripts, []
        elif tag == "style":
            self._inline, self._text = self.inline_styles, []
        elif tag == "link" and attributes.get("rel") == "stylesheet" and attributes.get("href"):
            self.style_urls.append(str(attributes["href"]))

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._inline is not None:
            self._inline.append("".join(self._text))
            self._inline = None
