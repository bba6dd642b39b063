"""login, logout and sessions: cookie or bearer, expiry, throttling, no enumeration."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from domain.dependencies import Dependencies
from persistence.card_vault import VaultKeyring
from persistence.tables import sessions, sign_in_events
from tests.api.documents import LOGIN, LOGOUT, ME, REGISTER
from tests.api.helpers import codes, register
from tests.conftest import FakeClock, settings_for
from tests.factories import PASSWORD, registration
from tests.graphql import GraphQLClient


def login_input(email: str = "ada@example.com", password: str = PASSWORD) -> dict[str, Any]:
    return {"input": {"email": email, "password": password}}


async def test_login_returns_a_token_and_sets_a_cookie(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    await register(client)
    # when
    response = await client.post(LOGIN, login_input(" Ada@Example.com "))
    # then
    payload = response.json()["data"]["login"]
    assert payload["errors"] == []
    assert len(payload["token"]) >= 43  # 256 random bits, URL-safe
    assert payload["customer"]["email"] == "ada@example.com"
    assert "HttpOnly" in response.headers["set-cookie"]
    assert (await client.data(ME))["me"]["email"] == "ada@example.com"
    client.forget_cookies()
    assert (await client.data(ME, token=payload["token"]))["me"]["email"] == "ada@example.com"


async def test_only_a_hash_of_the_token_is_stored(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    async with engine.connect() as conn:
        hashes = (await conn.execute(select(sessions.c.token_hash))).scalars().all()
    assert token not in hashes
    assert len(hashes) == 1
    assert len(hashes[0]) == 64


async def test_every_sign_in_gets_a_new_token_and_records_ip_and_user_agent(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    first, _ = await register(client)
    second = (await client.data(LOGIN, login_input()))["login"]["token"]
    assert first != second
    async with engine.connect() as conn:
        rows = (await conn.execute(select(sign_in_events))).mappings().all()
    assert len(rows) == 2
    assert {row["ip"] for row in rows} == {"203.0.113.7"}
    assert all(row["user_agent"].startswith("python-httpx") for row in rows)


async def test_unknown_address_and_wrong_password_fail_the_same_way(
    client: GraphQLClient,
) -> None:
    await register(client)
    unknown = (await client.data(LOGIN, login_input("nobody@example.com")))["login"]
    wrong = (await client.data(LOGIN, login_input(password="not the password at all")))["login"]
    assert unknown["errors"] == wrong["errors"]
    assert codes(unknown["errors"]) == {(None, "INVALID_CREDENTIALS")}
    assert unknown["token"] is None


async def test_repeated_failures_for_one_account_are_throttled(client: GraphQLClient) -> None:
    # given five wrong passwords (the default limit per account per 15 minutes)
    await register(client)
    for _ in range(5):
        await client.data(LOGIN, login_input(password="wrong password guess"))
    # when even the right password is tried
    result = await client.execute(LOGIN, login_input())
    # then
    assert [e["extensions"]["code"] for e in result["errors"]] == ["RATE_LIMITED"]
    assert result["data"] is None


async def test_parallel_guesses_cannot_slip_under_the_limit(client: GraphQLClient) -> None:
    # given
    await register(client)
    # when twenty wrong passwords arrive at once
    guesses = [
        client.execute(LOGIN, login_input(password=f"wrong guess number {i}")) for i in range(20)
    ]
    results = await asyncio.gather(*guesses)
    # then only five were checked
    checked = [r for r in results if "errors" not in r]
    assert [codes(r["data"]["login"]["errors"]) for r in checked] == [
        {(None, "INVALID_CREDENTIALS")}
    ] * 5
    limited = [r["errors"][0]["extensions"]["code"] for r in results if "errors" in r]
    assert limited == ["RATE_LIMITED"] * 15


async def test_an_absurdly_long_password_is_just_wrong(client: GraphQLClient) -> None:
    await register(client)
    result = await client.data(LOGIN, login_input(password="x" * 5000))
    assert codes(result["login"]["errors"]) == {(None, "INVALID_CREDENTIALS")}


async def test_throttling_an_unknown_address_looks_the_same(client: GraphQLClient) -> None:
    for _ in range(5):
        await client.data(LOGIN, login_input("nobody@example.com"))
    result = await client.execute(LOGIN, login_input("nobody@example.com"))
    assert [e["extensions"]["code"] for e in result["errors"]] == ["RATE_LIMITED"]


async def test_logout_ends_the_session(client: GraphQLClient, engine: AsyncEngine) -> None:
    # given
    token, _ = await register(client)
    # when
    result = await client.data(LOGOUT, token=token)
    # then
    assert result["logout"]["ended"] is True
    assert (await client.data(ME, token=token))["me"] is None
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(sessions)) == 0


async def test_calls_that_need_a_session_without_one_are_unauthenticated(
    client: GraphQLClient,
) -> None:
    result = await client.execute(LOGOUT)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await client.data(ME))["me"] is None
    forged = await client.execute(LOGOUT, token="forged-token")
    assert forged["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_session_expires_after_30_idle_minutes(
    timed_client: GraphQLClient, clock: FakeClock
) -> None:
    token, _ = await register(timed_client)
    clock.advance(minutes=29)
    assert (await timed_client.data(ME, token=token))["me"] is not None
    clock.advance(minutes=29)  # used a minute ago: the idle clock was refreshed
    assert (await timed_client.data(ME, token=token))["me"] is not None
    clock.advance(minutes=30, seconds=1)
    assert (await timed_client.data(ME, token=token))["me"] is None


async def test_a_session_ends_after_12_hours_however_busy(
    timed_client: GraphQLClient, clock: FakeClock
) -> None:
    token, _ = await register(timed_client)
    for _ in range(24):
        clock.advance(minutes=29)
        assert (await timed_client.data(ME, token=token))["me"] is not None
    clock.advance(minutes=25)  # 12 h 1 min after sign-in
    assert (await timed_client.data(ME, token=token))["me"] is None


async def test_the_idle_clock_is_written_at_most_once_a_minute(
    timed_client: GraphQLClient, clock: FakeClock, engine: AsyncEngine
) -> None:
    token, _ = await register(timed_client)

    async def last_seen() -> Any:
        async with engine.connect() as conn:
            return await conn.scalar(select(sessions.c.last_seen_at))

    signed_in_at = await last_seen()
    clock.advance(seconds=30)
    await timed_client.data(ME, token=token)
    assert await last_seen() == signed_in_at
    clock.advance(seconds=31)
    await timed_client.data(ME, token=token)
    assert await last_seen() > signed_in_at


async def test_in_production_the_cookie_is_host_prefixed_and_secure(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> None:
    settings = settings_for(
        database_url,
        env="production",
        card_vault_keys=VaultKeyring.generate("k1"),
        rate_limits_in_memory=True,
    )
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        response = await http.post(
            "/graphql", json={"query": REGISTER, "variables": {"input": registration()}}
        )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-datarights_session=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie
    assert "SameSite=lax" in cookie
