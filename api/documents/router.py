"""Requests by trusted document, and the switch that allows nothing else.

A client names a trusted document instead of sending its text, either as GraphQL over HTTP's
trusted-documents convention (``{"documentId": "sha256:…", "variables": …}``) or as Apollo's
persisted-query extension (``{"extensions": {"persistedQuery": {"version": 1,
"sha256Hash": "…"}}}``). An unknown hash answers Apollo's ``PersistedQueryNotFound`` (code
``PERSISTED_QUERY_NOT_FOUND``). With ``DATARIGHTS_TRUSTED_DOCUMENTS_ONLY`` any other operation
from a customer or an anonymous caller is refused (code ``PERSISTED_QUERY_REQUIRED``);
partners and staff are exempt unless their settings say otherwise.

A trusted document in the prepared subset of `me` or `consentStates` (api/documents/prepared.py)
is answered here, before Strawberry: one read, direct JSON. So is an operation sent as text that
is in that subset and passes the schema's validation and the limits (planned once per text,
api/documents/store.py; ``DATARIGHTS_PREPARE_TEXTS``), unless only trusted documents may run for
its caller. Whenever that path could differ from the general one (the session must be ended or
touched, a GPC episode starts or ends, anything unusual in the request, or any fault at all,
which the general path then meets and masks) the request goes on to the general path as if the
prepared one did not exist."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult

from api.availability import UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, is_unavailable
from api.context import Context, customer_token, request_token
from api.documents.prepared import PreparedConsentStates, PreparedMe
from api.documents.store import KnownDocument, PreparedTexts, TrustedDocuments
from api.errors import MASKED_MESSAGE
from api.graphql_http import (
    GraphQLOverHTTP,
    OperationRefused,
    loggable_operation_name,
    negotiate,
)
from api.limits import QueryLimits, limit_errors
from api.logs import operation_name
from api.settings import Settings
from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.documents.model import digest_of, document_hash
from domain.partners import use_cases as partners
from domain.partners.model import looks_like_api_key
from domain.partners.use_cases import PartnerRefused
from domain.profile.signed_in import read_signed_in

log = logging.getLogger("datarights.documents")

NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # Apollo clients look for this message
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
REQUIRED_CODE = "PERSISTED_QUERY_REQUIRED"
REQUIRED_MESSAGE = (
    "This service runs trusted documents only: send the operation's documentId (or Apollo's "
    "persistedQuery extension) instead of its text."
)

# Whether the request being answered names a trusted document (set for every request parsed).
_by_document: ContextVar[bool] = ContextVar("by_trusted_document", default=False)
_PREPARED_KEYS = frozenset({"query", "documentId", "variables", "operationName", "extensions"})


def document_key(body: dict[str, Any]) -> str | None:
    """The hash a request names its document by, as sent; None when it names none."""
    document_id = body.get("documentId")
    if document_id is not None:
        if not isinstance(document_id, str):
            raise OperationRefused("`documentId` must be a string or null.", "BAD_REQUEST")
        return document_id
    extensions = body.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return None
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(digest, str) or persisted.get("version") != 1:
        raise OperationRefused(
            "`extensions.persistedQuery` must be {version: 1, sha256Hash: string}.",
            "BAD_REQUEST",
        )
    return digest


class TrustedDocumentsRouter(GraphQLOverHTTP):
    def __init__(
        self,
        schema: BaseSchema,
        settings: Settings,
        context_getter: Callable[[], Awaitable[Context]],
        deps: Dependencies,
    ) -> None:
        super().__init__(schema, settings, context_getter)
        self.documents = TrustedDocuments(deps)
        self._deps = deps
        self._cookie_name = settings.cookie_name
        self._trusted_only = settings.trusted_documents_only
        self._partners_exempt = settings.trusted_documents_partners_exempt
        self._staff_exempt = settings.trusted_documents_staff_exempt
        self._graphql = schema._schema  # type: ignore[attr-defined]
        self._limits = QueryLimits.of(settings)
        self._texts = PreparedTexts(self._graphql, self._limits) if settings.prepare_texts else None

    async def request_data(self, body: dict[str, Any]) -> GraphQLRequestData:
        _by_document.set(False)
        data = await super().request_data(body)
        key = document_key(body)
        if key is None:
            return data
        digest = digest_of(key)
        if data.query is not None:
            # Apollo sends the text with its hash after a PersistedQueryNotFound: it runs as
            # a trusted document only if it is one.
            if digest is None or document_hash(data.query) != digest:
                raise OperationRefused(
                    "The query is not the document its hash names.", "BAD_REQUEST"
                )
            _by_document.set(await self._find(digest) is not None)
            return data
        known = await self._find(digest) if digest else None
        if known is None:
            raise OperationRefused(NOT_FOUND_MESSAGE, NOT_FOUND_CODE)
        _by_document.set(True)
        operation_name.set(loggable_operation_name(data.operation_name, known.text))
        return GraphQLRequestData(
            query=known.text,
            variables=data.variables,
            operation_name=data.operation_name,
            extensions=data.extensions,
            protocol="http",
        )

    async def execute_single(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if self._trusted_only and not _by_document.get() and not await self._exempt(context):
            raise OperationRefused(REQUIRED_MESSAGE, REQUIRED_CODE)
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    async def _find(self, digest: str) -> KnownDocument | None:
        try:
            return await self.documents.find(digest)
        except Exception as error:
            raise _refusal_of(error) from error

    async def _exempt(self, context: Context) -> bool:
        """Whether the caller may send operations that are not trusted documents."""
        try:
            if self._partners_exempt and await context.partner() is not None:
                return True
            return self._staff_exempt and await context.staff() is not None
        except Exception as error:
            raise _refusal_of(error) from error

    async def prepared_answer(self, request: Request) -> Response | None:
        """The answer of the prepared path to a POST, or None to take the general one. Called by
        :class:`api.documents.edge.GraphQLEdge` before the request is routed."""
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None or self._early_refusal(request, media_type) is not None:
            return None
        try:
            body = orjson.loads(await request.body())
            if not isinstance(body, dict) or body.keys() - _PREPARED_KEYS:
                return None
            variables = body.get("variables")
            if not isinstance(variables, dict | None):
                return None
            text = body.get("query")
            known = (
                await self._trusted_document(body)
                if text is None
                else self._planned_text(text, body)
            )
            if known is None:
                return None
            # A text from anyone but an exempt partner is refused when only trusted documents
            # run: the general path refuses it (`me` is a customer's; a consentStates caller
            # that is not a partner takes the general path below anyway).
            refused_texts = self._trusted_only and text is not None
            name = body.get("operationName")
            if known.me is not None and not variables and name in (None, known.me.operation_name):
                if refused_texts:
                    return None
                return await self._answer_me(request, known, known.me, media_type)
            states = known.consent_states
            if states is not None and name in (None, states.operation_name):
                if refused_texts and not self._partners_exempt:
                    return None
                return await self._answer_consent_states(
                    request, known, states, variables or {}, media_type
                )
            return None
        except Exception:
            # The general path meets the same fault, and logs and masks it as it does.
            log.debug("the prepared path gave way to the general one", exc_info=True)
            return None

    async def _trusted_document(self, body: dict[str, Any]) -> KnownDocument | None:
        """The trusted document the body names, if any, with nothing else unusual."""
        extensions = body.get("extensions")
        if extensions is not None and (
            not isinstance(extensions, dict) or extensions.keys() != {"persistedQuery"}
        ):
            return None
        key = document_key(body)
        digest = digest_of(key) if key is not None else None
        return await self.documents.find(digest) if digest is not None else None

    def _planned_text(self, text: object, body: dict[str, Any]) -> KnownDocument | None:
        """The plan of an operation sent as text alone (no document id, no extensions: Apollo's
        text with its hash is a trusted document's, and the general path checks that)."""
        if self._texts is None or not isinstance(text, str):
            return None
        if body.get("documentId") is not None or body.get("extensions") is not None:
            return None
        return self._texts.find(text)

    async def _answer_me(
        self, request: Request, known: KnownDocument, plan: PreparedMe, media_type: str
    ) -> Response | None:
        token = customer_token(request_token(request, self._cookie_name))
        customer = None
        if token:
            # A read that waits in vain for a connection gives way too: the general path is
            # then refused at once, without waiting again (persistence/database.py).
            read = await read_signed_in(self._deps, token, request.headers.get("sec-gpc") == "1")
            if read.writes_due:
                return None
            customer = read.customer
        operation_name.set(loggable_operation_name(known.operation_name, known.text))
        return Response(
            orjson.dumps({"data": plan.data(customer)}), status_code=200, media_type=media_type
        )

    async def _answer_consent_states(
        self,
        request: Request,
        known: KnownDocument,
        plan: PreparedConsentStates,
        variables: dict[str, Any],
        media_type: str,
    ) -> Response | None:
        arguments = plan.arguments(variables)
        if arguments is None or limit_errors(self._graphql, plan.document, variables, self._limits):
            return None
        ids, names = arguments
        try:
            purposes = None if names is None else [SharingPurpose[name] for name in names]
        except KeyError:
            return None
        token = request_token(request, self._cookie_name)
        if not token or not looks_like_api_key(token):
            return None  # IsPartner refuses it on the general path
        partner = await partners.authenticate_partner(self._deps, token)
        if partner is None:
            return None
        try:
            answers = await partners.consent_states(self._deps, partner, ids, purposes)
        except PartnerRefused:
            return None  # refused before anything was written; the general path says why
        operation_name.set(loggable_operation_name(known.operation_name, known.text))
        return Response(
            orjson.dumps({"data": plan.data(answers)}), status_code=200, media_type=media_type
        )


def _refusal_of(error: Exception) -> OperationRefused:
    """A fault met before the operation ran, masked as the schema masks one while it runs."""
    if is_unavailable(error):
        return OperationRefused(UNAVAILABLE_MESSAGE, UNAVAILABLE_CODE)
    log.error("unexpected error before the operation ran", exc_info=error)
    return OperationRefused(MASKED_MESSAGE, "INTERNAL_SERVER_ERROR")
