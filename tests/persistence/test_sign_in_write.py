"""A sign-in's write (the session and the sign-in event; one statement on PostgreSQL, a
transaction on SQLite): written only while the password is the one checked, and in turn with a
transaction that holds the customer, as a unit of work that locks the customer would be."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dependencies import Dependencies
from domain.identity.model import ClientInfo, Session, SignInEvent, open_session
from persistence.tables import customers, sessions, sign_in_events
from tests.api.helpers import register
from tests.graphql import GraphQLClient

# Long enough for the write to reach PostgreSQL and wait for the lock.
SETTLE = 0.3


async def _ada(client: GraphQLClient, engine: AsyncEngine) -> tuple[uuid.UUID, str]:
    """Ada registered: her id and her stored password hash."""
    _, customer = await register(client)
    ada = uuid.UUID(customer["id"])
    async with engine.connect() as conn:
        stored = await conn.scalar(select(customers.c.password_hash))
    return ada, str(stored)


def _sign_in(deps: Dependencies, customer_id: uuid.UUID) -> tuple[Session, SignInEvent]:
    now = deps.clock.now()
    _, session = open_session(customer_id, now, deps.sessions)
    client = ClientInfo(ip="203.0.113.9", user_agent="a browser " + "x" * 600)
    return session, SignInEvent(uuid.uuid4(), customer_id, now, client.ip, client.user_agent)


async def _written(engine: AsyncEngine, customer_id: uuid.UUID) -> tuple[int, int]:
    async with engine.connect() as conn:
        count = select(func.count())
        found = await conn.scalar(count.where(sessions.c.customer_id == customer_id))
        logged = await conn.scalar(count.where(sign_in_events.c.customer_id == customer_id))
    return int(found or 0), int(logged or 0)


async def test_the_session_and_its_event_are_written_while_the_password_is_unchanged(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    ada, stored = await _ada(client, engine)
    before = await _written(engine, ada)
    session, event = _sign_in(deps, ada)
    # a hash other than the stored one writes nothing
    assert not await deps.unit_of_work.start_session(stored + "x", session, event)
    assert await _written(engine, ada) == before
    # nor does a customer who is not there
    other, other_event = _sign_in(deps, uuid.uuid4())
    assert not await deps.unit_of_work.start_session(stored, other, other_event)
    # the stored hash writes both, as the repositories would have
    assert await deps.unit_of_work.start_session(stored, session, event)
    assert await _written(engine, ada) == (before[0] + 1, before[1] + 1)
    async with deps.unit_of_work() as uow:
        assert await uow.sessions.get_by_token_hash(session.token_hash) == session
        logged = [e async for e in uow.exports.sign_ins(ada)]
    # the user agent cut to its column's 512 characters, as the repository cuts it
    assert logged[-1] == SignInEvent(
        event.id, ada, event.occurred_at, event.ip, (event.user_agent or "")[:512]
    )


@pytest.mark.parametrize("change", ["password", "name"])
async def test_a_transaction_holding_the_customer_is_waited_for_then_its_write_decides(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine, change: str
) -> None:
    # given a transaction that holds Ada's row, as a password change or a profile update does
    ada, stored = await _ada(client, engine)
    before = await _written(engine, ada)
    session, event = _sign_in(deps, ada)
    async with engine.connect() as holder:
        await holder.begin()
        values = {"password_hash": "changed"} if change == "password" else {"name": "Ada King"}
        await holder.execute(update(customers).where(customers.c.id == ada).values(**values))
        # when a sign-in checked against the stored hash is written meanwhile
        writing = asyncio.create_task(deps.unit_of_work.start_session(stored, session, event))
        await asyncio.sleep(SETTLE)
        # then it waits for the transaction
        assert not writing.done()
        await holder.commit()
    started = await asyncio.wait_for(writing, timeout=10)
    # and writes only if the password is still the one checked
    assert started is (change == "name")
    expected = (before[0] + 1, before[1] + 1) if started else before
    assert await _written(engine, ada) == expected
