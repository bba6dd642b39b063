"""The database going away, and coming back: requests fail fast and say so, /readyz follows
the database, /healthz does not, and the same process recovers once the server is back.

These tests run their own PostgreSQL (tests/postgres_cluster.py) so that they can stop it."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from api.app import build_dependencies, close_dependencies, create_app
from api.documents.prepared import PreparedMe
from api.graphql_http import GRAPHQL_RESPONSE
from api.limits import Measuring
from domain.dependencies import Dependencies
from persistence import database
from persistence.database import create_engine
from persistence.migrate import upgrade
from persistence.readiness import BEHIND as READINESS_BEHIND
from tests.api.documents import ME, REGISTER, UPDATE_PROFILE
from tests.api.test_partners import new_partner
from tests.api.test_trusted_documents import prepared_answers
from tests.conftest import settings_for
from tests.factories import PASSWORD, registration
from tests.graphql import GraphQLClient
from tests.postgres_cluster import PostgresCluster, throwaway_cluster

UNAVAILABLE = "The service is temporarily unavailable; try again shortly."
# What "within a few seconds" means here: the connect timeout of these tests is 1 s.
FAST_ENOUGH = 5.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with throwaway_cluster() as started:
        yield started


@dataclass
class Service:
    client: GraphQLClient
    deps: Dependencies

    async def get(self, path: str) -> httpx.Response:
        return await self.client.http.get(path)


@asynccontextmanager
async def serving(cluster: PostgresCluster, **overrides: Any) -> AsyncIterator[Service]:
    """The app on the throwaway cluster (started again if a failed test left it stopped), with
    timeouts short enough for a test."""
    if not cluster.running():
        await asyncio.to_thread(cluster.start)
    await upgrade(cluster.url)
    settings = settings_for(
        cluster.url,
        **{
            "database_connect_timeout_seconds": 1.0,
            "database_statement_timeout_seconds": 2.0,
            "database_pool_timeout_seconds": 1.0,
            "readiness_timeout_seconds": 1.0,
            **overrides,
        },
    )
    deps = build_dependencies(settings)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Service(GraphQLClient(http), deps)
    finally:
        await close_dependencies(deps)


@pytest.fixture
async def service(cluster: PostgresCluster) -> AsyncIterator[Service]:
    async with serving(cluster) as started:
        yield started


async def signed_in(client: GraphQLClient, email: str) -> str:
    data = await client.data(REGISTER, {"input": registration(email=email)})
    assert data["register"]["errors"] == []
    client.forget_cookies()
    token: str = data["register"]["token"]
    return token


async def timed(
    client: GraphQLClient, query: str, variables: dict[str, Any] | None, token: str
) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    result = await client.execute(query, variables, token)
    return time.monotonic() - started, result


def refused_as_unavailable(result: dict[str, Any]) -> None:
    assert not any((result.get("data") or {}).values()), result
    assert [e["message"] for e in result["errors"]] == [UNAVAILABLE], result
    assert [e["extensions"]["code"] for e in result["errors"]] == ["SERVICE_UNAVAILABLE"]


RENAME = {"input": {"name": "Augusta Ada King"}}


@pytest.mark.postgres_only
async def test_while_the_database_is_down_requests_fail_fast_and_the_service_recovers_after(
    cluster: PostgresCluster,
    service: Service,
    captured_logs: pytest.LogCaptureFixture,
    record_property: Any,
) -> None:
    # given a signed-in customer, and a service that is ready
    token = await signed_in(service.client, "outage@example.com")
    assert (await service.client.data(ME, token=token))["me"]["email"] == "outage@example.com"
    assert (await service.get("/readyz")).json() == {"status": "ready"}

    # when the database server dies
    await asyncio.to_thread(cluster.stop)
    stopped = time.monotonic()
    captured_logs.clear()

    # then a query is refused at once with an error that says to retry
    took, result = await timed(service.client, ME, None, token)
    first_clear_error = time.monotonic() - stopped
    refused_as_unavailable(result)
    assert took < FAST_ENOUGH
    # and so is a mutation, and nothing of either leaks into the log but the outage itself
    took, result = await timed(service.client, UPDATE_PROFILE, RENAME, token)
    refused_as_unavailable(result)
    assert took < FAST_ENOUGH
    # and a client that prefers application/graphql-response+json gets 200 as well: the
    # operation ran (its data entry is there), so GraphQL over HTTP keeps 2xx
    as_graphql = await service.client.http.post(
        "/graphql",
        json={"query": ME},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
    )
    assert as_graphql.status_code == 200
    assert as_graphql.headers["content-type"] == GRAPHQL_RESPONSE
    refused_as_unavailable(as_graphql.json())
    # and the export download, outside GraphQL, answers 503 with the same error
    download = await service.client.http.get(
        f"/exports/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
    )
    assert download.status_code == 503
    assert download.headers["retry-after"] == "5"
    assert [e["extensions"]["code"] for e in download.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
    # and each refused request logged one warning, which names the outage and nothing else
    warnings = [r for r in captured_logs.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 4, [r.getMessage() for r in warnings]
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert all(r.getMessage().startswith("database unavailable") for r in warnings)
    # (each request first reads its session on the read pool, persistence/read_pool.py: the
    # first met its connection closed by the stop, marked every connection for replacement and
    # read again on a new one, which was refused, as every later one was; the download read
    # through the engine's pool, whose connection used a moment ago was not pinged,
    # persistence/database.py, and met the closed connection itself)
    for warning in warnings[:3]:
        assert "ConnectionRefusedError" in warning.getMessage(), warning.getMessage()
    lost = ("InterfaceError", "DisconnectionError", "ConnectionDoesNotExistError")
    assert any(kind in warnings[3].getMessage() for kind in lost), warnings[3].getMessage()
    logged = captured_logs.text
    server = (f"127.0.0.1:{cluster.port}", f"'127.0.0.1', {cluster.port}")
    for secret in (token, "outage@example.com", "Augusta", PASSWORD, *server):
        assert secret not in logged
    # and the orchestrator is told: not ready, but alive
    readiness = await service.get("/readyz")
    assert readiness.status_code == 503
    assert readiness.json() == {
        "status": "unavailable",
        "reason": "the database cannot be reached",
    }
    assert (await service.get("/healthz")).status_code == 200

    # when the server comes back
    restarting = time.monotonic()
    await asyncio.to_thread(cluster.start)
    accepting = time.monotonic()

    # then the same process serves again, without a restart of its own
    deadline = accepting + 15
    while True:
        result = await service.client.execute(ME, token=token)
        if "errors" not in result:
            break
        refused_as_unavailable(result)
        assert time.monotonic() < deadline, "no recovery within 15 s of the restart"
        await asyncio.sleep(0.05)
    recovered = time.monotonic()
    assert result["data"]["me"]["email"] == "outage@example.com"
    renamed = await service.client.data(UPDATE_PROFILE, RENAME, token)
    assert renamed["updateProfile"]["customer"]["name"] == "Augusta Ada King"
    assert (await service.get("/readyz")).json() == {"status": "ready"}

    record_property("first_clear_error_seconds", round(first_clear_error, 3))
    record_property("recovery_after_accepting_seconds", round(recovered - accepting, 3))
    record_property("recovery_after_restart_seconds", round(recovered - restarting, 3))
    print(
        f"\noutage: first clear error {first_clear_error:.3f} s after the stop; "
        f"first success {recovered - accepting:.3f} s after the server accepted connections "
        f"({recovered - restarting:.3f} s after the start command)"
    )


async def test_a_connection_idle_for_a_while_is_pinged_before_use_and_replaced(
    cluster: PostgresCluster,
    service: Service,
    captured_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a signed-in customer whose pooled connection counts as idle at once
    token = await signed_in(service.client, "idle@example.com")
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    # when the database server dies and the next request checks the connection out
    await asyncio.to_thread(cluster.stop)
    captured_logs.clear()
    try:
        result = await service.client.execute(ME, token=token)
    finally:
        await asyncio.to_thread(cluster.start)
    # then the ping found the connection broken and a new one was refused: the request never
    # met a broken connection
    refused_as_unavailable(result)
    (warning,) = [r for r in captured_logs.records if r.levelno >= logging.WARNING]
    assert "ConnectionRefusedError" in warning.getMessage()
    # and once the server is back, the next checkout pings a new connection and serves
    assert (await service.client.data(ME, token=token))["me"]["email"] == "idle@example.com"


@pytest.mark.postgres_only
async def test_a_statement_that_does_not_finish_in_time_is_refused_as_unavailable(
    cluster: PostgresCluster, service: Service
) -> None:
    # given a signed-in customer, and another transaction holding every session row
    token = await signed_in(service.client, "slow@example.com")
    blocker = await asyncpg.connect(cluster.url.replace("+asyncpg", ""))
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
            # when the customer asks for their profile
            took, result = await timed(service.client, ME, None, token)
    finally:
        await blocker.close()
    # then the statement timeout (2 s here) ends the wait with a clear error
    refused_as_unavailable(result)
    assert 1.5 < took < FAST_ENOUGH
    # and once the lock is gone the same connections serve again
    assert (await service.client.data(ME, token=token))["me"]["email"] == "slow@example.com"


@pytest.mark.postgres_only
@pytest.mark.parametrize("read_pool_size", [0, 1])
async def test_when_every_connection_is_taken_a_request_waits_only_the_pool_timeout(
    cluster: PostgresCluster, read_pool_size: int
) -> None:
    async with serving(
        cluster, database_pool_size=1, database_read_pool_size=read_pool_size
    ) as service:
        token = await signed_in(service.client, f"busy{read_pool_size}@example.com")
        engine = service.deps.unit_of_work.engine  # type: ignore[attr-defined]
        # given the one connection the pool allows (there is no overflow) in use elsewhere
        async with engine.connect() as only:
            await only.execute(text("SELECT 1"))
            # when a request needs one: every change does; without a read pool, so does the
            # read of the signed-in customer that begins every request
            query, variables = (ME, None) if read_pool_size == 0 else (UPDATE_PROFILE, RENAME)
            took, result = await timed(service.client, query, variables, token)
            # and the probe, on a connection of its own, still finds the database there
            readiness = await service.get("/readyz")
            # and with a read pool, reading one's profile does not wait for the engine's pool
            if read_pool_size:
                me = await service.client.data(ME, token=token)
                assert me["me"]["email"] == "busy1@example.com"
        # then it is refused after the pool timeout (1 s here)
        refused_as_unavailable(result)
        assert took < FAST_ENOUGH
        # while the replica stays in the load balancer: it is busy, not cut off
        assert readiness.json() == {"status": "ready"}
        assert (await service.client.data(ME, token=token))["me"][
            "email"
        ] == f"busy{read_pool_size}@example.com"


async def beside_a_request_held_by_a_lock(
    cluster: PostgresCluster,
    service: Service,
    table: str,
    query: str,
    variables: dict[str, Any] | None,
    token: str,
) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """The same request twice: the first held by a lock on ``table`` (with its pool's one
    connection, up to the statement timeout, 2 s here), the second sent meanwhile. Returns the
    first's result, and how long the second took and its result."""
    blocker = await asyncpg.connect(cluster.url.replace("+asyncpg", ""))
    try:
        async with blocker.transaction():
            await blocker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            held = asyncio.create_task(timed(service.client, query, variables, token))
            await asyncio.sleep(0.3)
            took, result = await timed(service.client, query, variables, token)
    finally:
        await blocker.close()
    _, first = await held
    return first, took, result


