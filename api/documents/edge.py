"""GraphQL at the edge of the app: a POST to /graphql that names a prepared trusted document, or
sends a text in the prepared subset, is answered here, before FastAPI routes the request and
solves its dependencies and before Strawberry's view runs (api/documents/router.py says what is
prepared and when the general path answers instead); any other POST goes to Strawberry's view
directly, without FastAPI's routing (GraphQLOverHTTP.answer_post).

It sits innermost among the app's own middleware, so the request id and access event, metrics,
security headers, CORS and the body limit apply to its answers as to every other. What it
skips costs more than the prepared answer itself: on one worker under load, moving it here from
the GraphQL route took a trusted `me` from about 1.0 to about 0.6 ms of CPU per request
(docs/performance.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.documents.router import TrustedDocumentsRouter


class GraphQLEdge:
    def __init__(self, app: ASGIApp, router: TrustedDocumentsRouter, path: str) -> None:
        self.app = app
        self.router = router
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        # The body limit outside has read the whole body and hands it over in one message.
        first = await receive()
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        if first["type"] == "http.request" and not first.get("more_body", False):
            # One request for both paths: the body read by the first is kept for the second.
            request = Request(scope, replay)
            answer = await self.router.prepared_answer(request)
            if answer is None:
                answer = await self.router.answer_post(request)
            await answer(scope, receive, send)
            return
        await self.app(scope, replay, send)
