"""Data-subject requests: what was asked, through which channel, and where it stands."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.consent.model import Actor


class RequestType(enum.Enum):
    ACCESS = "ACCESS"
    ERASURE = "ERASURE"
    RECTIFICATION = "RECTIFICATION"
    RESTRICTION = "RESTRICTION"
    CONSENT_CHANGE = "CONSENT_CHANGE"
    OBJECTION = "OBJECTION"


class Channel(enum.Enum):
    SELF_SERVICE = "SELF_SERVICE"
    EMAIL = "EMAIL"


class RequestStatus(enum.Enum):
    IDENTITY_PENDING = "IDENTITY_PENDING"
    RECEIVED = "RECEIVED"
    IN_PROGRESS = "IN_PROGRESS"
    EXTENDED = "EXTENDED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


FINAL_STATUSES = frozenset(
    {RequestStatus.COMPLETED, RequestStatus.REJECTED, RequestStatus.CANCELLED}
)
# "Take effect when recorded": due the day they are received (or their sender verified).
IMMEDIATE_TYPES = frozenset({RequestType.CONSENT_CHANGE, RequestType.OBJECTION})

COMPLAINT_NOTICE = (
    "You have the right to lodge a complaint with a data protection supervisory authority "
    "and to seek a judicial remedy."
)


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: RequestStatus
    at: datetime
    actor: Actor
    reason: str | None = None


@dataclass(slots=True)
class DataSubjectRequest:
    """A request and its clock. ``due_at`` is None while the clock is paused: an e-mailed
    request's clock starts only once the sender's identity is verified."""

    id: uuid.UUID
    customer_id: uuid.UUID
    type: RequestType
    channel: Channel
    status: RequestStatus
    received_at: datetime
    acknowledged_at: datetime | None = None
    identity_verified_at: datetime | None = None
    identity_method: str | None = None
    due_at: datetime | None = None
    original_due_at: datetime | None = None
    extension_reason: str | None = None
    rejection_reason: str | None = None
    completed_at: datetime | None = None
    note: str | None = None
    history: list[StatusChange] = field(default_factory=list)

    @property
    def clock_paused(self) -> bool:
        return self.status is RequestStatus.IDENTITY_PENDING

    @property
    def extended(self) -> bool:
        return self.extension_reason is not None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def overdue(self, now: datetime) -> bool:
        return not self.final and self.due_at is not None and now > self.due_at
