"""Anonymous mutations are rate-limited per caller, with counters in memory or in Redis: past
the limit a call is refused with a top-level RATE_LIMITED error that says when to retry
(`retryAfter`, in seconds), and it does nothing.

Every test runs with both stores. With Redis, each test's counters are its own (a caller IP
and addresses unique to the test), deleted before and after it, so parallel runs sharing the
Redis database do not meet."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import build_dependencies, close_dependencies, create_app
from api.settings import Settings
from domain.dependencies import Dependencies
from domain.staff.model import StaffRole
from domain.staff.totp import code_at
from tests import backends
from tests.api.documents import (
    CONFIRM_DELETION,
    LOGIN,
    REGISTER,
    REQUEST_DELETION,
    REQUEST_RESET,
    RESET_PASSWORD,
    VERIFY_EMAIL,
)
from tests.api.helpers import STAFF_LOGIN, STAFF_PASSWORD, mailed_token, register, staff_member
from tests.conftest import settings_for, snapshot
from tests.factories import NEW_PASSWORD, PASSWORD, registration
from tests.graphql import GraphQLClient

LIMITS = {
    "registrations_per_ip": "2 per hour",
    "login_attempts_per_ip": "3 per hour",
    "login_attempts_per_account": "2 per hour",
    "password_resets_per_ip": "2 per hour",
    "code_attempts_per_ip": "2 per hour",
    "staff_login_attempts_per_account": "2 per hour",
}
HOUR = 3600


@dataclass(frozen=True)
class Caller:
    """Where this test's calls come from, and a tag for the addresses it uses."""

    ip: str
    tag: str

    def email(self, name: str = "ada") -> str:
        return f"{name}-{self.tag}@example.com"


@pytest.fixture
def caller() -> Caller:
    tag = uuid.uuid4().hex[:12]
    ip = ipaddress.IPv6Address(f"2001:db8:{tag[:4]}:{tag[4:8]}::{tag[8:]}")
    return Caller(str(ip), tag)


@pytest.fixture(params=["memory", "redis"])
async def redis_url(request: pytest.FixtureRequest, caller: Caller) -> AsyncIterator[str | None]:
    """None for counters in memory; else the test Redis, without this test's keys."""
    if request.param == "memory":
        yield None
        return
    if not backends.reachable(backends.REDIS_URL, 6379):
        backends.unavailable("Redis")
    await forget_keys(backends.REDIS_URL, caller)
    yield backends.REDIS_URL
    await forget_keys(backends.REDIS_URL, caller)


async def forget_keys(url: str, caller: Caller) -> None:
    connection = redis.asyncio.Redis.from_url(url)
    try:
        for pattern in (f"*{caller.ip}*", f"*{caller.tag}*"):
            keys = [key async for key in connection.scan_iter(match=pattern)]
            if keys:
                await connection.delete(*keys)
    finally:
        await connection.aclose()


Serving = Callable[..., AbstractAsyncContextManager[GraphQLClient]]