@pytest.mark.postgres_only
async def test_when_every_read_connection_is_taken_a_read_waits_only_the_pool_timeout(
    cluster: PostgresCluster,
) -> None:
    async with serving(cluster, database_read_pool_size=1) as service:
        token = await signed_in(service.client, "reads@example.com")
        # given the read pool's one connection held by a read waiting for a lock, when another
        # request needs a read connection
        first, took, result = await beside_a_request_held_by_a_lock(
            cluster, service, "sessions", ME, None, token
        )
        # then it is refused after the pool timeout (1 s here), before the statement timeout
        refused_as_unavailable(result)
        assert 0.9 < took < 1.9
        # and the held read went on as soon as the lock was gone, as does the next one
        assert first["data"]["me"]["email"] == "reads@example.com"
        assert (await service.client.data(ME, token=token))["me"]["email"] == "reads@example.com"


@pytest.mark.postgres_only
async def test_a_read_that_waits_a_moment_for_a_connection_is_still_answered_prepared(
    cluster: PostgresCluster,
) -> None:
    async with serving(cluster, database_read_pool_size=1) as service:
        token = await signed_in(service.client, "waits@example.com")
        blocker = await asyncpg.connect(cluster.url.replace("+asyncpg", ""))
        try:
            with prepared_answers(PreparedMe) as answers:
                # given the read pool's one connection held a moment by a read behind a lock
                async with blocker.transaction():
                    await blocker.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
                    held = asyncio.create_task(timed(service.client, ME, None, token))
                    await asyncio.sleep(0.2)
                    # when another `me` comes meanwhile, in the prepared subset
                    waiting = asyncio.create_task(timed(service.client, ME, None, token))
                    await asyncio.sleep(0.2)
                (_, first), (_, second) = await asyncio.gather(held, waiting)
        finally:
            await blocker.close()
    # then it waited for the connection and was answered by the prepared path, as the first
    # was (a full pool once sent every request that met it to graphql-core: under load, most)
    for result in (first, second):
        assert result["data"]["me"]["email"] == "waits@example.com", result
    assert len(answers) == 2


