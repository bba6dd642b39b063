"""Erasure: every table that holds something about a customer, in one transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from persistence.tables import (
    access_log,
    account_tokens,
    consent_ledger,
    consent_ledger_context,
    consent_states,
    customers,
    data_subject_requests,
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
