"""Sessions and single-use account tokens: when they stop working, and what is stored."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from domain.identity.model import (
    TOKEN_LIFETIME,
    AccountToken,
    Session,
    SessionPolicy,
    TokenPurpose,
    issue_token,
    new_secret,
    open_session,
)

NOW = datetime(2030, 6, 15, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy(
    idle_timeout=timedelta(minutes=30),
    absolute_timeout=timedelta(hours=12),
    touch_interval=timedelta(minutes=1),
)
TICK = timedelta(microseconds=1)
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def session_opened_at(at: datetime = NOW) -> Session:
    _, session = open_session(uuid.uuid4(), at, POLICY)
    return session


def test_a_new_session_is_active() -> None:
    assert session_opened_at().is_active(NOW, POLICY)


def test_a_session_is_active_until_just_before_the_idle_timeout() -> None:
    session = session_opened_at()

    assert session.is_active(NOW + POLICY.idle_timeout - TICK, POLICY)


def test_a_session_ends_exactly_at_the_idle_timeout() -> None:
    session = session_opened_at()

    assert not session.is_active(NOW + POLICY.idle_timeout, POLICY)


def test_a_session_kept_busy_is_active_until_just_before_the_absolute_timeout() -> None:
    # given: seen a moment ago, so the idle clock is far from running out
    session = session_opened_at()
    session.last_seen_at = NOW + POLICY.absolute_timeout - timedelta(minutes=1)

    assert session.is_active(NOW + POLICY.absolute_timeout - TICK, POLICY)


def test_a_session_kept_busy_ends_exactly_at_the_absolute_timeout() -> None:
    session = session_opened_at()
    session.last_seen_at = NOW + POLICY.absolute_timeout - timedelta(minutes=1)

    assert not session.is_active(NOW + POLICY.absolute_timeout, POLICY)


def test_the_idle_clock_is_not_written_before_the_touch_interval() -> None:
    session = session_opened_at()

    assert not session.needs_touch(NOW + POLICY.touch_interval - TICK, POLICY)


def test_the_idle_clock_is_written_once_the_touch_interval_has_passed() -> None:
    session = session_opened_at()

    assert session.needs_touch(NOW + POLICY.touch_interval, POLICY)


def test_a_session_lasts_the_absolute_timeout_from_when_it_was_opened() -> None:
    session = session_opened_at()

    assert (session.created_at, session.last_seen_at, session.expires_at) == (
        NOW,
        NOW,
        NOW + POLICY.absolute_timeout,
    )


def test_a_session_stores_only_the_sha256_hash_of_its_token() -> None:
    # when
    token, session = open_session(uuid.uuid4(), NOW, POLICY)

    # then
    assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(getattr(session, f.name)) for f in dataclasses.fields(session)]
    assert not any(token in value for value in stored)
    assert token not in repr(session)
    assert session.token_hash not in repr(session)


@pytest.mark.parametrize(
    "make",
    [
        new_secret,
        lambda: open_session(uuid.uuid4(), NOW, POLICY)[0],
        lambda: issue_token(uuid.uuid4(), TokenPurpose.PASSWORD_RESET, "a@example.com", NOW)[0],
    ],
    ids=["secret", "session", "account-token"],
)
def test_tokens_are_at_least_43_url_safe_characters_and_never_repeat(
    make: Callable[[], str],
) -> None:
    tokens = {make() for _ in range(50)}

    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 43
        assert URL_SAFE.fullmatch(token)


def account_token(purpose: TokenPurpose = TokenPurpose.PASSWORD_RESET) -> AccountToken:
    _, record = issue_token(uuid.uuid4(), purpose, "ada@example.com", NOW)
    return record


@pytest.mark.parametrize("purpose", list(TokenPurpose))
def test_an_account_token_lasts_its_purposes_lifetime(purpose: TokenPurpose) -> None:
    record = account_token(purpose)

    assert record.expires_at == NOW + TOKEN_LIFETIME[purpose]
    assert record.usable(purpose, record.expires_at - TICK)


def test_an_account_token_is_not_usable_for_another_purpose() -> None:
    record = account_token(TokenPurpose.PASSWORD_RESET)

    assert not record.usable(TokenPurpose.EMAIL_VERIFICATION, NOW)


def test_an_account_token_is_used_only_once() -> None:
    record = account_token()
    record.used_at = NOW

    assert not record.usable(TokenPurpose.PASSWORD_RESET, NOW)


def test_an_account_token_expires_exactly_at_its_expiry() -> None:
    record = account_token()

    assert not record.usable(TokenPurpose.PASSWORD_RESET, record.expires_at)


def test_an_account_token_stores_only_the_hash_of_the_secret() -> None:
    token, record = issue_token(uuid.uuid4(), TokenPurpose.EMAIL_VERIFICATION, "a@b.com", NOW)

    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(record)
