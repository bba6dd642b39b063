"""ASGI middleware at the HTTP edge: a request id and an access event for every request, a last
answer for faults nothing else caught, security headers on every response, and the body limit.

Outermost first (see api/app.py): HttpEdge (CORS included), BodyLimit, GraphQLEdge
(api/documents/edge.py), the app."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.availability import UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, is_unavailable
from api.errors import MASKED_MESSAGE
from api.graphql_http import error_body, failure_status, negotiate
from api.logs import operation_name, request_id
from api.metrics import Metrics, graphql_outcome
from persistence.database import request_waits, request_waits_end

log = logging.getLogger("datarights.http")
access_log = logging.getLogger("datarights.access")

# An incoming X-Request-ID (from a load balancer) is kept only if it could not disturb a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{7,127}")
_LOGGABLE_PATH = re.compile(r"/[A-Za-z0-9/._\-{}]{0,199}")
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})

STRICT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
STRICT_POLICY_BYTES = STRICT_POLICY.encode()
HSTS = "max-age=63072000; includeSubDomains"


async def send_error(
    send: Send, status: int, body: bytes, media_type: str, headers: list[tuple[str, str]]
) -> None:
    raw = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class CorsPolicy:
    """Starlette's CORS rules, applied by the edge in its one pass over the response headers
    rather than as a layer of their own (a layer wraps every response's ``send`` again and
    builds a mutable copy of its headers; on a trusted `me` that was a few per cent of the
    worker's CPU, docs/performance.md). The preflight answer is Starlette's own."""

    def __init__(self, **options: Any) -> None:
        self.rules = CORSMiddleware(_no_app, **options)
        self.simple = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.rules.simple_headers.items()
        ]
        self.simple_names = frozenset(name for name, _ in self.simple)

    def is_preflight(self, scope: Scope, origin: str | None) -> bool:
        return (
            origin is not None
            and scope["method"] == "OPTIONS"
            and _header(scope, b"access-control-request-method") is not None
        )

    async def preflight(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.rules.preflight_response(request_headers=Headers(scope=scope))
        await response(scope, receive, send)

    def add_headers(self, headers: list[tuple[bytes, bytes]], origin: str | None) -> None:
        """What Starlette's CORS layer adds to an answer: for a request with an Origin, the
        simple headers, and the origin itself when it is allowed; ``Vary: Origin`` always."""
        if origin is not None:
            names = self.simple_names
            headers[:] = [(name, value) for name, value in headers if name not in names]
            headers += self.simple
            rules = self.rules
            if (rules.allow_all_origins and rules.allow_credentials) or (
                not rules.allow_all_origins and rules.is_allowed_origin(origin)
            ):
                headers[:] = [h for h in headers if h[0] != b"access-control-allow-origin"]
                headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
        varies = [value for name, value in headers if name == b"vary"]
        if varies:
            headers[:] = [h for h in headers if h[0] != b"vary"]
        headers.append((b"vary", b", ".join([*varies, b"Origin"])))


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("CorsPolicy answers preflights itself and wraps no app")


def new_request_id(incoming: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class HttpEdge:
    """The outermost layer: what every request gets, in one pass. An id (``X-Request-ID``, in
    every log line and in masked errors), one access event, the request metrics, the security
    headers on the response, and the masked answer to a fault that escaped every other handler
    instead of a bare 500.

    The security headers: a Content-Security-Policy (the strict one everywhere, a given one for
    the HTML of GraphiQL in development, and one for each path prefix in ``page_policies``, for
    pages the app serves such as the privacy center), nosniff, no framing, no referrer, no cache.
    One layer where there were three (identity, metrics, headers), each wrapping the response's
    send again: on the prepared `me` that nesting was a tenth of the worker's CPU
    (docs/performance.md)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        graphql_path: str,
        metrics: Metrics | None,
        hsts: bool,
        ide_path: str,
        ide_policy: str,
        page_policies: dict[str, str] | None = None,
        cors: CorsPolicy | None = None,
    ) -> None:
        self.app = app
        self.cors = cors
        self.graphql_path = graphql_path
        self.metrics = metrics
        self.ide_path = ide_path
        self.ide_policy = ide_policy.encode("latin-1")
        self.page_policies = [
            (prefix, policy.encode("latin-1")) for prefix, policy in (page_policies or {}).items()
        ]
        self.fixed: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-resource-policy", b"same-origin"),
            # Everything here is personal or per caller: no cache keeps a copy.
            (b"cache-control", b"no-store"),
            *([(b"strict-transport-security", HSTS.encode())] if hsts else []),
        ]
        self.set_here = frozenset(
            [name for name, _ in self.fixed] + [b"content-security-policy", b"x-request-id"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(_header(scope, b"x-request-id"))
        cors = self.cors
        origin = _header(scope, b"origin") if cors is not None else None
        preflight = cors is not None and cors.is_preflight(scope, origin)
        id_token = request_id.set(rid)
        name_token = operation_name.set(None)
        outcome_token = graphql_outcome.set(None)
        waits_token = request_waits()
        status = 500
        started = False

        async def send_at_edge(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = self._headers(scope, message.get("headers", ()), rid)
                if cors is not None and not preflight:  # a preflight answer has its own
                    cors.add_headers(headers, origin)
                message["headers"] = headers
            await send(message)

        began = time.perf_counter()
        fault: Exception | None = None
        try:
            if preflight:
                assert cors is not None
                await cors.preflight(scope, receive, send_at_edge)
            else:
                await self.app(scope, receive, send_at_edge)
        except Exception as error:
            fault = error
            if started:
                log.exception("the response failed after it began")
                raise  # the server drops the connection: a truncated answer is not a whole one
            await self._fault(scope, error, rid, send_at_edge)
        finally:
            seconds = time.perf_counter() - began
            self._access(scope, status, seconds)
            if self.metrics is not None:
                self.metrics.observe_request(scope, status, seconds, fault, self.graphql_path)
            request_waits_end(waits_token)
            graphql_outcome.reset(outcome_token)
            operation_name.reset(name_token)
            request_id.reset(id_token)

    def _headers(
        self, scope: Scope, given: Iterable[tuple[bytes, bytes]], rid: str
    ) -> list[tuple[bytes, bytes]]:
        """The response's headers, ours set over any of the same name."""
        headers = [(name, value) for name, value in given if name.lower() not in self.set_here]
        html = any(
            name.lower() == b"content-type" and value.startswith(b"text/html")
            for name, value in headers
        )
        path = scope["path"]
        policy = self.ide_policy if html and path == self.ide_path else STRICT_POLICY_BYTES
        for prefix, page_policy in self.page_policies:
            if path == prefix or path.startswith(prefix + "/"):
                policy = page_policy
        headers += self.fixed
        headers.append((b"content-security-policy", policy))
        headers.append((b"x-request-id", rid.encode("latin-1")))
        return headers

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
            media_type = negotiate(_header(scope, b"accept")) or media_type
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
        if not access_log.isEnabledFor(level):
            return
        # The record made and handed to the handlers as Logger.log would, less its search of the
        # stack for the caller's file and line, which no format of ours shows: a fifth of the
        # event's cost (bench/edge_cpu.py).
        record = access_log.makeRecord(
            access_log.name,
            level,
            __file__,
            0,
            "%s %s %d %.1fms",
            (scope["method"], path, status, seconds * 1000),
            None,
            extra={
                "method": scope["method"],
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )
        access_log.handle(record)


def _header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (the first of that name), without building a Headers."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


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
        declared = _header(scope, b"content-length") or ""
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
