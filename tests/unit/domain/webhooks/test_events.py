"""Each sharing change is queued for the partners registered for it, in the same transaction."""

from __future__ import annotations

import json

import pytest

from domain.consent import use_cases as consent
from domain.consent.model import CommunicationTopic, SharingPurpose
from domain.dependencies import Dependencies
from domain.errors import DomainError
from domain.identity.use_cases import SignedIn
from domain.partners import use_cases as partners
from domain.webhooks import use_cases as webhooks
from domain.webhooks.model import DeliveryStatus
from domain.webhooks.use_cases import IssuedWebhook
from tests.unit.domain.webhooks.conftest import OTHER_HOOK
from tests.unit.examples import CLIENT
from tests.unit.fakes import FakeClock, InMemoryStore, InMemoryWebhooks, nothing_written

OFFERS = SharingPurpose.PARTNER_OFFERS
INTEGRATIONS = SharingPurpose.INTEGRATION_PARTNERS


async def share(deps: Dependencies, who: SignedIn, *choices: tuple[SharingPurpose, bool]) -> None:
    await consent.set_sharing_preferences(deps, who.session, choices, CLIENT, gpc_signal=False)


async def test_a_change_is_queued_once_for_each_webhook_of_a_partner_registered_for_it(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn, acme: IssuedWebhook
) -> None:
    # given a second partner, registered for integrations only, with its own webhook
    await partners.create_partner(deps, "Globex", [INTEGRATIONS])
    await webhooks.add_webhook(deps, "Globex", OTHER_HOOK)
    # when Ada grants partner offers
    await share(deps, ada, (OFFERS, True))
    # then only Acme hears of it, once
    (delivery,) = store.committed.webhook_deliveries.values()
    entry = store.committed.ledger[-1]
    assert delivery.endpoint_id == acme.endpoint.id
    assert delivery.event_id == f"evt_{entry.id}"
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.next_attempt_at == entry.occurred_at
    body = json.loads(delivery.payload)
    assert body["type"] == "consent.changed"
    assert body["data"] == {
        "eventId": f"evt_{entry.id}",
        "customerId": str(ada.customer.id),
        "purpose": "PARTNER_OFFERS",
        "granted": True,
        "previous": False,
        "occurredAt": body["timestamp"],
        "source": "SELF_SERVICE",
        "actor": "CUSTOMER",
    }


async def test_every_change_of_one_call_is_its_own_event(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn, acme: IssuedWebhook, clock: FakeClock
) -> None:
    await partners.create_partner(deps, "Globex", [OFFERS, INTEGRATIONS])
    await webhooks.add_webhook(deps, "Globex", OTHER_HOOK)
    await share(deps, ada, (OFFERS, True), (INTEGRATIONS, True))
    clock.advance(seconds=1)
    await share(deps, ada, (OFFERS, False))
    queued = sorted(
        (d.event_id, d.endpoint_id) for d in store.committed.webhook_deliveries.values()
    )
    # Acme: two changes of partner offers; Globex: those two and the integration grant.
    assert len(queued) == 5
    assert len({event for event, _ in queued}) == 3


async def test_defaults_communication_choices_and_unchanged_choices_are_not_sent(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn, acme: IssuedWebhook
) -> None:
    await consent.set_communication_preferences(
        deps, ada.session, [(CommunicationTopic.NEWSLETTER, True)], CLIENT
    )
    await share(deps, ada, (OFFERS, False), (SharingPurpose.AGGREGATE_STATISTICS, False))
    assert store.committed.webhook_deliveries == {}


async def test_a_partner_registered_for_aggregate_statistics_never_hears_that_choice(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    await partners.create_partner(deps, "Globex", [OFFERS, SharingPurpose.AGGREGATE_STATISTICS])
    await webhooks.add_webhook(deps, "Globex", OTHER_HOOK)
    await share(deps, ada, (OFFERS, True), (SharingPurpose.AGGREGATE_STATISTICS, False))
    (delivery,) = store.committed.webhook_deliveries.values()
    assert json.loads(delivery.payload)["data"]["purpose"] == "PARTNER_OFFERS"


async def test_a_removed_webhook_or_a_revoked_partner_hears_nothing_more(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn, acme: IssuedWebhook
) -> None:
    await webhooks.remove_webhook(deps, "Acme", acme.endpoint.url)
    await share(deps, ada, (OFFERS, True))
    await partners.create_partner(deps, "Globex", [OFFERS])
    await webhooks.add_webhook(deps, "Globex", OTHER_HOOK)
    await partners.revoke_partner(deps, "Globex")
    await share(deps, ada, (OFFERS, False))
    assert store.committed.webhook_deliveries == {}


async def test_a_refused_choice_queues_nothing(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn, acme: IssuedWebhook
) -> None:
    with nothing_written(store), pytest.raises(DomainError):
        await share(deps, ada, (OFFERS, True), (OFFERS, False))


async def test_a_change_that_fails_after_its_entry_was_written_leaves_neither_entry_nor_event(
    deps: Dependencies,
    store: InMemoryStore,
    ada: SignedIn,
    acme: IssuedWebhook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a fault after the entry and the event are written in the transaction
    enqueue = InMemoryWebhooks.enqueue

    async def enqueue_then_fail(self: InMemoryWebhooks, deliveries: object) -> None:
        await enqueue(self, deliveries)  # type: ignore[arg-type]
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(InMemoryWebhooks, "enqueue", enqueue_then_fail)
    # when / then
    with nothing_written(store), pytest.raises(RuntimeError):
        await share(deps, ada, (OFFERS, True))
