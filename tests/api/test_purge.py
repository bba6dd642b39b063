"""`datarights purge`: client addresses are kept for a while, expired things go; twice is safe."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli import main
from domain.consent.model import Actor, ConsentEntry, SharingPurpose, Source
from domain.identity.model import ClientInfo
from persistence.repositories.consent import SqlConsentRepository
from persistence.tables import account_tokens, consent_ledger_context, sessions, sign_in_events
from tests.api.documents import LOGIN
from tests.api.helpers import register
from tests.graphql import GraphQLClient


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.setenv("DATARIGHTS_DATABASE_URL", database_url)

    async def run(*args: str) -> tuple[int, str]:
        code = await asyncio.to_thread(main, list(args))
        return code, capsys.readouterr().out

    return run


async def test_purge_forgets_old_client_data_and_expired_sessions_and_tokens_once(
    client: GraphQLClient, engine: AsyncEngine, cli: Any
) -> None:
    # given a customer signed in twice: one sign-in 100 days ago, one now
    _, customer = await register(client)
    await client.data(
        LOGIN, {"input": {"email": "ada@example.com", "password": "correct horse battery staple"}}
    )
    long_ago = datetime.now(UTC) - timedelta(days=100)
    async with engine.begin() as conn:
        first = (
            (await conn.execute(select(sign_in_events.c.id).order_by(sign_in_events.c.occurred_at)))
            .scalars()
            .first()
        )
        await conn.execute(
            update(sign_in_events).where(sign_in_events.c.id == first).values(occurred_at=long_ago)
        )
        # a consent change made long ago from some address
        old_change = ConsentEntry(
            uuid.UUID(customer["id"]),
            SharingPurpose.PARTNER_OFFERS,
            True,
            False,
            long_ago,
            Actor.CUSTOMER,
            Source.SELF_SERVICE,
        )
        await SqlConsentRepository(conn).append([old_change], ClientInfo("198.51.100.4", "old UA"))
        # one session and every e-mailed token expired
        session_id = (await conn.execute(select(sessions.c.id))).scalars().first()
        await conn.execute(
            update(sessions).where(sessions.c.id == session_id).values(expires_at=long_ago)
        )
        await conn.execute(update(account_tokens).values(expires_at=long_ago))
    # when
    code, out = await cli("purge")
    # then
    assert code == 0
    assert "sign-in IPs and user agents: 1" in out
    assert "consent-change IPs and user agents: 1" in out
    assert "expired sessions: 1" in out
    assert "expired e-mailed tokens: 1" in out
    async with engine.connect() as conn:
        kept = (
            (await conn.execute(select(sign_in_events.c.ip).order_by(sign_in_events.c.occurred_at)))
            .scalars()
            .all()
        )
        contexts = await conn.scalar(select(func.count()).select_from(consent_ledger_context))
        live_sessions = await conn.scalar(select(func.count()).select_from(sessions))
    assert kept == [None, "203.0.113.7"]
    assert contexts == 0  # registration's defaults carry no client context
    assert live_sessions == 1
    # and a second run finds nothing left to do
    code, out = await cli("purge")
    assert code == 0
    assert out.count(": 0") == 5