@pytest.fixture
def serving(database_url: str, redis_url: str | None, caller: Caller) -> Serving:
    """Start an app instance (its own processes' worth of dependencies) with small limits,
    called from the test's IP; two instances with Redis share their counters."""

    @asynccontextmanager
    async def serve(**overrides: Any) -> AsyncIterator[GraphQLClient]:
        settings: Settings = settings_for(
            database_url, redis_url=redis_url, **{**LIMITS, **overrides}
        )
        deps = build_dependencies(settings)
        transport = httpx.ASGITransport(app=create_app(settings, deps), client=(caller.ip, 50000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield GraphQLClient(http)
        finally:
            await close_dependencies(deps)

    return serve


def rate_limited(result: dict[str, Any], field: str) -> int:
    """The seconds to wait of a RATE_LIMITED refusal of ``field``, which must be all it says."""
    assert result["data"] is None, result
    [error] = result["errors"]
    assert error["path"] == [field]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry_after = error["extensions"]["retryAfter"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= HOUR
    assert error["message"].startswith("Too many attempts; try again in ")
    assert str(retry_after) in error["message"]
    return retry_after


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def test_registrations_past_the_limit_per_ip_are_refused_and_write_nothing(
    serving: Serving, caller: Caller, engine: AsyncEngine
) -> None:
    async with serving() as client:
        # given two registrations from one IP, a refused one included
        result = await client.data(REGISTER, {"input": {}})
        assert "REQUIRED" in codes(result["register"])
        result = await client.data(REGISTER, {"input": registration(email=caller.email())})
        assert result["register"]["errors"] == []
        before = await snapshot(engine)
        # when a third comes
        result = await client.execute(
            REGISTER, {"input": registration(email=caller.email("grace"))}
        )
        # then
        rate_limited(result, "register")
        assert await snapshot(engine) == before


async def test_sign_ins_past_the_limit_per_ip_are_refused_whatever_the_account(
    serving: Serving, caller: Caller, client: GraphQLClient, engine: AsyncEngine
) -> None:
    await register(client, email=caller.email())
    async with serving() as limited:
        # given three attempts from one IP, each at another address
        for name in ("grace", "alan", "edsger"):
            attempt = {"input": {"email": caller.email(name), "password": PASSWORD}}
            assert codes((await limited.data(LOGIN, attempt))["login"]) == ["INVALID_CREDENTIALS"]
        before = await snapshot(engine)
        # when the right password of a real account comes from the same IP
        result = await limited.execute(
            LOGIN, {"input": {"email": caller.email(), "password": PASSWORD}}
        )
        # then no session was opened
        rate_limited(result, "login")
        assert await snapshot(engine) == before


async def test_sign_ins_past_the_limit_per_account_are_refused_even_with_the_password(
    serving: Serving, caller: Caller, client: GraphQLClient, engine: AsyncEngine
) -> None:
    await register(client, email=caller.email())
    async with serving() as limited:
        wrong = {"input": {"email": caller.email(), "password": "not the password at all"}}
        for _ in range(2):
            assert codes((await limited.data(LOGIN, wrong))["login"]) == ["INVALID_CREDENTIALS"]
        before = await snapshot(engine)
        result = await limited.execute(
            LOGIN, {"input": {"email": caller.email(), "password": PASSWORD}}
        )
        rate_limited(result, "login")
        assert await snapshot(engine) == before


async def test_password_reset_requests_past_the_limit_per_ip_are_refused_and_send_nothing(
    serving: Serving, caller: Caller, client: GraphQLClient, engine: AsyncEngine
) -> None:
    await register(client, email=caller.email())
    async with serving() as limited:
        # given two requests from one IP, for an address with an account and one without:
        # both are answered alike
        for address in (caller.email(), caller.email("nobody")):
            result = await limited.data(REQUEST_RESET, {"input": {"email": address}})
            assert result["requestPasswordReset"] == {"accepted": True, "errors": []}
        before = await snapshot(engine)
        # when a third comes, for the address with an account
        result = await limited.execute(REQUEST_RESET, {"input": {"email": caller.email()}})
        # then it is refused as the caller's, whatever the address, and no e-mail is queued
        rate_limited(result, "requestPasswordReset")
        assert await snapshot(engine) == before
        result = await limited.execute(REQUEST_RESET, {"input": {"email": caller.email("nobody")}})
        rate_limited(result, "requestPasswordReset")


@dataclass(frozen=True)
class CodeMutation:
    """A mutation that takes a single-use code, and how to get a right one."""

    field: str
    document: str
    extra: dict[str, Any]
    mail_kind: str
    ask: Callable[[GraphQLClient, str, str], Awaitable[object]]


async def _ask_reset(client: GraphQLClient, email: str, token: str) -> None:
    await client.data(REQUEST_RESET, {"input": {"email": email}})


async def _ask_nothing(client: GraphQLClient, email: str, token: str) -> None:
    pass  # registration sends the verification code


async def _ask_deletion(client: GraphQLClient, email: str, token: str) -> None:
    await client.data(REQUEST_DELETION, {"input": {"password": PASSWORD}}, token=token)


CODE_MUTATIONS = [
    CodeMutation(
        "resetPassword",
        RESET_PASSWORD,
        {"newPassword": NEW_PASSWORD},
        "PASSWORD_RESET",
        _ask_reset,
    ),
    CodeMutation("verifyEmail", VERIFY_EMAIL, {}, "EMAIL_VERIFICATION", _ask_nothing),
    CodeMutation("confirmAccountDeletion", CONFIRM_DELETION, {}, "ACCOUNT_DELETION", _ask_deletion),
]


@pytest.mark.parametrize("mutation", CODE_MUTATIONS, ids=lambda m: m.field)
async def test_codes_tried_past_the_limit_per_ip_are_refused_even_the_right_one(
    mutation: CodeMutation,
    serving: Serving,
    caller: Caller,
    client: GraphQLClient,
    engine: AsyncEngine,
) -> None:
    # given a customer with a right code, and two wrong guesses from one IP
    token, _ = await register(client, email=caller.email())
    await mutation.ask(client, caller.email(), token)
    code = await mailed_token(engine, mutation.mail_kind, caller.email())
    async with serving() as limited:
        for guess in ("not-the-code", "nor-this-one"):
            result = await limited.data(
                mutation.document, {"input": {"token": guess, **mutation.extra}}
            )
            assert codes(result[mutation.field]) == ["INVALID_TOKEN"]
        before = await snapshot(engine)
        # when the right code comes from the same IP
        result = await limited.execute(
            mutation.document, {"input": {"token": code, **mutation.extra}}
        )
        # then it is not used
        rate_limited(result, mutation.field)
        assert await snapshot(engine) == before


async def test_the_three_kinds_of_code_share_one_count_per_ip(
    serving: Serving, caller: Caller
) -> None:
    async with serving() as limited:
        await limited.data(RESET_PASSWORD, {"input": {"token": "x", "newPassword": NEW_PASSWORD}})
        await limited.data(VERIFY_EMAIL, {"input": {"token": "x"}})
        result = await limited.execute(CONFIRM_DELETION, {"input": {"token": "x"}})
        rate_limited(result, "confirmAccountDeletion")


async def test_staff_sign_ins_past_the_limit_per_account_are_refused(
    serving: Serving, caller: Caller, deps: Dependencies, engine: AsyncEngine
) -> None:
    created = await staff_member(deps, StaffRole.SUPPORT, caller.email("staff"))
    email = created.member.email
    async with serving() as limited:
        wrong = {"input": {"email": email, "password": "wrong password here", "totp": "000000"}}
        for _ in range(2):
            result = await limited.data(STAFF_LOGIN, wrong)
            assert codes(result["staffLogin"]) == ["INVALID_CREDENTIALS"]
        before = await snapshot(engine)
        right = {
            "email": email,
            "password": STAFF_PASSWORD,
            "totp": code_at(created.member.totp_secret, deps.clock.now()),
        }
        result = await limited.execute(STAFF_LOGIN, {"input": right})
        rate_limited(result, "staffLogin")
        assert await snapshot(engine) == before


async def test_a_refusal_is_logged_as_a_refusal_not_as_a_fault(
    serving: Serving, captured_logs: pytest.LogCaptureFixture
) -> None:
    async with serving(registrations_per_ip="1 per hour") as client:
        await client.data(REGISTER, {"input": {}})
        rate_limited(await client.execute(REGISTER, {"input": {}}), "register")
    assert not [r for r in captured_logs.records if r.levelno >= logging.WARNING]


async def test_after_retry_after_seconds_the_caller_may_try_again(serving: Serving) -> None:
    async with serving(registrations_per_ip="1 per 2 seconds") as client:
        assert "REQUIRED" in codes((await client.data(REGISTER, {"input": {}}))["register"])
        wait = rate_limited(await client.execute(REGISTER, {"input": {}}), "register")
        assert wait <= 2
        await asyncio.sleep(wait)
        assert "REQUIRED" in codes((await client.data(REGISTER, {"input": {}}))["register"])


async def test_with_redis_two_instances_share_one_count(
    serving: Serving, redis_url: str | None, caller: Caller
) -> None:
    # given two instances of the app (two workers or replicas) and one caller
    async with serving() as one, serving() as other:
        # when the caller registers once through each, then again through the first
        for client in (one, other):
            assert "REQUIRED" in codes((await client.data(REGISTER, {"input": {}}))["register"])
        third = await one.execute(REGISTER, {"input": {}})
        # then with Redis the limit (2) holds across them; in memory each counts on its own,
        # which is why production refuses to start without Redis unless told it is alone
        if redis_url is not None:
            rate_limited(third, "register")
            rate_limited(await other.execute(REGISTER, {"input": {}}), "register")
        else:
            assert "REQUIRED" in codes(third["data"]["register"])
