"""A partner, its API keys, and what it read."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.consent.model import PER_CUSTOMER_PURPOSES, SharingPurpose

# Recognisable in logs and secret scanners; the rest is 256 random bits.
KEY_PREFIX = "drp_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


@dataclass(slots=True)
class Partner:
    id: uuid.UUID
    name: str
    purposes: frozenset[SharingPurpose]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def per_customer_purposes(self) -> list[SharingPurpose]:
        """The purposes it may ask about customer by customer (aggregate statistics are only
        ever counted in groups), in a stable order."""
        return [p for p in PER_CUSTOMER_PURPOSES if p in self.purposes]


@dataclass(slots=True)
class PartnerKey:
    """An API key, stored as a hash. A rotated-out key works until ``expires_at``."""

    id: uuid.UUID
    partner_id: uuid.UUID
    key_hash: str = field(repr=False)
    hint: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class ConsentAnswer:
    """What a partner learns of one customer and one purpose."""

    customer_id: str
    purpose: SharingPurpose
    granted: bool
    updated_at: datetime | None
