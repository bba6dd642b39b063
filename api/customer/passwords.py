"""changePassword, requestPasswordReset, resetPassword and verifyEmail."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import UserError, from_domain
from api.permissions import IsCustomer, customer_session
from domain.errors import DomainError
from domain.identity import use_cases


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.type
class ChangePasswordPayload:
    changed: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description="Change the password; every other session is signed out and the address told.",
    permission_classes=[IsCustomer],
)
async def change_password(
    info: Info[Context, Any], input: ChangePasswordInput
) -> ChangePasswordPayload:
    session = await customer_session(info)
    try:
        await use_cases.change_password(
            info.context.deps, session, input.current_password, input.new_password
        )
    except DomainError as error:
        return ChangePasswordPayload(errors=from_domain(error))
    return ChangePasswordPayload(changed=True)


@strawberry.input
class RequestPasswordResetInput:
    email: str


@strawberry.type(description="The same answer whether or not the address has an account.")
class RequestPasswordResetPayload:
    accepted: bool = True
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description=(
        "E-mail a single-use, expiring reset code if the address has an account. The answer "
        "does not say whether it has. Too many requests from one IP are refused (a top-level "
        "RATE_LIMITED error, whatever the address)."
    )
)
async def request_password_reset(
    info: Info[Context, Any], input: RequestPasswordResetInput
) -> RequestPasswordResetPayload:
    context = info.context
    assert context.background_tasks is not None
    send = await use_cases.request_password_reset(context.deps, input.email, context.client)
    # Sent after the response, so that its duration cannot tell whether the address has an
    # account.
    context.background_tasks.add_task(send)
    return RequestPasswordResetPayload()


@strawberry.input
class ResetPasswordInput:
    token: str
    new_password: str


@strawberry.type
class ResetPasswordPayload:
    reset: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description="Set a new password with an e-mailed code; every session is signed out."
)
async def reset_password(
    info: Info[Context, Any], input: ResetPasswordInput
) -> ResetPasswordPayload:
    try:
        await use_cases.reset_password(
            info.context.deps, input.token, input.new_password, info.context.client
        )
    except DomainError as error:
        return ResetPasswordPayload(errors=from_domain(error))
    return ResetPasswordPayload(reset=True)


@strawberry.input
class VerifyEmailInput:
    token: str


@strawberry.type(description="Whether the address is now confirmed; `me.emailVerified` shows it.")
class VerifyEmailPayload:
    verified: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(description="Confirm an e-mail address with the code sent to it.")
async def verify_email(info: Info[Context, Any], input: VerifyEmailInput) -> VerifyEmailPayload:
    try:
        await use_cases.verify_email(info.context.deps, input.token, info.context.client)
    except DomainError as error:
        return VerifyEmailPayload(errors=from_domain(error))
    return VerifyEmailPayload(verified=True)
