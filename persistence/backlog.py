"""What is waiting, for the operators' metrics: webhook deliveries and e-mail not yet out, and
data-subject requests close to or past their due date. One cheap query each, on indexed
columns; counts only, never a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.requests.model import FINAL_STATUSES
from domain.webhooks.model import DeliveryStatus
from persistence.tables import data_subject_requests, outbox_messages, webhook_deliveries

# "Near" the due date: what staff should pick up first.
DUE_SOON = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Backlog:
    webhook_deliveries_pending: int
    mail_unsent: int
    requests_due_soon: int  # open, due within DUE_SOON
    requests_overdue: int  # open, past their due date


async def read_backlog(engine: AsyncEngine, now: datetime) -> Backlog:
    """The counts as of ``now``."""
    pending = select(func.count()).where(
        webhook_deliveries.c.status == DeliveryStatus.PENDING.value
    )
    # The relay's queue, as its partial index (ix_outbox_messages_unsent) defines it.
    unsent = select(func.count()).where(
        outbox_messages.c.sent_at.is_(None), outbox_messages.c.failed_at.is_(None)
    )
    requests = data_subject_requests.c
    open_with_due_date = and_(
        requests.status.not_in([status.value for status in FINAL_STATUSES]),
        requests.due_at.is_not(None),
    )
    due = select(
        func.count().filter(and_(requests.due_at >= now, requests.due_at < now + DUE_SOON)),
        func.count().filter(requests.due_at < now),
    ).where(open_with_due_date, requests.due_at < now + DUE_SOON)
    async with engine.connect() as conn:
        webhooks = (await conn.execute(pending)).scalar_one()
        mail = (await conn.execute(unsent)).scalar_one()
        due_soon, overdue = (await conn.execute(due)).one()
    return Backlog(int(webhooks), int(mail), int(due_soon), int(overdue))
