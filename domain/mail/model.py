"""A queued e-mail as the relay holds it, what sending it gave, and what is written back."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.webhooks.model import RetryPolicy

# Mail servers retry for days; ours gives up after about a day of refusals (1 minute doubling
# up to 4 hours, 12 tries), then the message is marked failed for someone to look at.
MAIL_RETRIES = RetryPolicy(
    first_delay=timedelta(minutes=1), longest_delay=timedelta(hours=4), max_attempts=12
)


class MailStatus(enum.Enum):
    """How one try at sending went."""

    SENT = "SENT"
    # The server said "later" (4xx), or the conversation broke off: try again.
    DEFERRED = "DEFERRED"
    # The server refused this message for good (5xx): trying again would not help.
    REJECTED = "REJECTED"
    # No server to talk to (cannot connect, or it refused our credentials): the fault is the
    # relay's, not the message's, so the rest of the turn waits for the next one.
    UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True, slots=True)
class MailOutcome:
    """What the transport reports; ``detail`` is short and never holds the server's text
    (which may echo the recipient), only codes and error classes, so it may be logged."""

    status: MailStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class QueuedEmail:
    """A message claimed from the outbox, held by its claimer until ``claimed_until``."""

    id: uuid.UUID
    kind: str
    to: str = field(repr=False)
    subject: str = field(repr=False)
    body: str = field(repr=False)
    attempts: int
    claimed_until: datetime


@dataclass(frozen=True, slots=True)
class Settlement:
    """The message's state after a try: sent, to try again at ``next_attempt_at``, or failed."""

    attempts: int
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    failed_at: datetime | None = None


def settle(
    message: QueuedEmail,
    outcome: MailOutcome,
    at: datetime,
    policy: RetryPolicy = MAIL_RETRIES,
    spread: float | None = None,
) -> Settlement:
    """The state after one try at ``at``: a rejected message fails at once, any other failure
    is retried with backoff until the policy's attempts are spent."""
    attempts = message.attempts + 1
    if outcome.status is MailStatus.SENT:
        return Settlement(attempts, sent_at=at)
    if outcome.status is MailStatus.REJECTED or attempts >= policy.max_attempts:
        return Settlement(attempts, failed_at=at)
    return Settlement(attempts, next_attempt_at=at + policy.delay_after(attempts, spread))


@dataclass(frozen=True, slots=True)
class NoticeProgress:
    """How far the notices of one bulk mailing have gone."""

    queued: int
    sent: int
    failed: int

    @property
    def pending(self) -> int:
        return self.queued - self.sent - self.failed
