"""GraphQL over HTTP, as its specification says (graphql.github.io/graphql-over-http): the media
type of the answer, its status code, and the refusals that come before a document is read.

The status rule: with ``application/json`` every well-formed request answers 200 (the errors
are in the body). With ``application/graphql-response+json`` a response that carries ``data``
(even null) answers 200; one without (nothing was executed) answers by its error codes:
``SERVICE_UNAVAILABLE`` 503, ``INTERNAL_SERVER_ERROR`` 500, a refused document or variables 400.
Requests that are not well-formed GraphQL-over-HTTP requests answer 400, 405, 406, 413 or 415
with either media type, and a cross-site request signed in by cookie 403."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLSyntaxError, Lexer, Source, TokenKind
from starlette.background import BackgroundTasks
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET

from api.context import Context
from api.csrf import CookieRequests
from api.logs import operation_name
from api.metrics import note_graphql_refusal
from api.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

# The media type negotiated for the request being answered (read when the response is made).
_answer_as: ContextVar[str] = ContextVar("graphql_media_type", default=JSON)

_STATUS_OF_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "INTERNAL_SERVER_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}
_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


@lru_cache(maxsize=128)
def _content_type(header: str) -> tuple[str, str]:
    """A Content-Type's media type and charset (lower case; UTF-8 when none is named)."""
    content_type, parameters = parse_content_type(header)
    return content_type, parameters.get("charset", "utf-8").lower()


@lru_cache(maxsize=128)  # clients send a handful of distinct Accept headers, on every request
def negotiate(accept: str | None) -> str | None:
    """The media type to answer in: the one the client's ``Accept`` prefers (by q, then by how
    specifically it is named, then by order); ``application/json`` when the header is absent,
    or on a tie of wildcards; None when it allows neither."""
    if accept is None or not accept.strip():
        return JSON
    ranges = [_media_range(part) for part in accept.split(",") if part.strip()]
    best: tuple[float, int, int, bool] | None = None
    chosen = None
    for media_type in (GRAPHQL_RESPONSE, JSON):
        matches = [
            (specificity, -index, q)
            for index, (pattern, q) in enumerate(ranges)
            if (specificity := _specificity(pattern, media_type)) >= 0
        ]
        if not matches:
            continue
        specificity, order, q = max(matches)  # the most specific range decides
        rank = (q, specificity, order, media_type == JSON)
        if q > 0 and (best is None or rank > best):
            best, chosen = rank, media_type
    return chosen


def _media_range(part: str) -> tuple[str, float]:
    pattern, *parameters = (piece.strip() for piece in part.split(";"))
    q = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                q = min(max(float(value), 0.0), 1.0)
            except ValueError:
                q = 0.0  # a malformed weight accepts nothing
    return pattern.lower(), q


def _specificity(pattern: str, media_type: str) -> int:
    """2 for the type itself, 1 for ``application/*``, 0 for ``*/*``, -1 for no match."""
    if pattern == media_type:
        return 2
    if pattern == "application/*":
        return 1
    return 0 if pattern == "*/*" else -1


def failure_status(media_type: str, codes: Iterable[str]) -> int:
    """The status of a response without ``data``, the request having failed as a whole (a
    refused document, the database out of reach before anything ran): 200 for
    ``application/json``; for ``application/graphql-response+json`` the gravest of the codes'
    statuses (``SERVICE_UNAVAILABLE`` 503, ``INTERNAL_SERVER_ERROR`` 500, otherwise 4xx)."""
    if media_type != GRAPHQL_RESPONSE:
        return 200
    return max((_STATUS_OF_CODE.get(code, 400) for code in codes), default=400)


def response_status(media_type: str, body: Mapping[str, Any]) -> int:
    """The status of a GraphQL response: 200 whenever it carries ``data`` (even null: something
    was executed, and errors on the way keep 200), else :func:`failure_status`."""
    if "data" in body:
        return 200
    errors = body.get("errors") or []
    return failure_status(media_type, [e.get("extensions", {}).get("code", "") for e in errors])


