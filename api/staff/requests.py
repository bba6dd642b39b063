"""The privacy officer's work queue and the GraphQL twins of `datarights requests …`: the same
use cases, the same rules. The queue shows no personal data; reading the customer behind a
request takes customerRecord, with a reason."""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.consent import (
    CommunicationChoice,
    CommunicationPreference,
    SharingChoice,
    SharingPreference,
    communication_preferences,
    sharing_preferences,
)
from api.customer.requests import RequestChannel, RequestStatus, RequestType
from api.errors import UserError, bad_request, from_domain
from api.pagination import PageInfo, encode_cursor, page_info
from api.permissions import StaffMay, staff_actor
from api.staff.records import parse_id
from domain.errors import DomainError
from domain.requests import model
from domain.requests import use_cases as requests
from domain.staff import use_cases as staff
from domain.staff.model import Permission
from domain.staff.use_cases import NotPermitted

HANDLE = [StaffMay(Permission.HANDLE_REQUESTS)]


@strawberry.type(description="A request in the work queue: no personal data, only its clock.")
class QueuedRequest:
    id: strawberry.ID
    customer_id: strawberry.ID = strawberry.field(
        description="Opaque; read the customer with customerRecord (logged, with a reason)."
    )
    type: RequestType  # type: ignore[valid-type]
    channel: RequestChannel  # type: ignore[valid-type]
    status: RequestStatus  # type: ignore[valid-type]
    received_at: datetime.datetime
    acknowledged_at: datetime.datetime | None
    identity_verified_at: datetime.datetime | None
    clock_paused: bool
    due_at: datetime.datetime | None
    original_due_at: datetime.datetime | None
    extended: bool
    overdue: bool
    completed_at: datetime.datetime | None

    @classmethod
    def of(cls, request: model.DataSubjectRequest, now: datetime.datetime) -> QueuedRequest:
        return cls(
            id=strawberry.ID(str(request.id)),
            customer_id=strawberry.ID(str(request.customer_id)),
            type=request.type,
            channel=request.channel,
            status=request.status,
            received_at=request.received_at,
            acknowledged_at=request.acknowledged_at,
            identity_verified_at=request.identity_verified_at,
            clock_paused=request.clock_paused,
            due_at=request.due_at,
            original_due_at=request.original_due_at,
            extended=request.extended,
            overdue=request.overdue(now),
            completed_at=request.completed_at,
        )


@strawberry.type
class QueuedRequestEdge:
    cursor: str
    node: QueuedRequest


@strawberry.type(description="Every customer's requests, oldest first.")
class QueuedRequestConnection:
    edges: list[QueuedRequestEdge]
    page_info: PageInfo


@strawberry.field(
    description="The work queue of data-subject requests, oldest first (at most 100 a page). "
    "`overdue: true` keeps only unfinished requests past their due date.",
    permission_classes=HANDLE,
)
async def requests_queue(
    info: Info[Context, Any],
    status: RequestStatus | None = None,  # type: ignore[valid-type]
    overdue: bool = False,
    first: int = 20,
    after: str | None = None,
) -> QueuedRequestConnection:
    deps = info.context.deps
    position = info.context.cursor("queue", after)
    try:
        found = await requests.request_queue(
            deps, model.RequestStatus(status) if status else None, overdue, first, position
        )
    except DomainError as error:
        raise bad_request(error.problems[0].message) from None
    page, more = found[:first], len(found) > first
    now = deps.clock.now()
    edges = [
        QueuedRequestEdge(cursor=encode_cursor("queue", seq), node=QueuedRequest.of(r, now))
        for seq, r in page
    ]
    return QueuedRequestConnection(
        edges=edges, page_info=page_info([e.cursor for e in edges], more)
    )


@strawberry.type
class HandleRequestPayload:
    request: QueuedRequest | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def _handled(info: Info[Context, Any], work: Any) -> HandleRequestPayload:
    try:
        request = await work
    except DomainError as error:
        return HandleRequestPayload(errors=from_domain(error))
    return HandleRequestPayload(request=QueuedRequest.of(request, info.context.deps.clock.now()))


@strawberry.input
class RecordEmailRequestInput:
    customer_id: strawberry.ID
    type: RequestType  # type: ignore[valid-type]
    received_at: datetime.datetime = strawberry.field(
        description="When the e-mail arrived (with its offset)."
    )
    note: str | None = None


