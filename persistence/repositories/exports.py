"""Reading everything held about one customer, for the data export; long lists stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.consent.model import ConsentEntry
from domain.identity.model import SignInEvent
from domain.ports import DataExport, Recipient
from domain.profile.model import ProfileChange
from domain.requests.model import DataSubjectRequest
from domain.staff.model import AccessLogEntry
from persistence.repositories.consent import entry_from_row
from persistence.repositories.requests import SqlRequestRepository
from persistence.repositories.staff import access_entry
from persistence.tables import (
    access_log,
    consent_ledger,
    data_exports,
    partner_read_customers,
    partner_reads,
    partners,
    profile_changes,
    sign_in_events,
)

_BATCH = 500


class SqlExportReader:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add_export(self, export: DataExport) -> None:
        await self._conn.execute(
            insert(data_exports).values(
                id=export.id,
                customer_id=export.customer_id,
                request_id=export.request_id,
                created_at=export.created_at,
                expires_at=export.expires_at,
            )
        )

    async def export(self, export_id: uuid.UUID) -> DataExport | None:
        query = select(data_exports).where(data_exports.c.id == export_id)
        row = (await self._conn.execute(query)).mappings().first()
        return DataExport(**row) if row else None

    async def _stream(self, query: Any) -> AsyncIterator[Any]:
        result = await self._conn.stream(query.execution_options(yield_per=_BATCH))
        async for batch in result.mappings().partitions(_BATCH):
            for row in batch:
                yield row

    async def ledger(self, customer_id: uuid.UUID) -> AsyncIterator[ConsentEntry]:
        query = (
            select(consent_ledger)
            .where(consent_ledger.c.customer_id == customer_id)
            .order_by(consent_ledger.c.id)
        )
        async for row in self._stream(query):
            yield entry_from_row(row)

    async def sign_ins(self, customer_id: uuid.UUID) -> AsyncIterator[SignInEvent]:
        query = (
            select(sign_in_events)
            .where(sign_in_events.c.customer_id == customer_id)
            .order_by(sign_in_events.c.occurred_at)
        )
        async for row in self._stream(query):
            yield SignInEvent(**row)

    async def profile_changes(self, customer_id: uuid.UUID) -> AsyncIterator[ProfileChange]:
        query = (
            select(profile_changes)
            .where(profile_changes.c.customer_id == customer_id)
            .order_by(profile_changes.c.id)
        )
        async for row in self._stream(query):
            yield ProfileChange(row["customer_id"], row["field"], row["changed_at"], row["actor"])

    async def access_log(self, customer_id: uuid.UUID) -> AsyncIterator[AccessLogEntry]:
        query = (
            select(access_log)
            .where(access_log.c.customer_id == customer_id)
            .order_by(access_log.c.id)
        )
        async for row in self._stream(query):
            yield access_entry(row)

    async def requests(self, customer_id: uuid.UUID) -> list[DataSubjectRequest]:
        found = await SqlRequestRepository(self._conn).of_customer(customer_id, 10_000, None)
        return [request for _, request in found]

    async def recipients(self, customer_id: uuid.UUID) -> list[Recipient]:
        query = (
            select(
                partners.c.name,
                partner_reads.c.purposes,
                func.count().label("reads"),
                func.min(partner_reads.c.occurred_at).label("first"),
                func.max(partner_reads.c.occurred_at).label("last"),
            )
            .select_from(partner_read_customers)
            .join(partner_reads, partner_reads.c.id == partner_read_customers.c.read_id)
            .join(partners, partners.c.id == partner_reads.c.partner_id)
            .where(partner_read_customers.c.customer_id == customer_id)
            .group_by(partners.c.name, partner_reads.c.purposes)
            .order_by(partners.c.name)
        )
        return [
            Recipient(name, purposes, reads, first, last)
            for name, purposes, reads, first, last in await self._conn.execute(query)
        ]