def is_request_error(result: ExecutionResult) -> bool:
    """Whether nothing was executed: the document could not be parsed or validated, or its
    variables could not be coerced (such errors have no path). The response then has no
    ``data`` entry at all (GraphQL specification, "Response Format")."""
    if isinstance(result, PreExecutionError):
        return True
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    """A GraphQL-shaped error document: ``{"errors": [{"message", "extensions": {"code"}}]}``."""
    error = {"message": message, "extensions": {"code": code, **extensions}}
    return json.dumps({"errors": [error]}, separators=(",", ":")).encode()


class OperationRefused(HTTPException):
    """A well-formed request refused before its operation runs, with a GraphQL error code of
    its own (PERSISTED_QUERY_NOT_FOUND, say): answered as a refused document is, 200 for
    ``application/json`` and by :func:`failure_status` for graphql-response+json."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(400, message)
        self.code = code


def refusal(
    status: int,
    message: str,
    code: str = "BAD_REQUEST",
    media_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A whole request refused before any GraphQL ran."""
    note_graphql_refusal(code)
    return Response(
        error_body(message, code), status_code=status, media_type=media_type, headers=headers
    )


def _without_echo(reason: str) -> str:
    """Strawberry's refusal without what the client sent in it (an operation name may be any
    text, a pasted password or token included)."""
    if reason.startswith("Unknown operation named"):
        return "No operation in the document has the given operationName."
    return reason


def loggable_operation_name(name: object, query: object) -> str | None:
    """The operation's name as the client gave it or as the document's first operation names
    it; only a GraphQL name (so never an e-mail or a sentence) reaches the logs."""
    if name is None and isinstance(query, str):
        name = _first_operation_name(query)
    if isinstance(name, str) and _GRAPHQL_NAME.fullmatch(name):
        return name
    return None


def _first_operation_name(query: str) -> str | None:
    lexer = Lexer(Source(query))
    try:
        keyword = lexer.advance()
        if keyword.kind is TokenKind.NAME and keyword.value in {"query", "mutation"}:
            name = lexer.advance()
            return name.value if name.kind is TokenKind.NAME else None
    except GraphQLSyntaxError:
        pass
    return None


