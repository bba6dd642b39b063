"""The hot reads: a session and its customer in one statement (behind every signed-in request
and `me`), and a customer by e-mail address (sign-in, before the password is checked).

On PostgreSQL the statement goes straight to asyncpg, on a connection of the read pool
(persistence/read_pool.py), or of the engine's pool when there is no read pool
(persistence/driver.py). The row is mapped to the same domain objects as SQLAlchemy's would be;
``tests/persistence/test_customer_reads.py`` holds the two paths to the same answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identity.model import Session
from domain.profile.model import Customer
from persistence import driver
from persistence.driver import as_utc as _utc
from persistence.driver import as_uuid as _uuid
from persistence.read_pool import ReadPool
from persistence.repositories.customers import customer_from_row
from persistence.tables import customers, sessions
from persistence.types import UTCDateTime

_SESSION = "session_"

# Customer columns keep their names (customer_from_row reads them); session columns are
# prefixed, the two tables sharing `id` and `created_at`.
_ME_BY_SESSION = (
    select(*(column.label(_SESSION + column.name) for column in sessions.c), customers)
    .select_from(sessions.join(customers, customers.c.id == sessions.c.customer_id))
    .where(sessions.c.token_hash == bindparam("token_hash"))
)
# The same query as asyncpg runs it: `WHERE sessions.token_hash = $1::VARCHAR`.
_ME_BY_SESSION_SQL = driver.render(_ME_BY_SESSION)
_BY_EMAIL = select(customers).where(customers.c.email == bindparam("email"))
_BY_EMAIL_SQL = driver.render(_BY_EMAIL)


class SqlCustomerReadModel:
    """On a connection of the engine's pool (SQLite, or PostgreSQL without a read pool)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def me_by_session(self, token_hash: str) -> tuple[Session, Customer] | None:
        if self._conn.dialect.name == "postgresql":
            row: Any = await driver.fetchrow(self._conn, _ME_BY_SESSION_SQL, token_hash)
        else:
            result = await self._conn.execute(_ME_BY_SESSION, {"token_hash": token_hash})
            row = result.mappings().first()
        return _found(row)

    async def by_email(self, email: str) -> Customer | None:
        if self._conn.dialect.name == "postgresql":
            row: Any = await driver.fetchrow(self._conn, _BY_EMAIL_SQL, email)
        else:
            row = (await self._conn.execute(_BY_EMAIL, {"email": email})).mappings().first()
        return _customer(row)


class PooledCustomerReadModel:
    """On PostgreSQL, through the read pool."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def me_by_session(self, token_hash: str) -> tuple[Session, Customer] | None:
        return _found(await self._pool.fetchrow(_ME_BY_SESSION_SQL, token_hash))

    async def by_email(self, email: str) -> Customer | None:
        return _customer(await self._pool.fetchrow(_BY_EMAIL_SQL, email))


def _found(row: Any) -> tuple[Session, Customer] | None:
    if row is None:
        return None
    return _session_of(row), customer_from_row(_customer_values(row))


def _customer(row: Any) -> Customer | None:
    return None if row is None else customer_from_row(_customer_values(row))


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


_CUSTOMER_MOMENTS = tuple(
    column.name for column in customers.c if isinstance(column.type, UTCDateTime)
)


def _customer_values(row: Any) -> dict[str, Any]:
    """The row as customer_from_row reads it, with the conversions that SQLAlchemy's column
    types apply to its own rows (Uuid, UTCDateTime); a copy, converted once."""
    values = dict(row)
    values["id"] = _uuid(values["id"])
    for name in _CUSTOMER_MOMENTS:
        moment = values[name]
        if moment is not None:
            values[name] = _utc(moment)
    return values