@strawberry.mutation(
    description="Record a request that arrived by e-mail. Its clock waits until the sender's "
    "identity is verified; the customer is told it was received.",
    permission_classes=HANDLE,
)
async def record_email_request(
    info: Info[Context, Any], input: RecordEmailRequestInput
) -> HandleRequestPayload:
    customer = parse_id(input.customer_id)
    return await _handled(
        info,
        requests.record_email_request_for(
            info.context.deps,
            customer,
            model.RequestType(input.type),
            input.received_at,
            input.note,
        ),
    )


@strawberry.input
class VerifyRequestIdentityInput:
    id: strawberry.ID
    method: str = strawberry.field(description="How, e.g. 'reply from the account address'.")


@strawberry.mutation(
    description="The sender is the customer: the request's clock starts now.",
    permission_classes=HANDLE,
)
async def verify_request_identity(
    info: Info[Context, Any], input: VerifyRequestIdentityInput
) -> HandleRequestPayload:
    request_id = parse_id(input.id, "request")
    return await _handled(
        info, requests.verify_identity(info.context.deps, request_id, input.method)
    )


@strawberry.input
class ExtendRequestInput:
    id: strawberry.ID
    new_due_at: datetime.datetime
    reason: str = strawberry.field(description="Shown to the customer.")


@strawberry.mutation(
    description="Extend once, by at most two further months, before the due date.",
    permission_classes=HANDLE,
)
async def extend_request(
    info: Info[Context, Any], input: ExtendRequestInput
) -> HandleRequestPayload:
    request_id = parse_id(input.id, "request")
    return await _handled(
        info,
        requests.extend_request(info.context.deps, request_id, input.new_due_at, input.reason),
    )


@strawberry.input
class RejectRequestInput:
    id: strawberry.ID
    reason: str = strawberry.field(description="Sent to the customer with their right to complain.")


@strawberry.mutation(description="Refuse a request, saying why.", permission_classes=HANDLE)
async def reject_request(
    info: Info[Context, Any], input: RejectRequestInput
) -> HandleRequestPayload:
    request_id = parse_id(input.id, "request")
    return await _handled(
        info, requests.reject_request(info.context.deps, request_id, input.reason)
    )


@strawberry.input
class CompleteRequestInput:
    id: strawberry.ID


@strawberry.mutation(description="The request is done.", permission_classes=HANDLE)
async def complete_request(
    info: Info[Context, Any], input: CompleteRequestInput
) -> HandleRequestPayload:
    request_id = parse_id(input.id, "request")
    return await _handled(info, requests.complete_request(info.context.deps, request_id))


@strawberry.input
class CancelRequestInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.mutation(description="The customer withdrew the request.", permission_classes=HANDLE)
async def cancel_request(
    info: Info[Context, Any], input: CancelRequestInput
) -> HandleRequestPayload:
    request_id = parse_id(input.id, "request")
    return await _handled(
        info, requests.cancel_request(info.context.deps, request_id, input.reason)
    )


@strawberry.input
class ChangeCustomerPreferencesInput:
    request_id: strawberry.ID = strawberry.field(
        description="The consent-change or objection request, received by e-mail and verified."
    )
    communication: list[CommunicationChoice] = strawberry.field(default_factory=list)
    sharing: list[SharingChoice] = strawberry.field(default_factory=list)


@strawberry.type
class ChangeCustomerPreferencesPayload:
    communication_preferences: list[CommunicationPreference] | None = None
    sharing_preferences: list[SharingPreference] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description="Change a customer's choices as they asked by e-mail. The ledger names actor "
    "STAFF, source EMAIL_REQUEST and the request; the customer's access log shows the change.",
    permission_classes=[StaffMay(Permission.CHANGE_PREFERENCES)],
)
async def change_customer_preferences(
    info: Info[Context, Any], input: ChangeCustomerPreferencesInput
) -> ChangeCustomerPreferencesPayload:
    actor = await staff_actor(info)
    request_id = parse_id(input.request_id, "request")
    try:
        states = await staff.change_preferences_on_request(
            info.context.deps,
            actor,
            request_id,
            [(choice.topic, choice.subscribed) for choice in input.communication],
            [(choice.purpose, choice.granted) for choice in input.sharing],
        )
    except DomainError as error:
        return ChangeCustomerPreferencesPayload(errors=from_domain(error))
    except NotPermitted as error:  # the permission class refuses first; kept as a second lock
        raise bad_request(str(error)) from None
    return ChangeCustomerPreferencesPayload(
        communication_preferences=communication_preferences(states),
        sharing_preferences=sharing_preferences(states),
    )
