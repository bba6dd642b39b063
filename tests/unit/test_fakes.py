"""The in-memory unit of work behaves as a transaction, so "nothing written" means something."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.identity.model import SessionPolicy, open_session
from domain.ports import EmailMessage
from tests.unit.fakes import InMemoryStore, InMemoryUnitOfWork, nothing_written

MESSAGE = EmailMessage(kind="TEST", to="ada@example.com", subject="s", body="b")


async def test_writes_are_kept_only_when_committed() -> None:
    store = InMemoryStore()

    async with InMemoryUnitOfWork(store) as uow:
        await uow.mailer.send(MESSAGE)
    assert store.committed.outbox == []

    async with InMemoryUnitOfWork(store) as uow:
        await uow.mailer.send(MESSAGE)
        await uow.commit()
    assert store.committed.outbox == [MESSAGE]


async def test_a_transaction_reads_its_own_writes_and_rolls_them_back() -> None:
    store = InMemoryStore()
    _, session = open_session(uuid.uuid4(), datetime(2030, 1, 1, tzinfo=UTC), SessionPolicy())

    async with InMemoryUnitOfWork(store) as uow:
        await uow.sessions.add(session)
        assert await uow.sessions.get_by_token_hash(session.token_hash) == session
        await uow.rollback()
        assert await uow.sessions.get_by_token_hash(session.token_hash) is None


def test_nothing_written_notices_a_commit() -> None:
    store = InMemoryStore()

    with pytest.raises(AssertionError, match="committed"), nothing_written(store):
        store.commits += 1
