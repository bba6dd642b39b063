"""The customer's data-subject requests, with their legal clock."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.consent import ConsentActor
from api.errors import bad_request
from api.pagination import PageInfo, encode_cursor, page_info
from domain.errors import DomainError
from domain.requests import model
from domain.requests import use_cases as requests

RequestType = strawberry.enum(model.RequestType, name="RequestType")
RequestChannel = strawberry.enum(model.Channel, name="RequestChannel")
RequestStatus = strawberry.enum(model.RequestStatus, name="RequestStatus")


@strawberry.type
class RequestStatusChange:
    status: RequestStatus  # type: ignore[valid-type]
    at: datetime.datetime
    actor: ConsentActor  # type: ignore[valid-type]
    reason: str | None


@strawberry.type(description="A data-subject request and where it stands against its deadline.")
class DataSubjectRequest:
    id: strawberry.ID
    type: RequestType  # type: ignore[valid-type]
    channel: RequestChannel  # type: ignore[valid-type]
    status: RequestStatus  # type: ignore[valid-type]
    received_at: datetime.datetime
    acknowledged_at: datetime.datetime | None
    due_at: datetime.datetime | None = strawberry.field(
        description="The legal deadline; null while the clock is paused."
    )
    clock_paused: bool = strawberry.field(
        description="True while we wait to confirm the request comes from you."
    )
    original_due_at: datetime.datetime | None
    extension_reason: str | None
    rejection_reason: str | None
    complaint_notice: str | None = strawberry.field(
        description="Your right to complain to a supervisory authority, when we refused."
    )
    completed_at: datetime.datetime | None
    history: list[RequestStatusChange]

    @classmethod
    def of(cls, request: model.DataSubjectRequest) -> DataSubjectRequest:
        return cls(
            id=strawberry.ID(str(request.id)),
            type=request.type,
            channel=request.channel,
            status=request.status,
            received_at=request.received_at,
            acknowledged_at=request.acknowledged_at,
            due_at=request.due_at,
            clock_paused=request.clock_paused,
            original_due_at=request.original_due_at,
            extension_reason=request.extension_reason,
            rejection_reason=request.rejection_reason,
            complaint_notice=model.COMPLAINT_NOTICE if request.rejection_reason else None,
            completed_at=request.completed_at,
            history=[
                RequestStatusChange(status=c.status, at=c.at, actor=c.actor, reason=c.reason)
                for c in request.history
            ],
        )


@strawberry.type
class DataSubjectRequestEdge:
    cursor: str
    node: DataSubjectRequest


@strawberry.type(description="The customer's requests, newest first.")
class DataSubjectRequestConnection:
    edges: list[DataSubjectRequestEdge]
    page_info: PageInfo


async def customer_requests(
    info: Info[Context, Any], customer_id: uuid.UUID, first: int, after: str | None
) -> DataSubjectRequestConnection:
    before = info.context.cursor("request", after)
    try:
        found = await requests.customer_requests(info.context.deps, customer_id, first, before)
    except DomainError as error:
        raise bad_request(error.problems[0].message) from None
    page, more = found[:first], len(found) > first
    edges = [
        DataSubjectRequestEdge(cursor=encode_cursor("request", seq), node=DataSubjectRequest.of(r))
        for seq, r in page
    ]
    return DataSubjectRequestConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], more),
    )
