"""Consent changes as webhook events, queued in the transaction that makes the change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from domain.consent.model import PER_CUSTOMER_PURPOSES, ConsentEntry, SharingPurpose, Source
from domain.ports import UnitOfWork
from domain.webhooks.model import WebhookDelivery, WebhookEndpoint

CONSENT_CHANGED = "consent.changed"


def event_id(entry: ConsentEntry) -> str:
    """Stable across retries and endpoints: receivers use it to ignore a repeated delivery."""
    assert entry.id is not None, "an entry gets its id from the ledger"
    return f"evt_{entry.id}"


def consent_changed_payload(entry: ConsentEntry) -> str:
    """The body of a ``consent.changed`` event, in the Standard Webhooks envelope."""
    assert isinstance(entry.subject, SharingPurpose)
    occurred_at = entry.occurred_at.isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "type": CONSENT_CHANGED,
            "timestamp": occurred_at,
            "data": {
                "eventId": event_id(entry),
                "customerId": str(entry.customer_id),
                "purpose": entry.subject.value,
                "granted": entry.granted,
                "previous": entry.previous,
                "occurredAt": occurred_at,
                "source": entry.source.value,
                "actor": entry.actor.value,
            },
        },
        separators=(",", ":"),
    )


def deliveries_for(
    entries: Sequence[ConsentEntry],
    listeners: Sequence[tuple[WebhookEndpoint, frozenset[SharingPurpose]]],
    now: datetime,
) -> list[WebhookDelivery]:
    """One delivery per change and per active endpoint of a partner registered for its purpose.
    Defaults written at registration are not changes anyone chose, so they are not sent; nor
    is a choice about aggregate statistics, which partners only ever see counted in groups."""
    deliveries = []
    for entry in entries:
        if not _announced(entry):
            continue
        payload = consent_changed_payload(entry)
        for endpoint, purposes in listeners:
            if endpoint.active and entry.subject in purposes:
                deliveries.append(
                    WebhookDelivery(
                        event_id=event_id(entry),
                        endpoint_id=endpoint.id,
                        partner_id=endpoint.partner_id,
                        event_type=CONSENT_CHANGED,
                        payload=payload,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
    return deliveries


async def enqueue_consent_events(
    uow: UnitOfWork, entries: Sequence[ConsentEntry], now: datetime
) -> int:
    """Queue the events of entries just appended, in the caller's transaction: they are sent
    if and only if the change commits. Returns how many deliveries were queued."""
    purposes = {
        e.subject for e in entries if isinstance(e.subject, SharingPurpose) and _announced(e)
    }
    if not purposes:
        return 0
    listeners = await uow.webhooks.listening(sorted(purposes, key=lambda p: p.value))
    deliveries = deliveries_for(entries, listeners, now)
    if deliveries:
        await uow.webhooks.enqueue(deliveries)
    return len(deliveries)


def _announced(entry: ConsentEntry) -> bool:
    return entry.subject in PER_CUSTOMER_PURPOSES and entry.source is not Source.DEFAULT
