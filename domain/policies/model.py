"""A version of the privacy policy and a customer's acknowledgement of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: str
    summary: str
    url: str
    announced_at: datetime
    effective_at: datetime
    published_by: uuid.UUID | None = None

    def in_force(self, now: datetime) -> bool:
        return self.effective_at <= now


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    customer_id: uuid.UUID
    version: str
    acknowledged_at: datetime
