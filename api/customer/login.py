"""login and logout."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.types import Customer
from api.errors import UserError, from_domain
from api.permissions import IsCustomer, customer_session
from domain.errors import DomainError
from domain.identity import use_cases
from domain.identity.use_cases import SignedIn


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.type(description="A new session; the same token is also set as an HttpOnly cookie.")
class LoginPayload:
    token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`, or rely on the cookie."
    )
    customer: Customer | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ended: bool
    errors: list[UserError] = strawberry.field(default_factory=list)


def signed_in(
    context: Context, result: SignedIn, payload: type[LoginPayload] = LoginPayload
) -> Any:
    context.set_session_cookie(result.token)
    return payload(token=result.token, customer=Customer.of(result.customer))


@strawberry.mutation(
    description="Sign in. A wrong password and an unknown address give the same error."
)
async def login(info: Info[Context, Any], input: LoginInput) -> LoginPayload:
    context = info.context
    try:
        result = await use_cases.login(context.deps, input.email, input.password, context.client)
    except DomainError as error:
        return LoginPayload(errors=from_domain(error))
    return signed_in(context, result)


@strawberry.mutation(
    description="End this session; its token stops working at once.",
    permission_classes=[IsCustomer],
)
async def logout(info: Info[Context, Any]) -> LogoutPayload:
    await use_cases.logout(info.context.deps, await customer_session(info))
    info.context.forget_session()
    info.context.clear_session_cookie()
    return LogoutPayload(ended=True)
