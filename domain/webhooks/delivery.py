"""Delivering the outbox: what a ``datarights worker`` does on every turn.

Each turn is several short transactions rather than one: claiming commits at once (the rows
are held by a lease, not by a lock), the POSTs happen outside any transaction, and each outcome
is written in a transaction of its own. A worker that dies mid-turn leaves leases that expire,
and another worker takes the deliveries over. Delivery is therefore at least once: a receiver
recognises a repeat by its ``webhook-id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.dependencies import Dependencies
from domain.ports import OutgoingWebhook, WebhookSender
from domain.webhooks.model import ClaimedDelivery, DeliveryStatus, WebhookAttempt
from domain.webhooks.targets import TargetRefused, check_target

DEFAULT_BATCH = 20
# Long enough for a whole batch of sends that each time out, with room to write the outcomes.
DEFAULT_LEASE = timedelta(minutes=5)

# What the partner reads in its delivery log: nothing about our network, only what happened.
REFUSED_ADDRESS = "Not sent: the URL's host does not resolve to a public address."
ENDPOINT_REMOVED = "Not sent: the webhook was removed."
PARTNER_REVOKED = "Not sent: the partner was revoked."


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    """What one turn did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    # Held past the lease: left alone, since another worker may have taken them over.
    expired: int = 0

    def __add__(self, other: DeliveryRun) -> DeliveryRun:
        return DeliveryRun(
            self.claimed + other.claimed,
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.expired + other.expired,
        )


async def deliver_due(
    deps: Dependencies,
    sender: WebhookSender,
    *,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryRun:
    """Claim the deliveries that are due, POST each (oldest first), record every attempt and
    schedule a retry with backoff for each that failed."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        claimed = await uow.webhooks.claim_due(now, now + lease, batch)
        await uow.commit()
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "expired": 0}
    for held in claimed:
        if deps.clock.now() >= held.lease_until:
            counts["expired"] += 1
            continue
        attempt = await _attempt(deps, sender, held)
        async with deps.unit_of_work() as uow:
            kept = await uow.webhooks.settle(held.delivery, held.claim, attempt)
            await uow.commit()
        status = held.delivery.status
        if not kept:
            counts["expired"] += 1
        elif status is DeliveryStatus.DELIVERED:
            counts["delivered"] += 1
        elif status is DeliveryStatus.FAILED:
            counts["failed"] += 1
        else:
            counts["retrying"] += 1
    return DeliveryRun(claimed=len(claimed), **counts)


async def _attempt(
    deps: Dependencies, sender: WebhookSender, held: ClaimedDelivery
) -> WebhookAttempt | None:
    delivery, endpoint = held.delivery, held.endpoint
    at = deps.clock.now()
    if not endpoint.active or not held.partner_active:
        delivery.abandon(at, ENDPOINT_REMOVED if not endpoint.active else PARTNER_REVOKED)
        return None
    try:
        # Again now, not only at registration: the name may point elsewhere since.
        target = await check_target(endpoint.url, deps.webhook_targets, deps.resolver)
    except TargetRefused:
        return delivery.failed(at, None, REFUSED_ADDRESS, 0, deps.webhook_retries)
    response = await sender.send(
        OutgoingWebhook(
            url=endpoint.url,
            connect_to=target.connect_to,
            message_id=delivery.event_id,
            timestamp=at,
            body=delivery.payload,
            secret=endpoint.secret,
        )
    )
    if response.accepted:
        assert response.status_code is not None
        return delivery.succeeded(at, response.status_code, response.duration_ms)
    error = response.error or f"The receiver answered HTTP {response.status_code}."
    return delivery.failed(
        at, response.status_code, error, response.duration_ms, deps.webhook_retries
    )