STATES = "query ($ids: [ID!]!) { consentStates(customerIds: $ids) { customerId granted } }"


@pytest.mark.postgres_only
async def test_when_every_connection_is_taken_a_partner_poll_waits_only_the_pool_timeout(
    cluster: PostgresCluster,
) -> None:
    async with serving(cluster, database_pool_size=1) as service:
        key = await new_partner(service.deps)
        poll = {"ids": [str(uuid.uuid4())]}
        assert "errors" not in await service.client.execute(STATES, poll, key)
        # given the engine's one connection held by a poll waiting for a lock, when another
        # poll comes (by text: the prepared path)
        first, took, result = await beside_a_request_held_by_a_lock(
            cluster, service, "partner_keys", STATES, poll, key
        )
        # then it is refused after the pool timeout (1 s here), once
        refused_as_unavailable(result)
        assert 0.9 < took < 1.9
        assert "errors" not in first, first


async def test_a_server_that_never_answers_is_given_up_on_after_the_connect_timeout() -> None:
    # given a "database" that accepts connections and then says nothing
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    settings = settings_for(
        url, database_connect_timeout_seconds=1.0, readiness_timeout_seconds=0.5
    )
    deps = build_dependencies(settings)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            client = GraphQLClient(http)
            # when a signed-in request comes (its session is looked up before anything else)
            took, result = await timed(client, ME, None, "a-customer-session-token")
            # then it is refused after the connect timeout
            refused_as_unavailable(result)
            assert took < FAST_ENOUGH
            readiness = await http.get("/readyz")
            assert readiness.status_code == 503
            assert readiness.json()["reason"] == "the database did not answer in time"
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await close_dependencies(deps)
        for connection in connections:
            connection.close()
        server.close()
        await server.wait_closed()


