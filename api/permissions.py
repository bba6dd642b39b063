"""Who may call what, declared on the field rather than coded in its body."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission
from strawberry.types import Info

from api.context import Context
from domain.identity.model import Session
from domain.partners.model import Partner


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
