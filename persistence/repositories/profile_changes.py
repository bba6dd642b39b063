"""The rectification history of customers' profiles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.profile.model import ProfileChange
from persistence.tables import profile_changes


class SqlProfileChangeRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, changes: Sequence[ProfileChange]) -> None:
        if changes:
            await self._conn.execute(
                insert(profile_changes),
                [
                    {
                        "customer_id": c.customer_id,
                        "field": c.field_key,
                        "changed_at": c.changed_at,
                        "actor": c.actor,
                    }
                    for c in changes
                ],
            )

    async def of_customer(
        self, customer_id: uuid.UUID, first: int, before: int | None
    ) -> list[tuple[int, ProfileChange]]:
        query = select(profile_changes).where(profile_changes.c.customer_id == customer_id)
        if before is not None:
            query = query.where(profile_changes.c.id < before)
        query = query.order_by(profile_changes.c.id.desc()).limit(first)
        return [
            (
                row["id"],
                ProfileChange(row["customer_id"], row["field"], row["changed_at"], row["actor"]),
            )
            for row in (await self._conn.execute(query)).mappings()
        ]
