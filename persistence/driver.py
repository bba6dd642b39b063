"""Statements that go straight to asyncpg on a SQLAlchemy connection, for the hottest reads.

Building, caching and executing a SQLAlchemy statement and processing its rows cost several
times a small read itself (profiled with ``bench/sample_profile.py``; docs/performance.md). The
SQL is rendered once from a SQLAlchemy query (asyncpg prepares it once per connection); the
caller maps the rows as SQLAlchemy's column types would (``as_uuid``, ``as_utc``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

# What the driver raises when the connection, not the statement, failed.
CONNECTION_FAULTS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


def render(query: Select[Any]) -> str:
    """The query as asyncpg runs it (``$1``-style parameters, in the order of their binding)."""
    return str(query.compile(dialect=asyncpg_dialect()))


def render_in_order(query: Select[Any]) -> tuple[str, tuple[str, ...]]:
    """:func:`render`, and the names of the query's parameters in the order of ``$1``, ``$2``…,
    for a query whose parameters are not bound in the order they were written."""
    compiled = query.compile(dialect=asyncpg_dialect())
    return str(compiled), tuple(compiled.positiontup or ())


async def fetch(conn: AsyncConnection, sql: str, *args: Any) -> list[asyncpg.Record]:
    """The rows of ``sql`` run on the connection's asyncpg connection. A lost connection is
    invalidated (it must not go back to the pool) and raised as SQLAlchemy would have said it."""
    rows: list[asyncpg.Record] = await _run(conn, "fetch", sql, args)
    return rows


async def fetchrow(conn: AsyncConnection, sql: str, *args: Any) -> asyncpg.Record | None:
    """The first row of ``sql``, or None; as :func:`fetch`."""
    row: asyncpg.Record | None = await _run(conn, "fetchrow", sql, args)
    return row


def is_lost(error: BaseException, connection: asyncpg.Connection) -> bool:
    """Whether a fault a statement raised on ``connection`` says the connection is gone, rather
    than that the driver was misused (an InterfaceError while it is still open: ours)."""
    if not isinstance(error, CONNECTION_FAULTS):
        return False
    return not (isinstance(error, asyncpg.InterfaceError) and not connection.is_closed())


async def _run(conn: AsyncConnection, method: str, sql: str, args: tuple[Any, ...]) -> Any:
    sync = conn.sync_connection
    if sync is not None and not sync.invalidated:
        # A connection checked out and valid: its pooled connection is at hand. Asking the
        # AsyncConnection for it would start a greenlet only to read an attribute.
        raw = sync.connection
    else:
        raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    try:
        return await getattr(driver, method)(sql, *args)
    except CONNECTION_FAULTS as error:
        if not is_lost(error, driver):
            raise
        await conn.invalidate()
        raise exc.DisconnectionError("the connection to the database was lost") from error


def as_uuid(value: Any) -> uuid.UUID:
    # asyncpg's UUID is its own (faster) type; SQLAlchemy's Uuid gives the standard one.
    return value if type(value) is uuid.UUID else uuid.UUID(bytes=value.bytes)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:  # as asyncpg gives a timestamptz
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