async def test_a_sqlite_file_that_cannot_be_opened_is_a_masked_fault_not_a_crash(
    tmp_path: Path, captured_logs: pytest.LogCaptureFixture
) -> None:
    # given a service whose SQLite file lies in a folder that does not exist
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'datarights.db'}")
    deps = build_dependencies(settings)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            # when a signed-in request comes
            response = await GraphQLClient(http).post(ME, token="a-customer-session-token")
            readiness = await http.get("/readyz")
            alive = await http.get("/healthz")
    finally:
        await close_dependencies(deps)
    # then it is an ordinary masked fault (an operator's to fix, not a wait), never a 500
    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert any(r.levelno == logging.ERROR for r in captured_logs.records)
    assert readiness.status_code == 503
    assert readiness.json() == {"status": "unavailable", "reason": "the database check failed"}
    assert str(tmp_path) not in readiness.text
    assert alive.status_code == 200


@pytest.mark.parametrize(
    ("revision", "answer"),
    [
        ("0001", {"status": "unavailable", "reason": READINESS_BEHIND}),
        ("9999_a_later_release", {"status": "ready"}),
    ],
)
async def test_readiness_refuses_a_schema_behind_this_release_but_not_one_ahead(
    tmp_path: Path, revision: str, answer: dict[str, str]
) -> None:
    # given a database whose schema is at another release's revision
    url = f"sqlite+aiosqlite:///{tmp_path / 'datarights.db'}"
    await upgrade(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    await engine.dispose()
    settings = settings_for(url)
    deps = build_dependencies(settings)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            # when the orchestrator asks whether this replica can serve
            readiness = await http.get("/readyz")
    finally:
        await close_dependencies(deps)
    # then behind is not ready (run the migrations), and ahead is: during a rolling upgrade the
    # replicas of the release before keep serving the migrated schema
    assert readiness.json() == answer
    assert readiness.status_code == (200 if answer["status"] == "ready" else 503)


async def test_an_outage_before_execution_is_said_as_such_too(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, captured_logs: pytest.LogCaptureFixture
) -> None:
    # given the database out of reach while the document is still being checked (no rule
    # reads it today; this pins that such a failure would not hide behind "Unexpected error.")
    def unreachable(*_args: Any) -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.9', 5432)")

    monkeypatch.setattr(Measuring, "of_operation", unreachable)
    # when a request is validated, answered in either media type
    result = await client.execute("{ __typename }")
    as_graphql = await client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    # then the client is told to retry: nothing ran, so graphql-response+json says 503
    refused_as_unavailable(result)
    assert "data" not in result
    assert as_graphql.status_code == 503
    refused_as_unavailable(as_graphql.json())
    assert "10.0.0.9" not in str(result)
    # and the log has one warning a request, without the address
    warnings = [r for r in captured_logs.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert "10.0.0.9" not in captured_logs.text
