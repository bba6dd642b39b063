"""The worker's turn: claim what is due, POST it, log the attempt, retry with backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.consent import use_cases as consent
from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.partners import use_cases as partners
from domain.profile import use_cases as profile
from domain.webhooks import use_cases as webhooks
from domain.webhooks.delivery import REFUSED_ADDRESS, DeliveryRun, deliver_due
from domain.webhooks.model import DeliveryStatus, RetryPolicy, WebhookDelivery
from domain.webhooks.use_cases import IssuedWebhook
from tests.unit.domain.webhooks.conftest import PUBLIC
from tests.unit.examples import CLIENT, PASSWORD, card_form, registration_values
from tests.unit.fakes import FakeClock, FakeResolver, FakeWebhookSender, InMemoryStore

OFFERS = SharingPurpose.PARTNER_OFFERS


async def queue_one(deps: Dependencies, email: str = "ada@example.com") -> None:
    """A customer grants partner offers: one event for each listening webhook."""
    values = {**registration_values(), ("email",): email}
    ada = await profile.register(deps, values, card_form(), PASSWORD, CLIENT)
    await consent.set_sharing_preferences(
        deps, ada.session, [(OFFERS, True)], CLIENT, gpc_signal=False
    )


def only_delivery(store: InMemoryStore) -> WebhookDelivery:
    (delivery,) = store.committed.webhook_deliveries.values()
    return delivery


async def test_a_due_event_is_posted_signed_with_the_endpoint_secret_to_the_checked_address(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook, clock: FakeClock
) -> None:
    await queue_one(deps)
    sender = FakeWebhookSender(204)
    run = await deliver_due(deps, sender)
    assert run == DeliveryRun(claimed=1, delivered=1)
    (sent,) = sender.sent
    delivery = only_delivery(store)
    assert (sent.url, sent.connect_to, sent.secret) == (acme.endpoint.url, PUBLIC, acme.secret)
    assert (sent.message_id, sent.body) == (delivery.event_id, delivery.payload)
    assert sent.timestamp == clock.now()
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.delivered_at == clock.now()
    assert [(a.number, a.status_code) for a in store.committed.webhook_attempts] == [(1, 204)]
    assert await deliver_due(deps, sender) == DeliveryRun()


async def test_failures_are_retried_with_growing_waits_until_one_succeeds(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook, clock: FakeClock
) -> None:
    await queue_one(deps)
    sender = FakeWebhookSender(500, 500, 500, 200)
    waited = timedelta()
    for nominal in (10, 20, 40):
        assert (await deliver_due(deps, sender)).retrying == 1
        # not before the nominal wait, and not more than a quarter after it
        clock.advance(seconds=nominal - 0.001)
        assert await deliver_due(deps, sender) == DeliveryRun()
        clock.advance(seconds=nominal * 0.25 + 0.001)
        waited += timedelta(seconds=nominal * 1.25)
    assert (await deliver_due(deps, sender)).delivered == 1
    delivery = only_delivery(store)
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.attempts == 4
    assert len(sender.sent) == 4
    assert [(a.number, a.status_code) for a in store.committed.webhook_attempts] == [
        (1, 500),
        (2, 500),
        (3, 500),
        (4, 200),
    ]


async def test_a_receiver_that_never_answers_is_given_up_after_the_last_attempt(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook, clock: FakeClock
) -> None:
    await queue_one(deps)
    sender = FakeWebhookSender(None)
    policy = RetryPolicy()
    for _ in range(policy.max_attempts):
        await deliver_due(deps, sender)
        clock.advance(hours=2)
    delivery = only_delivery(store)
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.attempts == policy.max_attempts
    assert delivery.last_error == "No answer from the receiver (ConnectError)."
    assert await deliver_due(deps, sender) == DeliveryRun()
    assert len(sender.sent) == policy.max_attempts


def test_the_wait_doubles_up_to_its_ceiling_and_jitter_only_lengthens_it() -> None:
    policy = RetryPolicy()
    assert [policy.delay_after(n, spread=0).total_seconds() for n in (1, 2, 3, 4)] == [
        10,
        20,
        40,
        80,
    ]
    assert policy.delay_after(30, spread=0) == timedelta(hours=1)
    assert policy.delay_after(1, spread=0.999) < timedelta(seconds=12.5)
    assert all(
        timedelta(seconds=10) <= policy.delay_after(1) < timedelta(seconds=12.5) for _ in range(100)
    )


async def test_a_host_that_now_resolves_to_a_private_address_is_not_sent_to(
    deps: Dependencies,
    store: InMemoryStore,
    acme: IssuedWebhook,
    resolver: FakeResolver,
) -> None:
    # given a name that pointed to a public address at registration (DNS rebinding)
    await queue_one(deps)
    resolver.answers["hooks.acme.example"] = ["127.0.0.1"]
    sender = FakeWebhookSender(200)
    # when
    run = await deliver_due(deps, sender)
    # then
    assert sender.sent == []
    assert run.retrying == 1
    delivery = only_delivery(store)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.last_error == REFUSED_ADDRESS
    assert "127.0.0.1" not in REFUSED_ADDRESS


async def test_a_crashed_workers_claim_expires_and_another_worker_delivers(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook, clock: FakeClock
) -> None:
    # given a worker that claimed the delivery and died before writing the outcome
    await queue_one(deps)
    async with deps.unit_of_work() as uow:
        (stale,) = await uow.webhooks.claim_due(clock.now(), clock.now() + timedelta(minutes=5), 10)
        await uow.commit()
    sender = FakeWebhookSender(200)
    # then nobody takes it while the lease runs
    clock.advance(minutes=4)
    assert await deliver_due(deps, sender) == DeliveryRun()
    # and another worker does once it has run out
    clock.advance(minutes=1)
    assert (await deliver_due(deps, sender)).delivered == 1
    assert len(sender.sent) == 1
    # the first worker's late outcome, if it ever came, changes nothing
    stale.delivery.failed(clock.now(), 500, "late", 1, RetryPolicy())
    async with deps.unit_of_work() as uow:
        assert await uow.webhooks.settle(stale.delivery, stale.claim, None) is False
        await uow.commit()
    assert only_delivery(store).status is DeliveryStatus.DELIVERED


async def test_a_claim_held_past_its_lease_is_left_alone(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook, clock: FakeClock
) -> None:
    await queue_one(deps)

    class SlowSender(FakeWebhookSender):
        async def send(self, webhook: object) -> object:  # type: ignore[override]
            clock.advance(minutes=10)  # longer than the lease
            return await super().send(webhook)  # type: ignore[arg-type]

    await queue_one(deps, "grace@example.com")
    sender = SlowSender(200)
    run = await deliver_due(deps, sender, lease=timedelta(minutes=5))
    assert run == DeliveryRun(claimed=2, delivered=1, expired=1)
    assert len(sender.sent) == 1


@pytest.mark.parametrize("gone", ["webhook", "partner"])
async def test_nothing_is_sent_for_a_removed_webhook_or_a_revoked_partner(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook, clock: FakeClock, gone: str
) -> None:
    await queue_one(deps)
    if gone == "webhook":
        # removed in a way that left the delivery pending (as a removal racing a claim could)
        store.committed.webhook_endpoints[acme.endpoint.id].disabled_at = clock.now()
    else:
        await partners.revoke_partner(deps, "Acme")
    sender = FakeWebhookSender(200)
    run = await deliver_due(deps, sender)
    assert sender.sent == []
    assert run.failed == 1
    assert only_delivery(store).status is DeliveryStatus.FAILED
    assert store.committed.webhook_attempts == []


async def test_a_partner_reads_only_its_own_deliveries_and_their_attempts(
    deps: Dependencies, store: InMemoryStore, acme: IssuedWebhook
) -> None:
    # given Globex, also registered for partner offers, and two events for each
    globex = await partners.create_partner(deps, "Globex", [OFFERS])
    await webhooks.add_webhook(deps, "Globex", "https://hooks.globex.example/consent")
    await queue_one(deps)
    await queue_one(deps, "grace@example.com")
    await deliver_due(deps, FakeWebhookSender(200))
    # when
    mine = await webhooks.webhook_deliveries(deps, acme.partner, 10, None)
    theirs = await webhooks.webhook_deliveries(deps, globex.partner, 1, None)
    # then
    assert {d.endpoint_id for d in mine} == {acme.endpoint.id}
    assert [d.id for d in mine] == sorted((d.id for d in mine), reverse=True)
    assert len(theirs) == 2  # one asked for, one more to tell that there are more
    ids = [d.id for d in mine + theirs if d.id is not None]
    attempts = await webhooks.delivery_attempts(deps, acme.partner, ids)
    assert {i for i, found in attempts.items() if found} == {d.id for d in mine}
