"""Sessions, sign-in events and account tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identity.model import AccountToken, Session, SignInEvent, TokenPurpose
from persistence import driver
from persistence.tables import account_tokens, customers, sessions, sign_in_events

# Each sign-in writes both; built once, their values given as parameters (a statement built
# with .values() is built and its cache key computed again for each call).
_ADD_SESSION = insert(sessions)
_ADD_SIGN_IN = insert(sign_in_events)


def _session_row(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "token_hash": session.token_hash,
        "customer_id": session.customer_id,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "expires_at": session.expires_at,
    }


def _sign_in_row(event: SignInEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "customer_id": event.customer_id,
        "occurred_at": event.occurred_at,
        "ip": event.ip,
        "user_agent": (event.user_agent or "")[:512] or None,
    }


def _start_session_statement() -> tuple[str, tuple[str, ...]]:
    """A sign-in's write as one PostgreSQL statement (its SQL, and its parameters' names in
    order): the customer's row locked if its password hash is still the one checked, and the
    session and the sign-in event inserted from that row, so that neither is written when
    there is none. The count of sessions written (0 or 1) is the answer.

    Locked, not only compared: a password change or reset locks the row, ends every session and
    commits. A sign-in that comes second waits for it, then finds the new hash and writes
    nothing (PostgreSQL reads the row again after the wait); one that comes first makes the
    change wait, and its session is ended with the others."""
    unchanged = (
        select(customers.c.id)
        .where(
            customers.c.id == bindparam("customer_id", type_=customers.c.id.type),
            customers.c.password_hash
            == bindparam("password_hash", type_=customers.c.password_hash.type),
        )
        .with_for_update()
        .cte("unchanged")
    )
    written = []
    for table in (sessions, sign_in_events):
        # What _session_row and _sign_in_row give: every column but those the server fills in.
        names = [column.name for column in table.c if column.server_default is None]
        values = [
            unchanged.c.id
            if name == "customer_id"
            else bindparam(f"{table.name}_{name}", type_=table.c[name].type)
            for name in names
        ]
        rows = select(*values).select_from(unchanged)
        written.append(
            insert(table).from_select(names, rows).returning(table.c.id).cte(f"new_{table.name}")
        )
    statement = select(func.count()).select_from(written[0]).add_cte(written[1])
    return driver.render_in_order(statement)


_START_SESSION_SQL, _START_SESSION_PARAMETERS = _start_session_statement()


async def start_session(
    conn: AsyncConnection, password_hash: str, session: Session, event: SignInEvent
) -> bool:
    """:meth:`UnitOfWorkFactory.start_session` on PostgreSQL, in one statement straight to
    asyncpg on ``conn``, a connection outside any transaction (the statement is its own)."""
    values = {"customer_id": session.customer_id, "password_hash": password_hash}
    values |= {f"sessions_{name}": value for name, value in _session_row(session).items()}
    values |= {f"sign_in_events_{name}": value for name, value in _sign_in_row(event).items()}
    row = await driver.fetchrow(
        conn, _START_SESSION_SQL, *(values[name] for name in _START_SESSION_PARAMETERS)
    )
    return row is not None and row[0] == 1


class SqlSessionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, session: Session) -> None:
        await self._conn.execute(_ADD_SESSION, _session_row(session))

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        query = select(sessions).where(sessions.c.token_hash == token_hash)
        row = (await self._conn.execute(query)).mappings().first()
        return Session(**row) if row else None

    async def touch(self, session_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(
            update(sessions).where(sessions.c.id == session_id).values(last_seen_at=at)
        )

    async def mark_gpc_signal(self, session_id: uuid.UUID, present: bool) -> None:
        await self._conn.execute(
            update(sessions).where(sessions.c.id == session_id).values(gpc_signal=present)
        )

    async def end(self, session_id: uuid.UUID) -> None:
        await self._conn.execute(delete(sessions).where(sessions.c.id == session_id))

    async def end_all_for(self, customer_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
        statement = delete(sessions).where(sessions.c.customer_id == customer_id)
        if keep is not None:
            statement = statement.where(sessions.c.id != keep)
        result = await self._conn.execute(statement)
        return result.rowcount


class SqlSignInEventRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, event: SignInEvent) -> None:
        await self._conn.execute(_ADD_SIGN_IN, _sign_in_row(event))


class SqlAccountTokenRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, token: AccountToken) -> None:
        await self._conn.execute(
            insert(account_tokens).values(
                token_hash=token.token_hash,
                customer_id=token.customer_id,
                purpose=token.purpose.value,
                email=token.email,
                created_at=token.created_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def get(self, token_hash: str) -> AccountToken | None:
        query = select(account_tokens).where(account_tokens.c.token_hash == token_hash)
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        return AccountToken(**{**row, "purpose": TokenPurpose(row["purpose"])})

    async def mark_used(self, token_hash: str, at: datetime) -> bool:
        result = await self._conn.execute(
            update(account_tokens)
            .where(account_tokens.c.token_hash == token_hash, account_tokens.c.used_at.is_(None))
            .values(used_at=at)
        )
        return result.rowcount == 1

    async def revoke_all(self, customer_id: uuid.UUID, purpose: TokenPurpose, at: datetime) -> None:
        await self._conn.execute(
            update(account_tokens)
            .where(
                account_tokens.c.customer_id == customer_id,
                account_tokens.c.purpose == purpose.value,
                account_tokens.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
