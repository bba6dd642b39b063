"""requestDataExport, and the route that streams the copy to the signed-in customer."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import strawberry
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from strawberry.types import Info

from api.context import Context, request_token
from api.customer.requests import DataSubjectRequest
from api.errors import UserError
from api.permissions import IsCustomer, customer_session
from domain import export
from domain.dependencies import Dependencies
from domain.errors import DomainError
from domain.identity import use_cases as identity
from domain.partners.model import looks_like_api_key
from domain.ports import DataExport as DomainExport


@strawberry.type(description="A copy of your data, downloadable until it expires.")
class DataExport:
    id: strawberry.ID
    expires_at: datetime.datetime
    download_url: str = strawberry.field(
        description="GET it with your session (cookie or bearer token); JSON, as an attachment."
    )


@strawberry.type
class RequestDataExportPayload:
    export: DataExport | None = None
    request: DataSubjectRequest | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description=(
        "Take a copy of everything held about you (an ACCESS request, answered at once). "
        "Download it from `export.downloadUrl`; its structure is docs/export.schema.json."
    ),
    permission_classes=[IsCustomer],
)
async def request_data_export(info: Info[Context, Any]) -> RequestDataExportPayload:
    context = info.context
    session = await customer_session(info)
    keep_for = timedelta(days=context.settings.export_retention_days)
    opened = await export.request_data_export(context.deps, session, keep_for)
    return RequestDataExportPayload(
        export=DataExport(
            id=strawberry.ID(str(opened.export.id)),
            expires_at=opened.export.expires_at,
            download_url=f"/exports/{opened.export.id}",
        ),
        request=DataSubjectRequest.of(opened.request),
    )


def export_routes(deps: Dependencies, cookie_name: str) -> APIRouter:
    """GET /exports/{id}: the document, streamed, for its own customer only."""
    router = APIRouter()

    @router.get("/exports/{export_id}", include_in_schema=False)
    async def download(export_id: str, request: Request) -> StreamingResponse:
        token = request_token(request, cookie_name)
        session = None
        if token and not looks_like_api_key(token):
            session = await identity.authenticate(deps, token)
        if session is None:
            raise HTTPException(401, "Sign in to download your data.")
        try:
            found = await export.open_export(deps, session, uuid.UUID(export_id))
        except (ValueError, DomainError):
            # Another customer's export is indistinguishable from one that does not exist.
            raise HTTPException(404, "There is no such export, or it expired.") from None
        filename = f"datarights-export-{found.created_at:%Y%m%d}.json"
        return StreamingResponse(
            _document(deps, found),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    return router


_CHUNK = 64 * 1024


async def _document(deps: Dependencies, found: DomainExport) -> AsyncIterator[bytes]:
    """The JSON document, written as it is read: one section, one list item at a time. Only a
    document sent in full answers the request; a failure half-way leaves it open."""
    async with deps.unit_of_work() as uow:
        yield b"{"
        first = True
        sections = export.export_sections(uow, found.customer_id, deps.clock.now())
        async for name, value in sections:
            yield (b"" if first else b",") + json.dumps(name).encode() + b":"
            first = False
            if hasattr(value, "__aiter__"):
                # Items are gathered into chunks of about 64 KiB: one write per item costs
                # more than encoding it.
                chunk: list[bytes] = [b"["]
                size = 0
                separator = b""
                async for item in value:
                    encoded = separator + json.dumps(item, ensure_ascii=False).encode()
                    separator = b","
                    chunk.append(encoded)
                    size += len(encoded)
                    if size >= _CHUNK:
                        yield b"".join(chunk)
                        chunk, size = [], 0
                chunk.append(b"]")
                yield b"".join(chunk)
            else:
                yield json.dumps(value, ensure_ascii=False).encode()
        yield b"}"
    await export.export_delivered(deps, found)
