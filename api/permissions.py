"""Who may call what, declared on the field rather than coded in its body."""

from __future__ import annotations

import functools
from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission
from strawberry.types import Info

from api.context import Context
from domain.identity.model import Session
from domain.partners.model import Partner
from domain.staff.model import Permission, StaffActor, looks_like_staff_token


class IsCustomer(BasePermission):
    """The caller holds a live customer session (cookie or bearer token)."""

    message = "Sign in to do this."
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        return await info.context.session() is not None


async def customer_session(info: Info[Context, Any]) -> Session:
    """The session that :class:`IsCustomer` has already checked."""
    session = await info.context.session()
    assert session is not None, "use with IsCustomer"
    return session


class IsPartner(BasePermission):
    """The caller presents a live partner API key. A customer session is not enough."""

    message = "Authenticate with a partner API key (Authorization: Bearer drp_...)."
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        if await info.context.partner() is not None:
            return True
        if await info.context.session() is not None:
            raise GraphQLError(
                "Partner fields are not for customer sessions.",
                extensions={"code": "FORBIDDEN"},
            )
        return False


async def calling_partner(info: Info[Context, Any]) -> Partner:
    """The partner that :class:`IsPartner` has already checked."""
    partner = await info.context.partner()
    assert partner is not None, "use with IsPartner"
    return partner


class _StaffPermission(BasePermission):
    """The caller is a signed-in member of staff whose role allows ``permission``. Anyone else
    is refused before the resolver runs, so nothing is read or written: a customer session or
    a partner key is FORBIDDEN, no token (or an ended staff session) UNAUTHENTICATED."""

    permission: Permission
    error_extensions = {"code": "FORBIDDEN"}

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        actor = await info.context.staff()
        if actor is not None:
            return actor.member.may(self.permission)
        token = info.context.token
        if token is None or looks_like_staff_token(token):
            raise GraphQLError(
                "Sign in as staff (staffLogin) and send the token as Authorization: Bearer.",
                extensions={"code": "UNAUTHENTICATED"},
            )
        raise GraphQLError(
            "Staff fields are not for customer sessions or partner keys.",
            extensions={"code": "FORBIDDEN"},
        )


@functools.cache
def StaffMay(permission: Permission) -> type[BasePermission]:
    """The permission class for staff whose role allows ``permission``."""
    words = permission.value.lower().replace("_", " ")
    return type(
        f"StaffMay{permission.value.title().replace('_', '')}",
        (_StaffPermission,),
        {"permission": permission, "message": f"Your staff role may not do this ({words})."},
    )


async def staff_actor(info: Info[Context, Any]) -> StaffActor:
    """The member of staff that :class:`StaffMay` has already checked."""
    actor = await info.context.staff()
    assert actor is not None, "use with StaffMay"
    return actor
