"""The error contract at its edges: faults are masked but logged, client mistakes are explained,
and the client IP is taken from X-Forwarded-For only through a trusted proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from domain.dependencies import Dependencies
from persistence.tables import sign_in_events
from tests.api.documents import LOGIN, REGISTER
from tests.api.helpers import broken_database
from tests.conftest import settings_for
from tests.factories import registration
from tests.graphql import GraphQLClient


@pytest.fixture
async def broken_client(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    message = "database exploded near row 4242 4242 4242 4242"
    async with broken_database(settings, deps, message) as http:
        yield GraphQLClient(http)


async def test_an_unexpected_failure_is_masked_for_the_client_and_logged_in_full(
    broken_client: GraphQLClient, captured_logs: pytest.LogCaptureFixture
) -> None:
    result = await broken_client.execute(
        LOGIN, {"input": {"email": "ada@example.com", "password": "whatever it is"}}
    )
    assert result["data"] is None
    assert [e["message"] for e in result["errors"]] == ["Unexpected error."]
    assert result["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "exploded" not in str(result)
    logged = [r for r in captured_logs.records if r.levelname == "ERROR"]
    assert logged
    assert logged[0].exc_info is not None
    assert "exploded" in str(logged[0].exc_info[1])


async def test_a_mistake_in_the_document_is_explained(client: GraphQLClient) -> None:
    result = await client.execute("query { me { id nickname } }")
    assert result["errors"][0]["message"].startswith("Cannot query field 'nickname'")
    assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_the_ip_of_a_sign_in_is_the_socket_peer_without_a_trusted_proxy(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await client.http.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": registration()}},
        headers={"X-Forwarded-For": "198.51.100.9"},
    )
    async with engine.connect() as conn:
        assert (await conn.execute(select(sign_in_events.c.ip))).scalars().all() == ["203.0.113.7"]


async def test_the_ip_comes_from_x_forwarded_for_when_the_peer_is_a_trusted_proxy(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> None:
    settings = settings_for(database_url, trusted_proxies=["203.0.113.0/24"])
    transport = httpx.ASGITransport(app=create_app(settings, deps), client=("203.0.113.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await http.post(
            "/graphql",
            json={"query": REGISTER, "variables": {"input": registration()}},
            headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.9, 203.0.113.20"},
        )
    async with engine.connect() as conn:
        assert (await conn.execute(select(sign_in_events.c.ip))).scalars().all() == ["198.51.100.9"]
