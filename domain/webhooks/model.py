"""A partner's webhook endpoint, the deliveries queued for it (the outbox) and their attempts."""

from __future__ import annotations

import base64
import enum
import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Standard Webhooks secrets: "whsec_" and the base64 of the key (here 256 random bits).
SECRET_PREFIX = "whsec_"


def new_signing_secret() -> str:
    """A shared secret in the Standard Webhooks format, shown to the partner once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(slots=True)
class WebhookEndpoint:
    """Where a partner wants consent changes POSTed, and the secret their signatures use."""

    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    secret: str = field(repr=False)
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


class DeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # for good: attempts exhausted, or the endpoint or partner is gone


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``first_delay`` doubled after each failure up to ``longest_delay``,
    each wait stretched by a random part of ``jitter`` so that retries of many deliveries do
    not arrive together; after ``max_attempts`` failures the delivery is given up."""

    first_delay: timedelta = timedelta(seconds=10)
    longest_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.25
    max_attempts: int = 10

    def delay_after(self, failures: int, spread: float | None = None) -> timedelta:
        """How long to wait after the ``failures``-th failure; ``spread`` in [0, 1) (random
        when not given) picks the jitter."""
        doublings = min(max(failures - 1, 0), 40)  # beyond 40 the cap has long been reached
        nominal = min(self.first_delay * (1 << doublings), self.longest_delay)
        # Not a secret: spreading retries needs no cryptographic randomness.
        part = random.random() if spread is None else spread  # noqa: S311
        return nominal * (1 + self.jitter * part)


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try at delivering, as the attempt log keeps it."""

    delivery_id: int
    number: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(slots=True)
class WebhookDelivery:
    """One event for one endpoint, in the outbox until it is delivered or given up."""

    event_id: str
    endpoint_id: uuid.UUID
    partner_id: uuid.UUID
    event_type: str
    payload: str
    created_at: datetime
    next_attempt_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    id: int | None = None

    def succeeded(self, at: datetime, status_code: int, duration_ms: int) -> WebhookAttempt:
        """The receiver accepted the event (a 2xx answer)."""
        attempt = self._attempted(at, status_code, None, duration_ms)
        self.status = DeliveryStatus.DELIVERED
        self.delivered_at = at
        return attempt

    def failed(
        self,
        at: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        policy: RetryPolicy,
        spread: float | None = None,
    ) -> WebhookAttempt:
        """The receiver refused, failed or could not be reached: try again later, or give up
        once the policy's attempts are spent."""
        attempt = self._attempted(at, status_code, error, duration_ms)
        if self.attempts >= policy.max_attempts:
            self.status = DeliveryStatus.FAILED
        else:
            self.next_attempt_at = at + policy.delay_after(self.attempts, spread)
        return attempt

    def abandon(self, at: datetime, reason: str) -> None:
        """Stop without sending: the endpoint was removed or its partner revoked."""
        self.status = DeliveryStatus.FAILED
        self.last_error = reason
        self.last_attempt_at = at

    def _attempted(
        self, at: datetime, status_code: int | None, error: str | None, duration_ms: int
    ) -> WebhookAttempt:
        assert self.id is not None, "only a stored delivery is attempted"
        assert self.status is DeliveryStatus.PENDING, "only a pending delivery is attempted"
        self.attempts += 1
        self.last_attempt_at = at
        self.last_status_code = status_code
        self.last_error = error
        return WebhookAttempt(self.id, self.attempts, at, status_code, error, duration_ms)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this worker holds until ``lease_until``; ``claim`` proves it still does when
    the outcome is written (after the lease another worker may have taken it over)."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    partner_active: bool
    claim: str
    lease_until: datetime
