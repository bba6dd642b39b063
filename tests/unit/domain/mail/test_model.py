"""What one try at sending does to a queued message: sent, retried with backoff, or given up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.mail.model import (
    MAIL_RETRIES,
    MailOutcome,
    MailStatus,
    NoticeProgress,
    QueuedEmail,
    Settlement,
    settle,
)
from domain.webhooks.model import RetryPolicy

AT = datetime(2030, 6, 15, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    first_delay=timedelta(minutes=1), longest_delay=timedelta(hours=1), jitter=0, max_attempts=3
)


def queued(attempts: int = 0) -> QueuedEmail:
    return QueuedEmail(
        id=uuid.uuid4(),
        kind="POLICY_NOTICE",
        to="ada@example.com",
        subject="s",
        body="b",
        attempts=attempts,
        claimed_until=AT + timedelta(minutes=5),
    )


def test_a_sent_message_is_stamped_sent() -> None:
    assert settle(queued(), MailOutcome(MailStatus.SENT), AT, POLICY) == Settlement(1, sent_at=AT)


def test_a_deferred_message_is_retried_later_and_later() -> None:
    first = settle(queued(0), MailOutcome(MailStatus.DEFERRED), AT, POLICY)
    second = settle(queued(1), MailOutcome(MailStatus.DEFERRED), AT, POLICY)
    assert first == Settlement(1, next_attempt_at=AT + timedelta(minutes=1))
    assert second == Settlement(2, next_attempt_at=AT + timedelta(minutes=2))


def test_an_unreachable_server_counts_as_a_try_too() -> None:
    outcome = MailOutcome(MailStatus.UNREACHABLE, "cannot connect")
    assert settle(queued(0), outcome, AT, POLICY).next_attempt_at is not None


def test_the_last_allowed_try_gives_up() -> None:
    outcome = MailOutcome(MailStatus.DEFERRED, "SMTP 451")
    assert settle(queued(2), outcome, AT, POLICY) == Settlement(3, failed_at=AT)


def test_a_rejected_message_fails_at_once() -> None:
    outcome = MailOutcome(MailStatus.REJECTED, "SMTP 550")
    assert settle(queued(0), outcome, AT, POLICY) == Settlement(1, failed_at=AT)


def test_the_default_policy_keeps_trying_for_about_a_day() -> None:
    waited = sum(
        (MAIL_RETRIES.delay_after(n, spread=0) for n in range(1, MAIL_RETRIES.max_attempts)),
        timedelta(),
    )
    assert timedelta(hours=12) < waited < timedelta(days=2)


def test_the_recipient_and_content_stay_out_of_the_repr() -> None:
    assert "ada@example.com" not in repr(queued())


def test_pending_is_what_is_neither_sent_nor_failed() -> None:
    assert NoticeProgress(queued=10, sent=6, failed=1).pending == 3
