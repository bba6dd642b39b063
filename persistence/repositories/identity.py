"""Sessions, sign-in events and account tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identity.model import AccountToken, Session, SignInEvent, TokenPurpose
from persistence.tables import account_tokens, sessions, sign_in_events

# Each sign-in writes both; built once, their values given as parameters (a statement built
# with .values() is built and its cache key computed again for each call).
_ADD_SESSION = insert(sessions)
_ADD_SIGN_IN = insert(sign_in_events)


class SqlSessionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, session: Session) -> None:
        await self._conn.execute(
            _ADD_SESSION,
            {
                "id": session.id,
                "token_hash": session.token_hash,
                "customer_id": session.customer_id,
                "created_at": session.created_at,
                "last_seen_at": session.last_seen_at,
                "expires_at": session.expires_at,
            },
        )

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
        await self._conn.execute(
            _ADD_SIGN_IN,
            {
                "id": event.id,
                "customer_id": event.customer_id,
                "occurred_at": event.occurred_at,
                "ip": event.ip,
                "user_agent": (event.user_agent or "")[:512] or None,
            },
        )


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
