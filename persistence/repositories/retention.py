"""Retention: forgetting client addresses, expired sessions and expired tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.ports import Purged
from persistence.tables import (
    account_tokens,
    consent_ledger,
    consent_ledger_context,
    data_exports,
    sessions,
    sign_in_events,
    staff_sessions,
)


class SqlRetention:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def purge(self, client_data_before: datetime, now: datetime) -> Purged:
        sign_ins = await self._conn.execute(
            update(sign_in_events)
            .where(
                sign_in_events.c.occurred_at < client_data_before,
                or_(sign_in_events.c.ip.is_not(None), sign_in_events.c.user_agent.is_not(None)),
            )
            .values(ip=None, user_agent=None)
        )
        # The ledger itself never changes; its side table of client context goes.
        old_entries = select(consent_ledger.c.id).where(
            consent_ledger.c.occurred_at < client_data_before
        )
        contexts = await self._conn.execute(
            delete(consent_ledger_context).where(consent_ledger_context.c.entry_id.in_(old_entries))
        )
        ended = await self._conn.execute(delete(sessions).where(sessions.c.expires_at < now))
        staff_ended = await self._conn.execute(
            delete(staff_sessions).where(staff_sessions.c.expires_at < now)
        )
        tokens = await self._conn.execute(
            delete(account_tokens).where(account_tokens.c.expires_at < now)
        )
        exports = await self._conn.execute(
            delete(data_exports).where(data_exports.c.expires_at < now)
        )
        return Purged(
            sign_ins.rowcount,
            contexts.rowcount,
            ended.rowcount + staff_ended.rowcount,
            tokens.rowcount,
            exports.rowcount,
        )
