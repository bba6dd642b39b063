"""The hot read behind every signed-in request and `me`: a session and its customer in one
statement.

On PostgreSQL the statement goes straight to asyncpg, as SQL rendered once from the SQLAlchemy
query below (asyncpg prepares it once per connection): building, caching and executing a
SQLAlchemy statement and processing its row cost several times the read itself (profiled with
``bench/sample_profile.py``; see docs/performance.md). The row is mapped to the same domain
objects as SQLAlchemy's would be; ``tests/persistence/test_customer_reads.py`` holds the two
paths to the same answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, exc, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identity.model import Session
from domain.profile.model import Customer
from persistence.repositories.customers import customer_from_row
from persistence.tables import customers, sessions

_SESSION = "session_"

# Customer columns keep their names (customer_from_row reads them); session columns are
# prefixed, the two tables sharing `id` and `created_at`.
_ME_BY_SESSION = (
    select(*(column.label(_SESSION + column.name) for column in sessions.c), customers)
    .select_from(sessions.join(customers, customers.c.id == sessions.c.customer_id))
    .where(sessions.c.token_hash == bindparam("token_hash"))
)
# The same query as asyncpg runs it: `WHERE sessions.token_hash = $1::VARCHAR`.
_ME_BY_SESSION_SQL = str(_ME_BY_SESSION.compile(dialect=asyncpg_dialect()))

# What the driver raises when the connection, not the statement, failed.
_CONNECTION_FAULTS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


class SqlCustomerReadModel:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def me_by_session(self, token_hash: str) -> tuple[Session, Customer] | None:
        if self._conn.dialect.name == "postgresql":
            row: Any = await self._fetch_from_driver(token_hash)
        else:
            result = await self._conn.execute(_ME_BY_SESSION, {"token_hash": token_hash})
            row = result.mappings().first()
        if row is None:
            return None
        return _session_of(row), customer_from_row(_CustomerRow(row))

    async def _fetch_from_driver(self, token_hash: str) -> asyncpg.Record | None:
        raw = await self._conn.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        try:
            return await driver.fetchrow(_ME_BY_SESSION_SQL, token_hash)
        except _CONNECTION_FAULTS as error:
            if isinstance(error, asyncpg.InterfaceError) and not driver.is_closed():
                raise  # a misuse of the driver: a fault of ours, not the database's
            # SQLAlchemy did not see this: the connection must not go back to the pool, and the
            # fault is a lost connection, as SQLAlchemy would have said it.
            await self._conn.invalidate()
            raise exc.DisconnectionError("the connection to the database was lost") from error


def _session_of(row: Any) -> Session:
    return Session(
        id=_uuid(row[_SESSION + "id"]),
        customer_id=_uuid(row[_SESSION + "customer_id"]),
        token_hash=row[_SESSION + "token_hash"],
        created_at=_utc(row[_SESSION + "created_at"]),
        last_seen_at=_utc(row[_SESSION + "last_seen_at"]),
        expires_at=_utc(row[_SESSION + "expires_at"]),
        gpc_signal=row[_SESSION + "gpc_signal"],
    )


class _CustomerRow:
    """A row as customer_from_row reads it, with the column types' conversions that SQLAlchemy
    applies to its own rows (UTCDateTime, Uuid)."""

    __slots__ = ("_row",)

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getitem__(self, name: str) -> Any:
        value = self._row[name]
        if name == "id":
            return _uuid(value)
        if isinstance(value, datetime):
            return _utc(value)
        return value


def _uuid(value: Any) -> uuid.UUID:
    # asyncpg's UUID is its own (faster) type; SQLAlchemy's Uuid gives the standard one.
    return value if type(value) is uuid.UUID else uuid.UUID(bytes=value.bytes)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
