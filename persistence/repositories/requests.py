"""Data-subject requests and their status history."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.consent.model import Actor
from domain.ports import RequestQueueFilter
from domain.requests.model import (
    FINAL_STATUSES,
    Channel,
    DataSubjectRequest,
    RequestStatus,
    RequestType,
    StatusChange,
)
from persistence.tables import data_subject_requests as requests
from persistence.tables import request_status_changes as changes

_STATE_COLUMNS = (
    "status",
    "acknowledged_at",
    "identity_verified_at",
    "identity_method",
    "due_at",
    "original_due_at",
    "extension_reason",
    "rejection_reason",
    "completed_at",
    "note",
)


def _state(request: DataSubjectRequest) -> dict[str, Any]:
    values = {name: getattr(request, name) for name in _STATE_COLUMNS}
    values["status"] = request.status.value
    return values


class SqlRequestRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, request: DataSubjectRequest) -> None:
        values: dict[str, Any] = {
            "id": request.id,
            "customer_id": request.customer_id,
            "type": request.type.value,
            "channel": request.channel.value,
            "received_at": request.received_at,
            **_state(request),
        }
        if self._conn.dialect.name == "sqlite":
            values["seq"] = select(func.coalesce(func.max(requests.c.seq), 0) + 1).scalar_subquery()
        await self._conn.execute(insert(requests).values(values))
        await self._append_history(request, 0)

    async def get(self, request_id: uuid.UUID) -> DataSubjectRequest | None:
        row = (
            (await self._conn.execute(select(requests).where(requests.c.id == request_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return (await self._with_history([row]))[0][1]

    async def save(self, request: DataSubjectRequest) -> None:
        await self._conn.execute(
            update(requests).where(requests.c.id == request.id).values(_state(request))
        )
        stored = await self._conn.scalar(
            select(func.count()).select_from(changes).where(changes.c.request_id == request.id)
        )
        await self._append_history(request, int(stored or 0))

    async def of_customer(
        self, customer_id: uuid.UUID, first: int, before: int | None
    ) -> list[tuple[int, DataSubjectRequest]]:
        query = select(requests).where(requests.c.customer_id == customer_id)
        if before is not None:
            query = query.where(requests.c.seq < before)
        query = query.order_by(requests.c.seq.desc()).limit(first)
        rows = list((await self._conn.execute(query)).mappings())
        return await self._with_history(rows)

    async def _append_history(self, request: DataSubjectRequest, stored: int) -> None:
        new = request.history[stored:]
        if new:
            await self._conn.execute(
                insert(changes),
                [
                    {
                        "request_id": request.id,
                        "position": stored + i,
                        "status": change.status.value,
                        "at": change.at,
                        "actor": change.actor.value,
                        "reason": change.reason,
                    }
                    for i, change in enumerate(new)
                ],
            )

    async def _with_history(self, rows: list[RowMapping]) -> list[tuple[int, DataSubjectRequest]]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        history: dict[uuid.UUID, list[StatusChange]] = {request_id: [] for request_id in ids}
        query = (
            select(changes)
            .where(changes.c.request_id.in_(ids))
            .order_by(changes.c.request_id, changes.c.position)
        )
        for change in (await self._conn.execute(query)).mappings():
            history[change["request_id"]].append(
                StatusChange(
                    RequestStatus(change["status"]),
                    change["at"],
                    Actor(change["actor"]),
                    change["reason"],
                )
            )
        return [
            (
                row["seq"],
                DataSubjectRequest(
                    id=row["id"],
                    customer_id=row["customer_id"],
                    type=RequestType(row["type"]),
                    channel=Channel(row["channel"]),
                    status=RequestStatus(row["status"]),
                    received_at=row["received_at"],
                    acknowledged_at=row["acknowledged_at"],
                    identity_verified_at=row["identity_verified_at"],
                    identity_method=row["identity_method"],
                    due_at=row["due_at"],
                    original_due_at=row["original_due_at"],
                    extension_reason=row["extension_reason"],
                    rejection_reason=row["rejection_reason"],
                    completed_at=row["completed_at"],
                    note=row["note"],
                    history=history[row["id"]],
                ),
            )
            for row in rows
        ]


class SqlRequestQueue(SqlRequestRepository):
    """Every customer's requests, for the privacy officer's work queue."""

    async def page(
        self, where: RequestQueueFilter, first: int, after: int | None
    ) -> list[tuple[int, DataSubjectRequest]]:
        query = select(requests)
        if where.status is not None:
            query = query.where(requests.c.status == where.status.value)
        if where.overdue_at is not None:
            query = query.where(
                requests.c.due_at < where.overdue_at,
                requests.c.status.not_in([s.value for s in FINAL_STATUSES]),
            )
        if after is not None:
            query = query.where(requests.c.seq > after)
        query = query.order_by(requests.c.seq).limit(first)
        rows = list((await self._conn.execute(query)).mappings())
        return await self._with_history(rows)
