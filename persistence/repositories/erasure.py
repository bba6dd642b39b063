"""Erasure: every table that holds something about a customer, in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.ports import ErasureRecord
from persistence.tables import (
    access_log,
    account_tokens,
    consent_ledger,
    consent_ledger_context,
    consent_states,
    customers,
    data_subject_requests,
    erasure_log,
    outbox_messages,
    profile_changes,
    request_status_changes,
    sessions,
    sign_in_events,
)


class SqlErasure:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def erase(self, customer_id: uuid.UUID) -> None:
        execute = self._conn.execute
        entries = select(consent_ledger.c.id).where(consent_ledger.c.customer_id == customer_id)
        await execute(
            delete(consent_ledger_context).where(consent_ledger_context.c.entry_id.in_(entries))
        )
        await execute(delete(outbox_messages).where(outbox_messages.c.customer_id == customer_id))
        for table in (sessions, sign_in_events, account_tokens, profile_changes, consent_states):
            await execute(delete(table).where(table.c.customer_id == customer_id))
        # Requests stay as evidence that they were handled, without any free text about the
        # person (staff notes, how identity was checked, reasons given along the way).
        mine = select(data_subject_requests.c.id).where(
            data_subject_requests.c.customer_id == customer_id
        )
        await execute(
            update(data_subject_requests)
            .where(data_subject_requests.c.customer_id == customer_id)
            .values(note=None, identity_method=None)
        )
        await execute(
            update(request_status_changes)
            .where(request_status_changes.c.request_id.in_(mine))
            .values(reason=None)
        )
        # The access log stays as evidence of who looked and why, without the staff's notes
        # (which may describe the person).
        await execute(
            update(access_log).where(access_log.c.customer_id == customer_id).values(note=None)
        )
        await execute(delete(customers).where(customers.c.id == customer_id))

    async def log(self, record: ErasureRecord) -> None:
        known = await self._conn.scalar(
            select(erasure_log.c.customer_id).where(erasure_log.c.customer_id == record.customer_id)
        )
        if known is None:
            await self._conn.execute(
                insert(erasure_log).values(
                    customer_id=record.customer_id,
                    erased_at=record.erased_at,
                    request_id=record.request_id,
                )
            )

    async def logged(self, since: datetime | None) -> list[ErasureRecord]:
        query = select(erasure_log).order_by(erasure_log.c.erased_at, erasure_log.c.customer_id)
        if since is not None:
            query = query.where(erasure_log.c.erased_at >= since)
        rows = await self._conn.execute(query)
        return [ErasureRecord(row.customer_id, row.erased_at, row.request_id) for row in rows]
