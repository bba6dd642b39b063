"""The consent ledger (append-only) and the current state it moves."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, insert, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.consent.model import (
    Actor,
    ConsentEntry,
    ConsentState,
    Source,
    Subject,
    subject_from,
    subject_kind,
)
from domain.identity.model import ClientInfo
from persistence.tables import consent_ledger, consent_ledger_context, consent_states


def entry_from_row(row: RowMapping) -> ConsentEntry:
    return ConsentEntry(
        customer_id=row["customer_id"],
        subject=subject_from(row["kind"], row["subject"]),
        granted=row["granted"],
        previous=row["previous"],
        occurred_at=row["occurred_at"],
        actor=Actor(row["actor"]),
        source=Source(row["source"]),
        policy_version=row["policy_version"],
        informed_of_gpc=row["informed_of_gpc"],
        request_id=row["request_id"],
        id=row["id"],
    )


class SqlConsentRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._postgres = connection.dialect.name == "postgresql"

    async def current(self, customer_id: uuid.UUID) -> dict[Subject, ConsentState]:
        return (await self.current_of([customer_id])).get(customer_id, {})

    async def current_of(
        self, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[Subject, ConsentState]]:
        query = select(consent_states).where(consent_states.c.customer_id.in_(customer_ids))
        states: dict[uuid.UUID, dict[Subject, ConsentState]] = {}
        for row in (await self._conn.execute(query)).mappings():
            subject = subject_from(row["kind"], row["subject"])
            states.setdefault(row["customer_id"], {})[subject] = ConsentState(
                subject, row["granted"], row["updated_at"], row["informed_of_gpc"]
            )
        return states

    async def all_entries(self) -> list[ConsentEntry]:
        query = select(consent_ledger).order_by(consent_ledger.c.id)
        return [entry_from_row(row) for row in (await self._conn.execute(query)).mappings()]

    async def append(
        self, entries: Sequence[ConsentEntry], client: ClientInfo | None
    ) -> list[ConsentEntry]:
        if not entries:
            return []
        # The transaction's id fences the partners' change feed on PostgreSQL: a reader only
        # sees changes of transactions older than every one still running.
        tx: Any = text("pg_current_xact_id()::text::bigint") if self._postgres else literal(0)
        rows = [
            {
                "tx": tx,
                "customer_id": e.customer_id,
                "kind": subject_kind(e.subject),
                "subject": e.subject.value,
                "granted": e.granted,
                "previous": e.previous,
                "occurred_at": e.occurred_at,
                "actor": e.actor.value,
                "source": e.source.value,
                "policy_version": e.policy_version,
                "informed_of_gpc": e.informed_of_gpc,
                "request_id": e.request_id,
            }
            for e in entries
        ]
        result = await self._conn.execute(
            insert(consent_ledger).values(rows).returning(consent_ledger.c.id)
        )
        ids = list(result.scalars())
        if client is not None and (client.ip or client.user_agent):
            await self._conn.execute(
                insert(consent_ledger_context).values(
                    [
                        {
                            "entry_id": entry_id,
                            "ip": client.ip,
                            "user_agent": (client.user_agent or "")[:512] or None,
                        }
                        for entry_id in ids
                    ]
                )
            )
        await self._move_state(entries, ids)
        return [
            dataclasses.replace(e, id=entry_id) for e, entry_id in zip(entries, ids, strict=True)
        ]

    async def _move_state(self, entries: Sequence[ConsentEntry], ids: list[int]) -> None:
        upsert = pg_insert if self._postgres else sqlite_insert
        statement = upsert(consent_states).values(
            [
                {
                    "customer_id": e.customer_id,
                    "subject": e.subject.value,
                    "kind": subject_kind(e.subject),
                    "granted": e.granted,
                    "updated_at": None if e.source is Source.DEFAULT else e.occurred_at,
                    "informed_of_gpc": e.informed_of_gpc,
                    "last_entry_id": entry_id,
                }
                for e, entry_id in zip(entries, ids, strict=True)
            ]
        )
        statement = statement.on_conflict_do_update(
            index_elements=[consent_states.c.customer_id, consent_states.c.subject],
            set_={
                "granted": statement.excluded.granted,
                "updated_at": statement.excluded.updated_at,
                "informed_of_gpc": statement.excluded.informed_of_gpc,
                "last_entry_id": statement.excluded.last_entry_id,
            },
        )
        await self._conn.execute(statement)

    async def history(
        self, customer_id: uuid.UUID, first: int, before_id: int | None
    ) -> list[ConsentEntry]:
        query = select(consent_ledger).where(consent_ledger.c.customer_id == customer_id)
        if before_id is not None:
            query = query.where(consent_ledger.c.id < before_id)
        query = query.order_by(consent_ledger.c.id.desc()).limit(first)
        return [entry_from_row(row) for row in (await self._conn.execute(query)).mappings()]

    async def had_gpc_signal(self, customer_id: uuid.UUID) -> bool:
        query = select(
            exists().where(
                consent_ledger.c.customer_id == customer_id,
                consent_ledger.c.source == Source.GPC_SIGNAL.value,
            )
        )
        return bool(await self._conn.scalar(query))
