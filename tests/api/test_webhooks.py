"""Webhooks over real HTTP: each consent change reaches the partners registered for it, signed
the Standard Webhooks way, retried while the receiver fails, and logged for the partner."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.network import HttpxWebhookSender
from api.settings import Settings
from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.errors import DomainError
from domain.partners import use_cases as partners
from domain.webhooks import use_cases as webhooks
from domain.webhooks.delivery import DeliveryRun, deliver_due
from domain.webhooks.targets import TargetRules
from persistence.tables import consent_ledger, webhook_deliveries
from tests.api.documents import SET_SHARING
from tests.api.helpers import register
from tests.api.webhook_receiver import Receiver, closed_port, receiving
from tests.conftest import FakeClock, snapshot
from tests.graphql import GraphQLClient
from tests.unit.fakes import FakeResolver

DELIVERIES = """
query Deliveries($first: Int!, $after: String) {
  webhookDeliveries(first: $first, after: $after) {
    edges {
      cursor
      node {
        eventId eventType payload status attempts lastStatusCode lastError
        createdAt lastAttemptAt nextAttemptAt deliveredAt
        attemptLog { number statusCode error attemptedAt durationMs }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

OFFERS = SharingPurpose.PARTNER_OFFERS


@dataclasses.dataclass(frozen=True)
class Partner:
    key: str
    secret: str


async def partner_with_webhook(
    deps: Dependencies, url: str, name: str = "Acme", purposes: Any = (OFFERS,)
) -> Partner:
    issued = await partners.create_partner(deps, name, list(purposes))
    hook = await webhooks.add_webhook(deps, name, url)
    return Partner(issued.key, hook.secret)


async def share(client: GraphQLClient, token: str, **choices: bool) -> dict[str, Any]:
    preferences = [{"purpose": p, "granted": g} for p, g in choices.items()]
    return await client.execute(SET_SHARING, {"input": {"preferences": preferences}}, token=token)


async def grant(client: GraphQLClient, token: str, **choices: bool) -> None:
    result = await share(client, token, **choices)
    assert result["data"]["setSharingPreferences"]["errors"] == [], result


async def deliveries(
    client: GraphQLClient, key: str, first: int = 50, after: str | None = None
) -> list[dict[str, Any]]:
    data = await client.data(DELIVERIES, {"first": first, "after": after}, token=key)
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


async def test_a_consent_change_reaches_the_partner_once_signed_and_verifiable(
    client: GraphQLClient, deps: Dependencies, receiver: Receiver, sender: HttpxWebhookSender
) -> None:
    # given a partner whose webhook listens on loopback, and a customer
    acme = await partner_with_webhook(deps, receiver.url)
    token, customer = await register(client)
    # when the customer grants partner offers and a worker turn runs
    await grant(client, token, PARTNER_OFFERS=True)
    run = await deliver_due(deps, sender)
    # then the receiver got one POST whose signature verifies with the partner's secret
    assert run == DeliveryRun(claimed=1, delivered=1)
    (request,) = receiver.received
    payload = request.verified(acme.secret)
    assert payload["type"] == "consent.changed"
    event = payload["data"]
    assert event == {
        "eventId": request.headers["Webhook-Id"],
        "customerId": customer["id"],
        "purpose": "PARTNER_OFFERS",
        "granted": True,
        "previous": False,
        "occurredAt": event["occurredAt"],
        "source": "SELF_SERVICE",
        "actor": "CUSTOMER",
    }
    assert request.headers["Webhook-Id"].startswith("evt_")
    assert request.headers["Content-Type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        request.verified("whsec_" + "A" * 43 + "=")
    # and the partner's log shows it delivered, with its one attempt
    (logged,) = await deliveries(client, acme.key)
    assert logged["eventId"] == request.headers["Webhook-Id"]
    assert logged["payload"] == request.body
    assert (logged["status"], logged["attempts"], logged["lastStatusCode"]) == ("DELIVERED", 1, 200)
    assert logged["deliveredAt"] is not None
    assert logged["nextAttemptAt"] is None
    assert [a["statusCode"] for a in logged["attemptLog"]] == [200]
    # and nothing is sent twice
    assert await deliver_due(deps, sender) == DeliveryRun()
    assert len(receiver.received) == 1


async def test_a_receiver_failing_three_times_gets_the_event_once_after_backed_off_retries(
    timed_client: GraphQLClient,
    deps: Dependencies,
    clock: FakeClock,
    receiver: Receiver,
    sender: HttpxWebhookSender,
) -> None:
    # given a receiver that answers 500 three times, then 200
    timed = dataclasses.replace(deps, clock=clock)
    acme = await partner_with_webhook(timed, receiver.url)
    token, _ = await register(timed_client)
    await grant(timed_client, token, PARTNER_OFFERS=True)
    receiver.answer_with(500, 500, 500, 200)
    # when the worker runs at every step of the backoff, and in between
    for wait in (10, 20, 40):
        assert (await deliver_due(timed, sender)).retrying == 1
        clock.advance(seconds=wait - 0.5)  # not due yet: nothing is sent
        assert await deliver_due(timed, sender) == DeliveryRun()
        clock.advance(seconds=wait * 0.25 + 0.5)  # the longest jitter has passed
    assert (await deliver_due(timed, sender)).delivered == 1
    assert await deliver_due(timed, sender) == DeliveryRun()
    # then four POSTs of the same event, each signed, and it was delivered exactly once
    assert len(receiver.received) == 4
    assert len({r.headers["Webhook-Id"] for r in receiver.received}) == 1
    for request in receiver.received:
        request.verified(acme.secret)
    (logged,) = await deliveries(timed_client, acme.key)
    assert (logged["status"], logged["attempts"], logged["lastStatusCode"]) == ("DELIVERED", 4, 200)
    log = logged["attemptLog"]
    assert [(a["number"], a["statusCode"]) for a in log] == [(1, 500), (2, 500), (3, 500), (4, 200)]
    assert log[0]["error"] == "The receiver answered HTTP 500."
    # each wait at least the nominal one, at most a quarter longer (plus the test's step)
    times = [datetime.fromisoformat(a["attemptedAt"]) for a in log]
    waits = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    for wait, nominal in zip(waits, (10, 20, 40), strict=True):
        assert nominal <= wait <= nominal * 1.25 + 0.5


async def test_changes_made_while_the_receiver_is_down_all_arrive_in_order_when_it_returns(
    timed_client: GraphQLClient, deps: Dependencies, clock: FakeClock, sender: HttpxWebhookSender
) -> None:
    # given a webhook at a port where nothing listens yet
    timed = dataclasses.replace(deps, clock=clock)
    port = closed_port()
    acme = await partner_with_webhook(timed, f"http://127.0.0.1:{port}/consent")
    token, _ = await register(timed_client)
    # when three changes happen while it is down, the worker trying after each
    for granted in (True, False, True):
        await grant(timed_client, token, PARTNER_OFFERS=granted)
        assert (await deliver_due(timed, sender)).retrying == 1
        clock.advance(seconds=1)
    logged = await deliveries(timed_client, acme.key)
    assert [(d["status"], d["lastStatusCode"]) for d in logged] == [("PENDING", None)] * 3
    assert logged[0]["lastError"] == "No answer from the receiver (ConnectError)."
    # and it comes back
    with receiving(port) as receiver:
        clock.advance(seconds=13)
        run = await deliver_due(timed, sender)
        # then nothing was lost, and the events arrived in the order they happened
        assert run.delivered == 3
        granted = [r.verified(acme.secret)["data"]["granted"] for r in receiver.received]
    assert granted == [True, False, True]
    logged = await deliveries(timed_client, acme.key)
    assert {(d["status"], d["attempts"]) for d in logged} == {("DELIVERED", 2)}


async def test_a_change_that_fails_after_writing_leaves_neither_ledger_entry_nor_outbox_row(
    settings: Settings,
    deps: Dependencies,
    engine: AsyncEngine,
    client: GraphQLClient,
    receiver: Receiver,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    # given a partner listening, a customer, and a database that fails right after the event
    # is written to the outbox, in the middle of the change's transaction
    await partner_with_webhook(deps, receiver.url)
    token, _ = await register(client)
    faulty = FaultAfterOutbox(deps.unit_of_work)
    app = create_app(settings, dataclasses.replace(deps, unit_of_work=faulty))
    before = await snapshot(engine)
    # when
    async with _client_of(app) as failing:
        result = await share(failing, token, PARTNER_OFFERS=True)
    # then the call failed, after the entry and the event were written in its transaction
    assert result["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert faulty.rows_seen_in_transaction == {"ledger": 10, "outbox": 1}
    # and neither is left
    assert await snapshot(engine) == before
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(webhook_deliveries)) == 0
        assert await conn.scalar(select(func.count()).select_from(consent_ledger)) == 9
    assert any(r.levelno == logging.ERROR for r in captured_logs.records)


async def test_production_refuses_webhook_urls_that_reach_inside_and_development_allows_loopback(
    deps: Dependencies, engine: AsyncEngine
) -> None:
    # given production's rules, with a DNS name that points into a private network
    dns = FakeResolver({"internal.acme.example": ["10.1.2.3"]})
    production = dataclasses.replace(deps, webhook_targets=TargetRules(), resolver=dns)
    await partners.create_partner(deps, "Acme", [OFFERS])
    before = await snapshot(engine)
    # when / then
    for url in (
        "http://127.0.0.1:8080/consent",
        "http://10.0.0.1/consent",
        "https://169.254.169.254/latest/meta-data",
        "https://internal.acme.example/consent",
    ):
        with pytest.raises(DomainError) as refused:
            await webhooks.add_webhook(production, "Acme", url)
        assert [p.field for p in refused.value.problems] == [("url",)]
    assert await snapshot(engine) == before
    # development allows plain HTTP to this machine
    allowed = await webhooks.add_webhook(deps, "Acme", "http://127.0.0.1:8080/consent")
    assert allowed.secret.startswith("whsec_")


async def test_delivery_refuses_a_name_that_now_points_to_a_private_address(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine, sender: HttpxWebhookSender
) -> None:
    # given a webhook registered while its name pointed to a public address
    dns = FakeResolver({"hooks.acme.example": ["93.184.216.34"]})
    production = dataclasses.replace(deps, webhook_targets=TargetRules(), resolver=dns)
    acme = await partners.create_partner(production, "Acme", [OFFERS])
    await webhooks.add_webhook(production, "Acme", "https://hooks.acme.example/consent")
    token, _ = await register(client)
    await grant(client, token, PARTNER_OFFERS=True)
    # when the name is rebound to this machine before the worker runs
    dns.answers["hooks.acme.example"] = ["127.0.0.1"]
    run = await deliver_due(production, sender)
    # then nothing is sent, and the partner's log says why without naming the address
    assert run == DeliveryRun(claimed=1, retrying=1)
    (logged,) = await deliveries(client, acme.key)
    assert logged["status"] == "PENDING"
    assert logged["attemptLog"][0]["statusCode"] is None
    assert "public" in logged["lastError"]
    assert "127.0.0.1" not in logged["lastError"]


async def test_a_partner_sees_only_its_own_deliveries_newest_first_page_by_page(
    client: GraphQLClient, deps: Dependencies, receiver: Receiver, sender: HttpxWebhookSender
) -> None:
    # given two partners listening to partner offers, one also to integrations
    acme = await partner_with_webhook(deps, receiver.url)
    globex = await partner_with_webhook(
        deps, receiver.url + "?from=globex", "Globex", (OFFERS, SharingPurpose.INTEGRATION_PARTNERS)
    )
    token, _ = await register(client)
    await grant(client, token, PARTNER_OFFERS=True)
    await grant(client, token, INTEGRATION_PARTNERS=True)
    await grant(client, token, PARTNER_OFFERS=False)
    await deliver_due(deps, sender)
    # when
    acme_log = await deliveries(client, acme.key)
    globex_log = await deliveries(client, globex.key)
    # then each sees its own, newest first
    assert [json_of(d)["granted"] for d in acme_log] == [False, True]
    assert [json_of(d)["purpose"] for d in globex_log] == [
        "PARTNER_OFFERS",
        "INTEGRATION_PARTNERS",
        "PARTNER_OFFERS",
    ]
    assert len(receiver.received) == 5
    # and pages through them with cursors
    first = await client.data(DELIVERIES, {"first": 2}, token=globex.key)
    page = first["webhookDeliveries"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await deliveries(client, globex.key, 2, page["pageInfo"]["endCursor"])
    assert [e["node"]["eventId"] for e in page["edges"]] + [d["eventId"] for d in rest] == [
        d["eventId"] for d in globex_log
    ]


async def test_deliveries_are_for_partners_only(
    client: GraphQLClient, deps: Dependencies, receiver: Receiver
) -> None:
    acme = await partner_with_webhook(deps, receiver.url)
    token, _ = await register(client)
    as_customer = await client.execute(DELIVERIES, {"first": 5}, token=token)
    assert as_customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert as_customer["data"] is None
    anonymous = await client.execute(DELIVERIES, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for variables in ({"first": 101}, {"first": 5, "after": "bm90LWEtY3Vyc29y"}):
        refused = await client.execute(DELIVERIES, variables, token=acme.key)
        assert refused["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    await partners.revoke_partner(deps, "Acme")
    revoked = await client.execute(DELIVERIES, {"first": 5}, token=acme.key)
    assert revoked["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_two_workers_at_once_never_deliver_the_same_event_twice(
    client: GraphQLClient,
    deps: Dependencies,
    receiver: Receiver,
    backend: str,
) -> None:
    if backend != "postgresql":
        pytest.skip(
            "one worker on SQLite; concurrent claiming is PostgreSQL's FOR UPDATE SKIP LOCKED"
        )
    # given twenty events waiting
    await partner_with_webhook(deps, receiver.url)
    for n in range(10):
        token, _ = await register(client, email=f"customer{n}@example.com")
        await grant(client, token, PARTNER_OFFERS=True)
        await grant(client, token, PARTNER_OFFERS=False)
    # when two workers drain the outbox at the same time, in small batches
    senders = [HttpxWebhookSender(timeout_seconds=5) for _ in range(2)]
    try:
        runs = await asyncio.gather(*(_drain(deps, s) for s in senders))
    finally:
        for s in senders:
            await s.close()
    # then every event arrived exactly once, and both workers did some of the work
    ids = [r.headers["Webhook-Id"] for r in receiver.received]
    assert len(ids) == 20
    assert len(set(ids)) == 20
    assert sum(run.delivered for run in runs) == 20
    assert all(run.delivered > 0 for run in runs)


async def _drain(deps: Dependencies, sender: HttpxWebhookSender) -> DeliveryRun:
    total = DeliveryRun()
    while (run := await deliver_due(deps, sender, batch=3)).claimed:
        total += run
        await asyncio.sleep(0)  # let the other worker claim in between
    return total


class FaultAfterOutbox:
    """Units of work whose transaction fails just after webhook events are queued in it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.engine = inner.engine
        self.rows_seen_in_transaction: dict[str, int] = {}

    def __call__(self) -> Any:
        return _FaultyUnitOfWork(self._inner(), self)

    def reads(self) -> Any:
        return self._inner.reads()

    async def start_session(self, *args: Any) -> bool:
        return bool(await self._inner.start_session(*args))


class _FaultyUnitOfWork:
    def __init__(self, inner: Any, factory: FaultAfterOutbox) -> None:
        self._inner = inner
        self._factory = factory

    async def __aenter__(self) -> Any:
        uow = await self._inner.__aenter__()
        real, factory = uow.webhooks, self._factory

        class EnqueueThenFail:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            async def enqueue(self, queued: Any) -> None:
                await real.enqueue(queued)
                conn = real._conn
                factory.rows_seen_in_transaction = {
                    "ledger": await conn.scalar(select(func.count()).select_from(consent_ledger)),
                    "outbox": await conn.scalar(
                        select(func.count()).select_from(webhook_deliveries)
                    ),
                }
                raise RuntimeError("the disk is full")

        uow.webhooks = EnqueueThenFail()
        return uow

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)


def json_of(delivery: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(delivery["payload"])["data"]
    return data


@asynccontextmanager
async def _client_of(app: FastAPI) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
