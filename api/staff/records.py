"""findCustomer and customerRecord: staff read a record only for a stated reason, and every
read leaves an access-log entry (written in the same transaction, before anything is returned)
that the customer can see."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.context import Context
from api.customer.access_log import AccessReason
from api.customer.types import Customer
from api.errors import bad_request
from api.permissions import StaffMay, staff_actor
from domain.errors import DomainError
from domain.staff import use_cases as staff
from domain.staff.model import AccessReason as Reason
from domain.staff.model import Permission
from domain.staff.use_cases import NotPermitted

NOTE = "What you are resolving, in a few words (e.g. the ticket number); the customer sees it."


def refused(error: DomainError | NotPermitted) -> GraphQLError:
    """A refused read is a top-level error; nothing was logged or returned."""
    if isinstance(error, NotPermitted):
        return GraphQLError(str(error), extensions={"code": "FORBIDDEN"})
    return bad_request(error.problems[0].message)


def parse_id(value: strawberry.ID, what: str = "customer") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise bad_request(f"That is not a {what} id.") from None


@strawberry.field(
    description="Find a customer by e-mail address, for one of the permitted reasons. The look "
    "is logged (and shown to the customer) before anything is returned; null when nobody has "
    "the address.",
    permission_classes=[StaffMay(Permission.READ_RECORDS)],
)
async def find_customer(
    info: Info[Context, Any],
    email: str,
    reason: AccessReason,  # type: ignore[valid-type]
    note: Annotated[str, strawberry.argument(description=NOTE)],
) -> Customer | None:
    actor = await staff_actor(info)
    try:
        found = await staff.find_customer(info.context.deps, actor, email, Reason(reason), note)
    except (DomainError, NotPermitted) as error:
        raise refused(error) from None
    return Customer.of(found) if found else None


@strawberry.field(
    description="A customer's record, for one of the permitted reasons. The look is logged "
    "(and shown to the customer) before anything is returned; null for an unknown id.",
    permission_classes=[StaffMay(Permission.READ_RECORDS)],
)
async def customer_record(
    info: Info[Context, Any],
    customer_id: strawberry.ID,
    reason: AccessReason,  # type: ignore[valid-type]
    note: Annotated[str, strawberry.argument(description=NOTE)],
) -> Customer | None:
    actor = await staff_actor(info)
    customer = parse_id(customer_id)
    try:
        found = await staff.customer_record(
            info.context.deps, actor, customer, Reason(reason), note
        )
    except (DomainError, NotPermitted) as error:
        raise refused(error) from None
    return Customer.of(found) if found else None
