"""The e-mail outbox as relays work through it: claimed under a lease, settled one by one.

A claim is known by its lease's end (``claimed_until``): a relay that takes over an expired
lease sets a later one, so the first relay's late write no longer matches and is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.mail.model import NoticeProgress, QueuedEmail, Settlement
from persistence.tables import outbox_messages

_t = outbox_messages


class SqlMailOutbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._postgres = connection.dialect.name == "postgresql"

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[QueuedEmail]:
        due = (
            select(_t.c.id)
            .where(
                _t.c.sent_at.is_(None),
                _t.c.failed_at.is_(None),
                or_(_t.c.next_attempt_at.is_(None), _t.c.next_attempt_at <= now),
                or_(_t.c.claimed_until.is_(None), _t.c.claimed_until <= now),
            )
            .order_by(_t.c.created_at, _t.c.id)
            .limit(limit)
        )
        if self._postgres:
            # Rows another relay is claiming right now are passed over, not waited for; SQLite
            # has no row locks, and its writers take turns anyway.
            due = due.with_for_update(skip_locked=True)
        claimed = await self._conn.execute(
            update(_t)
            .where(_t.c.id.in_(due.scalar_subquery()))
            .values(claimed_until=lease_until)
            .returning(
                _t.c.id,
                _t.c.kind,
                _t.c.recipient,
                _t.c.subject,
                _t.c.body,
                _t.c.attempts,
                _t.c.created_at,
            )
        )
        rows = sorted(claimed.mappings(), key=lambda row: (row["created_at"], row["id"]))
        return [
            QueuedEmail(
                id=row["id"],
                kind=row["kind"],
                to=row["recipient"],
                subject=row["subject"],
                body=row["body"],
                attempts=row["attempts"],
                claimed_until=lease_until,
            )
            for row in rows
        ]

    async def settle(self, message: QueuedEmail, settlement: Settlement) -> bool:
        result = await self._conn.execute(
            update(_t)
            .where(and_(_t.c.id == message.id, _t.c.claimed_until == message.claimed_until))
            .values(
                attempts=settlement.attempts,
                sent_at=settlement.sent_at,
                next_attempt_at=settlement.next_attempt_at,
                failed_at=settlement.failed_at,
                claimed_until=None,
            )
        )
        return bool(result.rowcount)

    async def release(self, messages: Sequence[QueuedEmail]) -> None:
        for message in messages:
            await self._conn.execute(
                update(_t)
                .where(and_(_t.c.id == message.id, _t.c.claimed_until == message.claimed_until))
                .values(claimed_until=None)
            )

    async def progress(self, kind: str, reference: str) -> NoticeProgress:
        query = select(
            func.count(),
            func.coalesce(func.sum(case((_t.c.sent_at.is_not(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((_t.c.failed_at.is_not(None), 1), else_=0)), 0),
        ).where(_t.c.kind == kind, _t.c.reference == reference)
        queued, sent, failed = (await self._conn.execute(query)).one()
        return NoticeProgress(int(queued), int(sent), int(failed))
