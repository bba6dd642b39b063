"""The worker's mail relay against a real SMTP server on loopback: queued notices are sent and
counted, a server that says "later" is retried with backoff until the message is given up, and
nothing about the recipient or the content reaches the logs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from api.smtp import SmtpServer, SmtpTransport
from api.worker import work
from domain.dependencies import Dependencies
from domain.mail.relay import RelayRun, relay_due
from domain.webhooks.model import RetryPolicy
from persistence.tables import outbox_messages
from tests.api.helpers import outbox, register, staff_token
from tests.api.smtp_server import MailServer, free_port, mail_server
from tests.api.test_policies import NOTICE_PERIOD, NOTICES, PUBLISH, policy_input
from tests.conftest import FakeClock, settings_for
from tests.graphql import GraphQLClient

SENDER = "Privacy team <privacy@datarights.example>"
RETRIES = RetryPolicy(
    first_delay=timedelta(minutes=1), longest_delay=timedelta(hours=1), jitter=0, max_attempts=3
)


@pytest.fixture
def server() -> Iterator[MailServer]:
    with mail_server() as started:
        yield started


@pytest.fixture
async def transport(server: MailServer) -> AsyncIterator[SmtpTransport]:
    sending = SmtpTransport(SmtpServer.parse(server.url), SENDER, timeout_seconds=5)
    yield sending
    await sending.close()


async def announce(client: GraphQLClient, deps: Dependencies, customers: int) -> None:
    """Customers, then a policy version published at the earliest time allowed."""
    for n in range(customers):
        await register(client, email=f"customer{n}@example.com")
    officer = await staff_token(client, deps)
    period = await client.data(NOTICE_PERIOD, token=officer)
    earliest = period["policyNoticePeriod"]["earliestEffectiveAt"]
    result = await client.data(PUBLISH, {"input": policy_input(effectiveAt=earliest)}, officer)
    assert result["publishPolicyVersion"]["noticesQueued"] == customers


async def notices(client: GraphQLClient, deps: Dependencies) -> dict[str, Any]:
    officer = await staff_token(client, deps)
    data = await client.data(NOTICES, {"version": "2028-01"}, token=officer)
    found: dict[str, Any] = data["policyNotices"]
    return found


def our_logs(caplog: pytest.LogCaptureFixture) -> str:
    records = [r for r in caplog.records if r.name.startswith("datarights")]
    return "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in records)


async def test_queued_notices_are_sent_and_counted_as_sent(
    client: GraphQLClient,
    deps: Dependencies,
    engine: AsyncEngine,
    server: MailServer,
    transport: SmtpTransport,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    # given two customers and a version announced to them
    await announce(client, deps, customers=2)
    queued = await outbox(engine, "POLICY_NOTICE")
    # when a relay turn runs
    run = await relay_due(deps, transport, batch=50)
    # then every message in the outbox went out once, the notices among them
    everything = await outbox(engine)
    assert run == RelayRun(claimed=len(everything), sent=len(everything))
    assert all(m["sent_at"] is not None and m["attempts"] == 1 for m in everything)
    assert len(server.accepted) == len(everything)
    sent = {a.message["Message-ID"]: a for a in server.accepted}
    for notice in queued:
        accepted = sent[f"<{notice['id']}@datarights.example>"]
        assert accepted.sender == "privacy@datarights.example"
        assert accepted.recipients == [notice["recipient"]]
        assert accepted.message["To"] == notice["recipient"]
        assert accepted.message["From"] == SENDER
        assert accepted.message["Subject"] == notice["subject"]
        assert accepted.message["Auto-Submitted"] == "auto-generated"
        assert "https://example.com/privacy/2028-01" in accepted.message.get_content()
    assert await notices(client, deps) == {
        "version": "2028-01",
        "queued": 2,
        "sent": 2,
        "failed": 0,
        "pending": 0,
    }
    # and the logs name messages by id and kind only
    logged = our_logs(captured_logs)
    assert str(queued[0]["id"]) in logged
    assert "@example.com" not in logged
    assert "privacy/2028-01" not in logged
    # and a second turn finds nothing left
    assert await relay_due(deps, transport) == RelayRun()


async def test_a_server_that_says_later_is_retried_with_backoff_then_given_up(
    client: GraphQLClient,
    deps: Dependencies,
    engine: AsyncEngine,
    server: MailServer,
    transport: SmtpTransport,
    clock: FakeClock,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    # given a notice queued to one customer, and a server that defers every recipient
    await announce(client, deps, customers=1)
    async with engine.begin() as conn:  # only the notice is left to send
        await conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.kind != "POLICY_NOTICE")
            .values(sent_at=datetime.now(UTC))
        )
    server.refuse_with = "451 4.3.0 Mailbox busy, try again later"
    relay = dataclasses.replace(deps, clock=clock, mail_retries=RETRIES)
    # when the first try fails
    first = await relay_due(relay, transport)
    # then it is scheduled a minute later, and not tried before then
    assert first == RelayRun(claimed=1, retrying=1)
    (notice,) = await outbox(engine, "POLICY_NOTICE")
    assert notice["attempts"] == 1
    assert notice["next_attempt_at"] == clock.now() + timedelta(minutes=1)
    assert notice["claimed_until"] is None
    clock.advance(seconds=59)
    assert await relay_due(relay, transport) == RelayRun()
    # when the second try, a minute later, fails too
    clock.advance(seconds=1)
    assert await relay_due(relay, transport) == RelayRun(claimed=1, retrying=1)
    (notice,) = await outbox(engine, "POLICY_NOTICE")
    assert notice["next_attempt_at"] == clock.now() + timedelta(minutes=2)
    # when the third, two minutes later, fails: the last the policy allows
    clock.advance(minutes=2)
    assert await relay_due(relay, transport) == RelayRun(claimed=1, failed=1)
    # then the message is failed for good and counted so
    (notice,) = await outbox(engine, "POLICY_NOTICE")
    assert (notice["attempts"], notice["sent_at"]) == (3, None)
    assert notice["failed_at"] == clock.now()
    clock.advance(hours=2)
    assert await relay_due(relay, transport) == RelayRun()
    assert (server.refused, server.accepted) == (3, [])
    counts = await notices(client, deps)
    assert (counts["queued"], counts["sent"], counts["failed"], counts["pending"]) == (1, 0, 1, 0)
    logged = our_logs(captured_logs)
    assert "will retry" in logged and "given up" in logged and "SMTP 451" in logged
    assert "@example.com" not in logged


async def test_a_recipient_refused_for_good_fails_at_once(
    client: GraphQLClient,
    deps: Dependencies,
    engine: AsyncEngine,
    server: MailServer,
    transport: SmtpTransport,
) -> None:
    # given
    await announce(client, deps, customers=1)
    server.refuse_with = "550 5.1.1 No such mailbox"
    # when
    run = await relay_due(deps, transport)
    # then
    assert run.failed == run.claimed > 0
    (notice,) = await outbox(engine, "POLICY_NOTICE")
    assert (notice["attempts"], notice["sent_at"]) == (1, None)
    assert notice["failed_at"] is not None


async def test_without_a_server_the_turn_stops_and_leaves_the_rest_untried(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given three notices and no SMTP server where the relay looks
    await announce(client, deps, customers=3)
    before = len(await outbox(engine))
    nowhere = SmtpTransport(
        SmtpServer.parse(f"smtp://127.0.0.1:{free_port()}"), SENDER, timeout_seconds=2
    )
    # when
    run = await relay_due(deps, nowhere, batch=before)
    # then one message took a try (and waits for the next); the others were given back as
    # they were, free for the next turn
    assert run == RelayRun(claimed=before, retrying=1, released=before - 1)
    messages = await outbox(engine)
    assert sorted(m["attempts"] for m in messages) == [0] * (before - 1) + [1]
    assert all(m["claimed_until"] is None and m["sent_at"] is None for m in messages)


async def test_the_worker_relays_the_outbox_once_a_server_is_configured(
    client: GraphQLClient, database_url: str, engine: AsyncEngine, server: MailServer
) -> None:
    # given a customer, whose registration queued a message
    await register(client)
    queued = await outbox(engine)
    assert queued
    # when the worker runs once with DATARIGHTS_SMTP_URL set
    settings = settings_for(database_url, smtp_url=server.url, mail_from=SENDER)
    total = await work(settings, once=True, poll_seconds=1, batch=20)
    # then
    assert total.mail.sent == len(queued)
    assert all(m["sent_at"] is not None for m in await outbox(engine))
    assert {a.recipients[0] for a in server.accepted} == {m["recipient"] for m in queued}


async def test_without_a_server_configured_the_worker_leaves_mail_queued_and_says_so(
    client: GraphQLClient,
    settings: Settings,
    engine: AsyncEngine,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    # given
    await register(client)
    # when
    total = await work(settings, once=True, poll_seconds=1, batch=20)
    # then
    assert total.mail == RelayRun()
    assert all(m["sent_at"] is None and m["attempts"] == 0 for m in await outbox(engine))
    warnings = [
        r.getMessage()
        for r in captured_logs.records
        if r.levelno == logging.WARNING and "DATARIGHTS_SMTP_URL" in r.getMessage()
    ]
    assert len(warnings) == 1


async def test_two_relays_at_once_never_send_the_same_message_twice(
    client: GraphQLClient,
    deps: Dependencies,
    engine: AsyncEngine,
    server: MailServer,
    backend: str,
) -> None:
    if backend == "sqlite":
        pytest.skip("one relay on SQLite; concurrent claiming is FOR UPDATE SKIP LOCKED")
    # given
    await announce(client, deps, customers=12)
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(outbox_messages))).scalar()
    # when two relays drain the outbox at once, in small batches
    relays = [SmtpTransport(SmtpServer.parse(server.url), SENDER, 5) for _ in range(2)]

    async def drain(transport: SmtpTransport) -> RelayRun:
        done = RelayRun()
        while True:
            run = await relay_due(deps, transport, batch=3)
            done += run
            await asyncio.sleep(0)
            if run.claimed == 0:
                return done

    try:
        runs = await asyncio.gather(*(drain(t) for t in relays))
    finally:
        for t in relays:
            await t.close()
    # then every message went out exactly once
    ids = [a.message["Message-ID"] for a in server.accepted]
    assert len(ids) == len(set(ids)) == total
    assert sum(r.sent for r in runs) == total
