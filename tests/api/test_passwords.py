"""changePassword, password reset by e-mail, e-mail verification, and hashes kept current."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dependencies import Dependencies
from persistence.passwords import Argon2Parameters, Argon2PasswordHasher
from persistence.tables import account_tokens, customers
from tests.api.documents import (
    CHANGE_PASSWORD,
    LOGIN,
    ME,
    REQUEST_RESET,
    RESET_PASSWORD,
    UPDATE_PROFILE,
    VERIFY_EMAIL,
)
from tests.api.helpers import codes, mailed_token, outbox, register
from tests.conftest import FakeClock, snapshot
from tests.factories import NEW_PASSWORD, PASSWORD
from tests.graphql import GraphQLClient


async def sign_in(client: GraphQLClient, password: str) -> dict[str, object]:
    credentials = {"email": "ada@example.com", "password": password}
    result: dict[str, object] = (await client.data(LOGIN, {"input": credentials}))["login"]
    client.forget_cookies()
    return result


async def test_changing_the_password_ends_every_other_session_and_tells_the_address(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given two sessions
    token, _ = await register(client)
    other = (await sign_in(client, PASSWORD))["token"]
    # when
    result = await client.data(
        CHANGE_PASSWORD,
        {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}},
        token=token,
    )
    # then
    assert result["changePassword"] == {"changed": True, "errors": []}
    assert (await client.data(ME, token=token))["me"] is not None
    assert (await client.data(ME, token=str(other)))["me"] is None
    assert (await sign_in(client, PASSWORD))["token"] is None
    assert (await sign_in(client, NEW_PASSWORD))["token"] is not None
    notices = await outbox(engine, "PASSWORD_CHANGED")
    assert [n["recipient"] for n in notices] == ["ada@example.com"]


async def test_a_wrong_current_password_changes_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    result = await client.data(
        CHANGE_PASSWORD,
        {"input": {"currentPassword": "not my password!", "newPassword": NEW_PASSWORD}},
        token=token,
    )
    assert codes(result["changePassword"]["errors"]) == {(("currentPassword",), "WRONG_PASSWORD")}
    assert await snapshot(engine) == before


async def test_a_weak_new_password_is_refused(client: GraphQLClient, engine: AsyncEngine) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    result = await client.data(
        CHANGE_PASSWORD,
        {"input": {"currentPassword": PASSWORD, "newPassword": "password1234"}},
        token=token,
    )
    assert codes(result["changePassword"]["errors"]) == {(("newPassword",), "PASSWORD_TOO_COMMON")}
    assert await snapshot(engine) == before


async def test_a_reset_request_answers_the_same_whether_or_not_the_address_exists(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await register(client)
    known = await client.data(REQUEST_RESET, {"input": {"email": "ada@example.com"}})
    unknown = await client.data(REQUEST_RESET, {"input": {"email": "nobody@example.com"}})
    assert known == unknown == {"requestPasswordReset": {"accepted": True, "errors": []}}
    assert [m["recipient"] for m in await outbox(engine, "PASSWORD_RESET")] == ["ada@example.com"]


async def test_a_reset_token_sets_a_new_password_once_and_ends_every_session(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, _ = await register(client)
    await client.data(REQUEST_RESET, {"input": {"email": "ada@example.com"}})
    code = await mailed_token(engine, "PASSWORD_RESET", "ada@example.com")
    # when
    reset = {"input": {"token": code, "newPassword": NEW_PASSWORD}}
    result = await client.data(RESET_PASSWORD, reset)
    # then
    assert result["resetPassword"] == {"reset": True, "errors": []}
    assert (await client.data(ME, token=token))["me"] is None
    assert (await sign_in(client, NEW_PASSWORD))["token"] is not None
    # and the token is spent
    before = await snapshot(engine)
    again = await client.data(RESET_PASSWORD, {"input": {"token": code, "newPassword": PASSWORD}})
    assert codes(again["resetPassword"]["errors"]) == {(None, "INVALID_TOKEN")}
    assert await snapshot(engine) == before


async def test_an_expired_reset_token_is_refused(
    timed_client: GraphQLClient, clock: FakeClock, engine: AsyncEngine
) -> None:
    await register(timed_client)
    await timed_client.data(REQUEST_RESET, {"input": {"email": "ada@example.com"}})
    code = await mailed_token(engine, "PASSWORD_RESET", "ada@example.com")
    clock.advance(hours=1, seconds=1)
    before = await snapshot(engine)
    result = await timed_client.data(
        RESET_PASSWORD, {"input": {"token": code, "newPassword": NEW_PASSWORD}}
    )
    assert codes(result["resetPassword"]["errors"]) == {(None, "INVALID_TOKEN")}
    assert await snapshot(engine) == before


async def test_a_forged_reset_token_is_refused(client: GraphQLClient, engine: AsyncEngine) -> None:
    await register(client)
    before = await snapshot(engine)
    result = await client.data(
        RESET_PASSWORD, {"input": {"token": "forged-" + "A" * 36, "newPassword": NEW_PASSWORD}}
    )
    assert codes(result["resetPassword"]["errors"]) == {(None, "INVALID_TOKEN")}
    assert await snapshot(engine) == before


async def test_a_verification_token_cannot_reset_a_password(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await register(client)
    code = await mailed_token(engine, "EMAIL_VERIFICATION", "ada@example.com")
    result = await client.data(
        RESET_PASSWORD, {"input": {"token": code, "newPassword": NEW_PASSWORD}}
    )
    assert codes(result["resetPassword"]["errors"]) == {(None, "INVALID_TOKEN")}


async def test_the_address_is_verified_with_the_code_sent_at_registration(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, customer = await register(client)
    assert customer["emailVerified"] is False
    code = await mailed_token(engine, "EMAIL_VERIFICATION", "ada@example.com")
    # when
    result = await client.data(VERIFY_EMAIL, {"input": {"token": code}})
    # then
    assert result["verifyEmail"] == {"verified": True, "errors": []}
    assert (await client.data(ME, token=token))["me"]["emailVerified"] is True
    before = await snapshot(engine)
    again = await client.data(VERIFY_EMAIL, {"input": {"token": code}})
    assert codes(again["verifyEmail"]["errors"]) == {(None, "INVALID_TOKEN")}
    assert await snapshot(engine) == before


async def test_an_expired_or_forged_verification_code_is_refused(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await register(client)
    code = await mailed_token(engine, "EMAIL_VERIFICATION", "ada@example.com")
    async with engine.begin() as conn:
        await conn.execute(update(account_tokens).values(expires_at=account_tokens.c.created_at))
    before = await snapshot(engine)
    for attempt in (code, "forged"):
        result = await client.data(VERIFY_EMAIL, {"input": {"token": attempt}})
        assert codes(result["verifyEmail"]["errors"]) == {(None, "INVALID_TOKEN")}
    assert await snapshot(engine) == before


async def test_a_new_address_needs_the_password_a_new_verification_and_a_notice_to_the_old(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given a verified customer
    token, _ = await register(client)
    await client.data(
        VERIFY_EMAIL,
        {"input": {"token": await mailed_token(engine, "EMAIL_VERIFICATION", "ada@example.com")}},
    )
    old_code_before_change = await mailed_token(engine, "EMAIL_VERIFICATION", "ada@example.com")
    # when the address changes without the password, nothing happens
    before = await snapshot(engine)
    refused = await client.data(
        UPDATE_PROFILE, {"input": {"email": "ada@analytical.example"}}, token=token
    )
    assert codes(refused["updateProfile"]["errors"]) == {(("currentPassword",), "REQUIRED")}
    wrong = await client.data(
        UPDATE_PROFILE,
        {"input": {"email": "ada@analytical.example", "currentPassword": "not my password"}},
        token=token,
    )
    assert codes(wrong["updateProfile"]["errors"]) == {(("currentPassword",), "WRONG_PASSWORD")}
    assert await snapshot(engine) == before
    # when it changes with the password
    result = await client.data(
        UPDATE_PROFILE,
        {"input": {"email": "ada@analytical.example", "currentPassword": PASSWORD}},
        token=token,
    )
    # then
    customer = result["updateProfile"]["customer"]
    assert customer["email"] == "ada@analytical.example"
    assert customer["emailVerified"] is False
    assert [m["recipient"] for m in await outbox(engine, "EMAIL_CHANGED")] == ["ada@example.com"]
    new_code = await mailed_token(engine, "EMAIL_VERIFICATION", "ada@analytical.example")
    stale = await client.data(VERIFY_EMAIL, {"input": {"token": old_code_before_change}})
    assert codes(stale["verifyEmail"]["errors"]) == {(None, "INVALID_TOKEN")}
    verified = await client.data(VERIFY_EMAIL, {"input": {"token": new_code}})
    assert verified["verifyEmail"]["verified"] is True


async def test_mail_is_logged_without_recipient_or_content(
    client: GraphQLClient, engine: AsyncEngine, captured_logs: object
) -> None:
    import pytest

    assert isinstance(captured_logs, pytest.LogCaptureFixture)
    await register(client)
    mail_records = [r for r in captured_logs.records if r.name == "datarights.mail"]
    assert mail_records
    body = (await outbox(engine, "EMAIL_VERIFICATION"))[0]["body"]
    code = await mailed_token(engine, "EMAIL_VERIFICATION", "ada@example.com")
    for record in captured_logs.records:
        text = record.getMessage() + repr(record.__dict__)
        assert "ada@example.com" not in text
        assert code not in text
        assert body not in text


async def store_a_hash_made_with_other_parameters(engine: AsyncEngine) -> str:
    """The customer's password stored hashed with argon2 parameters other than the configured
    ones (as every hash stored before a change of the defaults); returns that hash."""
    older = Argon2PasswordHasher(Argon2Parameters(memory_kib=16, time_cost=2))
    try:
        old_hash = await older.hash(PASSWORD)
    finally:
        older.close()
    async with engine.begin() as conn:
        await conn.execute(update(customers).values(password_hash=old_hash))
    return old_hash


async def test_a_hash_made_with_other_parameters_is_replaced_at_the_next_sign_in(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given a password hashed with parameters other than the configured ones (as every hash
    # stored before a change of the argon2 defaults)
    await register(client)
    old_hash = await store_a_hash_made_with_other_parameters(engine)
    # when
    signed_in = await sign_in(client, PASSWORD)
    # then the password still works and is now stored with the configured parameters
    assert signed_in["token"] is not None
    async with engine.connect() as conn:
        stored = await conn.scalar(select(customers.c.password_hash))
    assert stored != old_hash
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert (await sign_in(client, PASSWORD))["token"] is not None
    assert (await sign_in(client, "not my password!"))["token"] is None


@pytest.mark.parametrize("stored", ["current", "outdated"])
async def test_a_password_changed_while_a_sign_in_checks_it_signs_nobody_in(
    client: GraphQLClient,
    deps: Dependencies,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    stored: str,
) -> None:
    # given Ada, signed in on her laptop, her password hashed with the configured parameters or
    # with others (then a sign-in also replaces the hash, in a transaction of its own)
    token, _ = await register(client)
    if stored == "outdated":
        await store_a_hash_made_with_other_parameters(engine)
    # and who changes it there while a sign-in with the old one is being checked
    check = deps.hasher.verify
    changed: list[dict[str, object]] = []

    async def check_then_change(password: str, password_hash: str | None) -> bool:
        right = await check(password, password_hash)
        if not changed:
            changed.append({})
            result = await client.data(
                CHANGE_PASSWORD,
                {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}},
                token=token,
            )
            changed[0] = result["changePassword"]
        return right

    monkeypatch.setattr(deps.hasher, "verify", check_then_change)
    before = await snapshot(engine)
    # when
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    payload = (await client.data(LOGIN, {"input": credentials}))["login"]
    # then the old password, right when checked, opens no session and logs no sign-in
    assert changed == [{"changed": True, "errors": []}]
    assert payload["token"] is None
    assert codes(payload["errors"]) == {(None, "INVALID_CREDENTIALS")}
    after = await snapshot(engine)
    assert after["sessions"] == before["sessions"]
    assert after["sign_in_events"] == before["sign_in_events"]
    assert (await client.data(ME, token=token))["me"] is not None
    client.forget_cookies()
    assert (await sign_in(client, NEW_PASSWORD))["token"] is not None