class GraphQLOverHTTP(GraphQLRouter[Context, None]):
    """Strawberry's router, held to the GraphQL-over-HTTP specification: POST with a JSON body
    only (GET serves GraphiQL in development and nothing else), one operation per request,
    answers in the negotiated media type with its status codes, and cross-site requests signed
    in by cookie refused before anything runs."""

    def __init__(
        self,
        schema: BaseSchema,
        settings: Settings,
        context_getter: Callable[[], Awaitable[Context]],
    ) -> None:
        super().__init__(
            schema,
            context_getter=context_getter,
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=False,
            subscription_protocols=(),
        )
        self.production = settings.production
        self.cookie_requests = CookieRequests(settings)
        self._new_context = context_getter

    async def answer_post(self, request: Request) -> Response:
        """The answer to a POST, as the route Strawberry adds to FastAPI gives it, without
        FastAPI's routing and dependency solving, which cost a tenth of an ad-hoc `me`
        (docs/performance.md): the same context, sub-response and background tasks, and
        the same plain-text answer to an HTTP refusal. Called at the edge
        (api/documents/edge.py)."""
        sub_response = Response()
        del sub_response.headers["content-length"]
        sub_response.status_code = None  # type: ignore[assignment]  # as FastAPI makes it
        tasks = BackgroundTasks()
        context = await self._new_context()
        context.request, context.response, context.background_tasks = request, sub_response, tasks
        request.state.sub_response = sub_response  # see get_sub_response
        try:
            response = await self.run(request=request, context=context, root_value=None)
        except HTTPException as refused:
            response = PlainTextResponse(refused.reason, status_code=refused.status_code)
        assert isinstance(response, Response)
        if tasks.tasks and response.background is None:
            response.background = tasks  # run after the answer is sent, as FastAPI does
        return response

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        if self.is_websocket_request(request):
            return await self.reject_websocket(request)  # there are no subscriptions
        request = cast("Request", request)
        media_type = negotiate(request.headers.get("accept"))
        early = self._early_refusal(request, media_type)
        if early is not None:
            return early
        if request.method in ("GET", "HEAD"):
            return await self.render_graphql_ide(request)
        assert media_type is not None
        token = _answer_as.set(media_type)
        try:
            return await super().run(request, context, root_value)
        except OperationRefused as refused:
            status = failure_status(media_type, [refused.code])
            return refusal(status, refused.reason, refused.code, media_type)
        except HTTPException as refused:
            return refusal(
                refused.status_code, _without_echo(refused.reason), media_type=media_type
            )
        finally:
            _answer_as.reset(token)

    async def get_sub_response(self, request: Request) -> Response:
        """The request's own sub-response when answer_post made it (Strawberry's FastAPI route
        keeps the latest one on the router, shared by every request in flight)."""
        own: Response | None = getattr(request.state, "sub_response", None)
        return own if own is not None else await super().get_sub_response(request)

    def _early_refusal(self, request: Request, media_type: str | None) -> Response | None:
        """Refusals decided from the method and headers alone, in the order a client can act
        on them: method, cross-site cookie, body media type, answer media type."""
        reply_as = media_type or JSON
        if request.method in ("GET", "HEAD"):
            if not self.production and self.should_render_graphql_ide(
                self.request_adapter_class(request)
            ):
                return None
            allow = "POST" if self.production else "GET, POST"
            return refusal(
                405,
                "Send GraphQL operations by POST with a JSON body.",
                media_type=reply_as,
                headers={"Allow": allow},
            )
        cross_site = self.cookie_requests.refusal(request)
        if cross_site is not None:
            return refusal(403, cross_site, "FORBIDDEN", reply_as)
        content_type, charset = _content_type(request.headers.get("content-type", ""))
        if content_type != JSON or charset != "utf-8":
            return refusal(
                415, "Send the request as application/json (UTF-8).", media_type=reply_as
            )
        if media_type is None:
            return refusal(
                406,
                f"This endpoint answers in {GRAPHQL_RESPONSE} or {JSON}; Accept allows neither.",
            )
        return None

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:  # type: ignore[override]
        try:
            body = json.loads(await request.get_body())
        except (ValueError, RecursionError):
            raise HTTPException(400, "The request body is not valid JSON.") from None
        if isinstance(body, list):
            raise HTTPException(
                400,
                "Batched requests (a JSON array) are not accepted: send one operation a request.",
            )
        if not isinstance(body, dict):
            raise HTTPException(
                400, 'The request body must be a JSON object such as {"query": "..."}.'
            )
        return await self.request_data(body)

    async def request_data(self, body: dict[str, Any]) -> GraphQLRequestData:
        """The operation a request body (a JSON object) asks for; its fields are checked."""
        query, variables = body.get("query"), body.get("variables")
        name, extensions = body.get("operationName"), body.get("extensions")
        for key, value, kind in [
            ("query", query, str),
            ("operationName", name, str),
            ("variables", variables, dict),
            ("extensions", extensions, dict),
        ]:
            if value is not None and not isinstance(value, kind):
                expected = "a string" if kind is str else "an object"
                raise HTTPException(400, f"`{key}` must be {expected} or null.")
        operation_name.set(loggable_operation_name(name, query))
        return GraphQLRequestData(
            query=query,
            variables=variables,
            operation_name=name,
            extensions=extensions,
            protocol="http",
        )

    def encode_json(self, data: object) -> bytes:
        # orjson, as the prepared answers: the standard library's encoder was about 1/60 of an
        # ad-hoc `me`'s CPU (bench/sample_profile.py).
        return orjson.dumps(data)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        assert not isinstance(response_data, list), "batches are refused while parsing"
        response = super().create_response(response_data, sub_response)
        media_type = _answer_as.get()
        response.status_code = response_status(media_type, cast("dict[str, Any]", response_data))
        response.headers["content-type"] = media_type
        return response
