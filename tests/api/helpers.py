"""Steps many API tests share: register someone, read the outbox, serve an app whose database
fails."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from domain.dependencies import Dependencies
from domain.staff.model import StaffRole
from domain.staff.totp import code_at
from domain.staff.use_cases import NewStaffMember, create_staff
from persistence.tables import outbox_messages
from tests.api.documents import REGISTER
from tests.factories import registration
from tests.graphql import GraphQLClient

STAFF_PASSWORD = "quiet harbour lantern 42 staff"


async def register(client: GraphQLClient, **changes: Any) -> tuple[str, dict[str, Any]]:
    """A registered, signed-in customer: (token, customer). The cookie jar is left empty."""
    data = await client.data(REGISTER, {"input": registration(**changes)})
    payload = data["register"]
    assert payload["errors"] == [], payload["errors"]
    client.forget_cookies()
    return payload["token"], payload["customer"]


async def outbox(engine: AsyncEngine, kind: str | None = None) -> list[dict[str, Any]]:
    """Queued e-mails, oldest first."""
    query = select(outbox_messages).order_by(outbox_messages.c.created_at)
    if kind is not None:
        query = query.where(outbox_messages.c.kind == kind)
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def mailed_token(engine: AsyncEngine, kind: str, to: str) -> str:
    """The code in the latest e-mail of this kind to this address."""
    messages = [m for m in await outbox(engine, kind) if m["recipient"] == to]
    assert messages, f"no {kind} e-mail to {to}"
    match = re.search(r"code: (\S+)", messages[-1]["body"])
    assert match, messages[-1]["body"]
    return match.group(1)


def codes(errors: list[dict[str, Any]]) -> set[tuple[tuple[str, ...] | None, str]]:
    return {(tuple(e["field"]) if e["field"] else None, e["code"]) for e in errors}


STAFF_LOGIN = """
mutation ($input: StaffLoginInput!) {
  staffLogin(input: $input) { token staff { reference role } errors { field code message } }
}
"""


async def staff_member(
    deps: Dependencies, role: StaffRole, email: str | None = None
) -> NewStaffMember:
    """A staff account made as the CLI makes it (password STAFF_PASSWORD)."""
    address = email or f"{role.value.lower()}-{uuid.uuid4().hex[:8]}@staff.example"
    return await create_staff(deps, address, role, STAFF_PASSWORD)


async def staff_token(
    client: GraphQLClient, deps: Dependencies, role: StaffRole = StaffRole.PRIVACY_OFFICER
) -> str:
    """A new member of staff with ``role``, signed in over HTTP: their bearer token."""
    created = await staff_member(deps, role)
    data = await client.data(
        STAFF_LOGIN,
        {
            "input": {
                "email": created.member.email,
                "password": STAFF_PASSWORD,
                "totp": code_at(created.member.totp_secret, deps.clock.now()),
            }
        },
    )
    payload = data["staffLogin"]
    assert payload["errors"] == [], payload["errors"]
    return str(payload["token"])


class BrokenUnitOfWork:
    """A unit of work that fails with a fault of ours, whose message no client may see."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self) -> object:
        raise RuntimeError(self.message)

    def reads(self) -> object:
        raise RuntimeError(self.message)

    async def start_session(self, *args: object) -> bool:
        raise RuntimeError(self.message)


@asynccontextmanager
async def broken_database(
    settings: Settings, deps: Dependencies, message: str, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose every unit of work fails with ``message``."""
    broken = dataclasses.replace(deps, unit_of_work=BrokenUnitOfWork(message))
    transport = httpx.ASGITransport(
        app=create_app(settings, broken), raise_app_exceptions=raise_app_exceptions
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
