"""requestAccountDeletion and confirmAccountDeletion: erase me, after a confirmation by e-mail."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.requests import DataSubjectRequest
from api.errors import UserError, from_domain
from api.permissions import IsCustomer, customer_session
from domain import erasure
from domain.errors import DomainError


@strawberry.input
class RequestAccountDeletionInput:
    password: str


@strawberry.type
class RequestAccountDeletionPayload:
    request: DataSubjectRequest | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description=(
        "Ask for the account and everything held about you to be erased. A single-use code "
        "(valid 24 hours) is e-mailed; confirmAccountDeletion with it erases."
    ),
    permission_classes=[IsCustomer],
)
async def request_account_deletion(
    info: Info[Context, Any], input: RequestAccountDeletionInput
) -> RequestAccountDeletionPayload:
    session = await customer_session(info)
    try:
        request = await erasure.request_account_deletion(info.context.deps, session, input.password)
    except DomainError as error:
        return RequestAccountDeletionPayload(errors=from_domain(error))
    return RequestAccountDeletionPayload(request=DataSubjectRequest.of(request))


@strawberry.input
class ConfirmAccountDeletionInput:
    token: str


@strawberry.type
class ConfirmAccountDeletionPayload:
    deleted: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description=(
        "Erase the account the code was sent for. Only the consent ledger and the request "
        "records remain, as pseudonymous evidence."
    )
)
async def confirm_account_deletion(
    info: Info[Context, Any], input: ConfirmAccountDeletionInput
) -> ConfirmAccountDeletionPayload:
    try:
        await erasure.confirm_account_deletion(info.context.deps, input.token, info.context.client)
    except DomainError as error:
        return ConfirmAccountDeletionPayload(errors=from_domain(error))
    info.context.clear_session_cookie()
    return ConfirmAccountDeletionPayload(deleted=True)
