"""The access log: every look by staff at the customer's record, with its stated reason."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import bad_request
from api.pagination import PageInfo, encode_cursor, page_info
from domain.errors import DomainError
from domain.staff import model
from domain.staff import use_cases as staff

AccessReason = strawberry.enum(
    model.AccessReason,
    description="The only purposes for which staff may view an individual record.",
)
AccessOperation = strawberry.enum(model.AccessOperation, description="What the look was.")
StaffRole = strawberry.enum(model.StaffRole, description="What a member of staff may do.")


@strawberry.type(description="One look by a member of staff at this customer's record.")
class AccessLogEntry:
    occurred_at: datetime.datetime
    reason: AccessReason  # type: ignore[valid-type]
    note: str | None = strawberry.field(
        description="The member of staff's own words; null after the account was erased."
    )
    operation: AccessOperation  # type: ignore[valid-type]
    staff_role: StaffRole  # type: ignore[valid-type]
    staff_reference: str = strawberry.field(
        description="A stable pseudonym of the member of staff (never their name or e-mail)."
    )


@strawberry.type
class AccessLogEdge:
    cursor: str
    node: AccessLogEntry


@strawberry.type
class AccessLogConnection:
    edges: list[AccessLogEdge]
    page_info: PageInfo


async def access_log(
    info: Info[Context, Any], customer_id: uuid.UUID, first: int, after: str | None
) -> AccessLogConnection:
    before = info.context.cursor("access", after)
    try:
        found = await staff.access_log_of(info.context.deps, customer_id, first, before)
    except DomainError as error:
        raise bad_request(error.problems[0].message) from None
    page, more = found[:first], len(found) > first
    edges = [
        AccessLogEdge(
            cursor=encode_cursor("access", entry.id or 0),
            node=AccessLogEntry(
                occurred_at=entry.occurred_at,
                reason=entry.reason,
                note=entry.note,
                operation=entry.operation,
                staff_role=entry.staff_role,
                staff_reference=entry.staff_reference,
            ),
        )
        for entry in page
    ]
    return AccessLogConnection(edges=edges, page_info=page_info([e.cursor for e in edges], more))
