"""``/metrics``: GraphQL requests counted by operation and outcome, their latencies, the database
pool, the outboxes and the requests near or past their due date, and the optional scrape token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from api import metrics as metrics_module
from api.app import create_app
from api.settings import Settings
from domain.dependencies import Dependencies
from persistence.tables import data_subject_requests
from tests.api.documents import ME, REGISTER, UPDATE_PROFILE
from tests.api.helpers import register
from tests.factories import registration
from tests.graphql import GraphQLClient

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_graphql_requests_are_counted_by_operation_and_outcome(
    client: GraphQLClient,
) -> None:
    # given
    await client.execute(ME)  # no session: null
    await client.execute(UPDATE_PROFILE, {"input": {"name": "X"}})  # no session: refused
    await client.execute(UPDATE_PROFILE, {"input": {"name": "X"}})
    await client.execute(REGISTER, {"input": registration(email="not an address")})
    await client.execute(REGISTER, {"input": registration(email="counted@example.com")})
    await client.post("query Broken { me { ")
    await client.post("{ __typename }")
    # when
    samples = await scrape(client.http)
    # then
    count = "datarights_graphql_requests_total"
    assert value(samples, count, operation="Me", outcome="ok") == 1
    assert value(samples, count, operation="UpdateProfile", outcome="unauthenticated") == 2
    assert value(samples, count, operation="Register", outcome="user_error") == 1
    assert value(samples, count, operation="Register", outcome="ok") == 1
    assert value(samples, count, operation="Broken", outcome="bad_request") == 1
    assert value(samples, count, operation="anonymous", outcome="ok") == 1
    latency = "datarights_graphql_request_duration_seconds"
    assert value(samples, f"{latency}_count", operation="UpdateProfile") == 2
    assert value(samples, f"{latency}_sum", operation="Register") > 0
    assert value(samples, f"{latency}_bucket", operation="UpdateProfile", le="+Inf") == 2
    assert value(samples, "datarights_http_request_duration_seconds_count", route="/graphql") == 7


async def test_a_request_refused_before_graphql_runs_is_counted_by_its_status(
    client: GraphQLClient,
) -> None:
    # given: not JSON
    await client.http.post("/graphql", content=b"{", headers={"Content-Type": "application/json"})
    # when
    samples = await scrape(client.http)
    # then
    count = "datarights_graphql_requests_total"
    assert value(samples, count, operation="anonymous", outcome="bad_request") == 1


async def test_a_refusal_answered_with_200_is_not_counted_as_ok(client: GraphQLClient) -> None:
    # given: a document id no manifest holds (application/json: 200, the code in the body)
    unknown = await client.http.post("/graphql", json={"documentId": "sha256:" + "0" * 64})
    assert unknown.status_code == 200, unknown.text
    # when
    samples = await scrape(client.http)
    # then
    count = "datarights_graphql_requests_total"
    assert value(samples, count, operation="anonymous", outcome="bad_request") == 1
    assert value(samples, count, operation="anonymous", outcome="ok") == 0


async def test_operation_names_past_the_bound_count_as_other(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a fresh app whose bound is two names
    monkeypatch.setattr(metrics_module, "MAX_OPERATION_NAMES", 2)
    for name in ("First", "Second", "Third", "Fourth"):
        await client.post(f"query {name} {{ __typename }}")
    # when
    samples = await scrape(client.http)
    # then
    count = "datarights_graphql_requests_total"
    assert value(samples, count, operation="First", outcome="ok") == 1
    assert value(samples, count, operation="Second", outcome="ok") == 1
    assert value(samples, count, operation="other", outcome="ok") == 2
    assert value(samples, count, operation="Third", outcome="ok") == 0


async def test_pool_and_backlog_gauges_are_read_at_scrape_time(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given: one customer (a verification e-mail waits in the outbox) and requests due at
    # various times
    await register(client)
    now = datetime.now(UTC)
    due = [
        ("RECEIVED", now + timedelta(days=1)),  # due soon
        ("IN_PROGRESS", now + timedelta(days=2)),  # due soon
        ("EXTENDED", now - timedelta(hours=1)),  # overdue
        ("RECEIVED", now + timedelta(days=20)),  # neither
        ("COMPLETED", now - timedelta(days=2)),  # closed: neither
    ]
    async with engine.begin() as conn:
        for seq, (status, due_at) in enumerate(due, start=1):
            await conn.execute(
                data_subject_requests.insert().values(
                    id=uuid.uuid4(),
                    seq=seq,
                    customer_id=uuid.uuid4(),
                    type="ACCESS",
                    channel="EMAIL",
                    status=status,
                    received_at=now - timedelta(days=10),
                    due_at=due_at,
                )
            )
    # when
    samples = await scrape(client.http)
    # then
    assert value(samples, "datarights_mail_unsent") >= 1
    assert value(samples, "datarights_webhook_deliveries_pending") == 0
    assert value(samples, "datarights_requests_due_soon") == 2
    assert value(samples, "datarights_requests_overdue") == 1
    assert value(samples, "datarights_db_pool_checked_out") == 0
    assert value(samples, "datarights_db_pool_size") >= 1
    assert ("datarights_db_pool_overflow", frozenset()) in samples


@pytest.fixture
async def guarded(settings: Settings, deps: Dependencies) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose /metrics asks for a token."""
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr("scrape-me")}), deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_with_a_token_set_a_scrape_must_send_it(guarded: httpx.AsyncClient) -> None:
    # when
    missing = await guarded.get("/metrics")
    wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer nope"})
    # then
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "datarights" not in missing.text
    samples = await scrape(guarded, token="scrape-me")
    assert ("datarights_db_pool_size", frozenset()) in samples
