"""Relaying the e-mail outbox to a mail server: what a ``datarights worker`` does on every turn.

As with webhooks, a turn is several short transactions: the claim commits at once (messages
are held by a lease, not a lock), each message goes to the server outside any transaction, and
each outcome is written in a transaction of its own, so a crash resends at most the message in
flight. Delivery is at least once; the Message-ID (the outbox id) lets mail systems spot a
repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from domain.dependencies import Dependencies
from domain.mail.model import MailOutcome, MailStatus, QueuedEmail, Settlement, settle
from domain.ports import MailTransport

log = logging.getLogger("datarights.mail")

DEFAULT_BATCH = 20
DEFAULT_LEASE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class RelayRun:
    """What one turn did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # Held past the lease, or taken over by another relay: left alone.
    expired: int = 0
    # Given back untried because the mail server could not be reached.
    released: int = 0

    @property
    def unreachable(self) -> bool:
        return self.released > 0

    def __add__(self, other: RelayRun) -> RelayRun:
        return RelayRun(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.expired + other.expired,
            self.released + other.released,
        )


async def relay_due(
    deps: Dependencies,
    transport: MailTransport,
    *,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> RelayRun:
    """Claim the messages that are due and hand each to the transport, oldest first; record
    each outcome, scheduling a retry with backoff or giving up as ``deps.mail_retries`` says.
    When the server cannot be reached, the rest of the batch is given back untried."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        claimed = await uow.mail_outbox.claim_due(now, now + lease, batch)
        await uow.commit()
    counts = {"sent": 0, "retrying": 0, "failed": 0, "expired": 0, "released": 0}
    for index, message in enumerate(claimed):
        if deps.clock.now() >= message.claimed_until:
            counts["expired"] += 1
            continue
        outcome = await transport.send(message)
        settlement = settle(message, outcome, deps.clock.now(), deps.mail_retries)
        async with deps.unit_of_work() as uow:
            kept = await uow.mail_outbox.settle(message, settlement)
            await uow.commit()
        if not kept:
            counts["expired"] += 1
        elif settlement.sent_at is not None:
            counts["sent"] += 1
        elif settlement.failed_at is not None:
            counts["failed"] += 1
        else:
            counts["retrying"] += 1
        _log(message, outcome, settlement, kept)
        if outcome.status is MailStatus.UNREACHABLE:
            rest = claimed[index + 1 :]
            if rest:
                async with deps.unit_of_work() as uow:
                    await uow.mail_outbox.release(rest)
                    await uow.commit()
                counts["released"] += len(rest)
            break
    return RelayRun(claimed=len(claimed), **counts)


def _log(message: QueuedEmail, outcome: MailOutcome, settlement: Settlement, kept: bool) -> None:
    # Ids and kinds only: the recipient and the content are personal data and may hold tokens.
    extra = {
        "message_id": str(message.id),
        "mail_kind": message.kind,
        "attempts": settlement.attempts,
    }
    if not kept:
        log.warning("e-mail %s (%s): lease lost, outcome not recorded", message.id, message.kind)
    elif settlement.sent_at is not None:
        log.info("e-mail %s (%s) sent", message.id, message.kind, extra=extra)
    else:
        log.warning(
            "e-mail %s (%s) not sent, attempt %d (%s%s): %s",
            message.id,
            message.kind,
            settlement.attempts,
            outcome.status.value.lower(),
            f" {outcome.detail}" if outcome.detail else "",
            "given up" if settlement.failed_at is not None else "will retry",
            extra=extra,
        )
