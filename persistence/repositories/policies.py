"""Privacy-policy versions and customers' acknowledgements of them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import RowMapping, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.policies.model import Acknowledgement, PolicyVersion
from domain.ports import VersionAlreadyPublished
from persistence.tables import policy_acknowledgements, policy_versions


def _version(row: RowMapping) -> PolicyVersion:
    return PolicyVersion(
        version=row["version"],
        summary=row["summary"],
        url=row["url"],
        announced_at=row["announced_at"],
        effective_at=row["effective_at"],
        published_by=row["published_by"],
    )


class SqlPolicyRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, version: PolicyVersion) -> None:
        # The primary key is the last word on a race; the whole transaction is then void.
        try:
            await self._conn.execute(
                insert(policy_versions).values(
                    version=version.version,
                    summary=version.summary,
                    url=version.url,
                    announced_at=version.announced_at,
                    effective_at=version.effective_at,
                    published_by=version.published_by,
                )
            )
        except IntegrityError:
            raise VersionAlreadyPublished(version.version) from None

    async def get(self, version: str) -> PolicyVersion | None:
        query = select(policy_versions).where(policy_versions.c.version == version)
        row = (await self._conn.execute(query)).mappings().first()
        return _version(row) if row else None

    async def in_force(self, at: datetime) -> PolicyVersion | None:
        query = (
            select(policy_versions)
            .where(policy_versions.c.effective_at <= at)
            .order_by(policy_versions.c.effective_at.desc(), policy_versions.c.announced_at.desc())
            .limit(1)
        )
        row = (await self._conn.execute(query)).mappings().first()
        return _version(row) if row else None

    async def upcoming(self, at: datetime) -> PolicyVersion | None:
        query = (
            select(policy_versions)
            .where(policy_versions.c.effective_at > at)
            .order_by(policy_versions.c.effective_at, policy_versions.c.announced_at)
            .limit(1)
        )
        row = (await self._conn.execute(query)).mappings().first()
        return _version(row) if row else None

    async def acknowledge(self, acknowledgement: Acknowledgement) -> Acknowledgement:
        table = policy_acknowledgements
        key = (table.c.customer_id == acknowledgement.customer_id) & (
            table.c.version == acknowledgement.version
        )
        row = (await self._conn.execute(select(table).where(key))).mappings().first()
        if row is not None:
            return Acknowledgement(row["customer_id"], row["version"], row["acknowledged_at"])
        await self._conn.execute(
            insert(table).values(
                customer_id=acknowledgement.customer_id,
                version=acknowledgement.version,
                acknowledged_at=acknowledgement.acknowledged_at,
            )
        )
        return acknowledgement

    async def acknowledgements_of(self, customer_id: uuid.UUID) -> list[Acknowledgement]:
        table = policy_acknowledgements
        query = (
            select(table)
            .where(table.c.customer_id == customer_id)
            .order_by(table.c.acknowledged_at, table.c.version)
        )
        return [
            Acknowledgement(row["customer_id"], row["version"], row["acknowledged_at"])
            for row in (await self._conn.execute(query)).mappings()
        ]
