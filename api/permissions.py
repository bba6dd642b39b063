"""Who may call what, declared on the field rather than coded in its body."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from api.context import Context
from domain.identity.model import Session


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
