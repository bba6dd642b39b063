"""Which failures say "the database cannot be reached, try again shortly", and which are faults."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import is_unavailable
from persistence.tables import sign_in_events


def caused(error: BaseException, by: BaseException) -> BaseException:
    error.__cause__ = by
    return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),
        PoolTimeout("QueuePool limit of size 5 overflow 5 reached"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True),
        caused(RuntimeError("while handling"), ConnectionResetError()),
    ],
    ids=repr,
)
def test_the_database_being_out_of_reach_is_unavailability(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        None,
        ValueError("not a date"),
        FileNotFoundError("vault key file"),
        asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
        DBAPIError("SELECT 1", None, Exception("syntax"), connection_invalidated=False),
    ],
    ids=repr,
)
def test_a_fault_of_ours_is_not_unavailability(error: BaseException | None) -> None:
    assert not is_unavailable(error)


async def test_a_refused_write_is_not_unavailability(engine: AsyncEngine) -> None:
    statement = insert(sign_in_events).values(
        id=uuid.uuid4(),
        customer_id=uuid.uuid4(),  # no such customer: the foreign key refuses the row
        occurred_at=datetime.now(UTC),
    )
    with pytest.raises(IntegrityError) as refused:
        async with engine.begin() as conn:
            await conn.execute(statement)
    assert not is_unavailable(refused.value)


def test_a_sqlite_database_locked_by_another_writer_is_unavailability(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(url, connect_args={"timeout": 0})
    try:
        with pytest.raises(OperationalError) as locked, engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        engine.dispose()
        holder.close()
    assert is_unavailable(locked.value)


def test_a_sqlite_file_that_cannot_be_opened_is_a_fault_not_an_outage(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'no such folder' / 'x.db'}")
    try:
        with pytest.raises(OperationalError) as missing, engine.connect():
            pass
    finally:
        engine.dispose()
    assert not is_unavailable(missing.value)
