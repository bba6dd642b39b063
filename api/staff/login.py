"""staffLogin and staffLogout: password plus a TOTP code; bearer tokens only."""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.access_log import StaffRole
from api.errors import UserError, from_domain
from domain.errors import DomainError
from domain.staff import model
from domain.staff import use_cases as staff


@strawberry.type(description="The signed-in member of staff.")
class StaffMember:
    reference: str = strawberry.field(
        description="The stable pseudonym customers see in their access log."
    )
    email: str
    role: StaffRole

    @classmethod
    def of(cls, member: model.StaffMember) -> StaffMember:
        return cls(reference=member.reference, email=member.email, role=member.role)


@strawberry.input
class StaffLoginInput:
    email: str
    password: str
    totp: str = strawberry.field(description="The 6-digit code of the authenticator app.")


@strawberry.type(description="A staff session: send the token as `Authorization: Bearer`.")
class StaffLoginPayload:
    token: str | None = None
    expires_at: datetime.datetime | None = None
    staff: StaffMember | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StaffLogoutPayload:
    ended: bool
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description="Sign in as staff. A wrong password, a wrong or reused code and an unknown or "
    "disabled account all give the same error. Staff sessions end after 15 idle minutes."
)
async def staff_login(info: Info[Context, Any], input: StaffLoginInput) -> StaffLoginPayload:
    context = info.context
    try:
        result = await staff.staff_login(
            context.deps, input.email, input.password, input.totp, context.client
        )
    except DomainError as error:
        return StaffLoginPayload(errors=from_domain(error))
    return StaffLoginPayload(
        token=result.token,
        expires_at=result.actor.session.expires_at,
        staff=StaffMember.of(result.actor.member),
    )


@strawberry.mutation(description="End this staff session; its token stops working at once.")
async def staff_logout(info: Info[Context, Any]) -> StaffLogoutPayload:
    actor = await info.context.staff()
    if actor is None:
        return StaffLogoutPayload(ended=False)
    await staff.staff_logout(info.context.deps, actor)
    return StaffLogoutPayload(ended=True)
