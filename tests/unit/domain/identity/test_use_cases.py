"""Signing in and out, sessions, passwords and e-mail verification, through in-memory ports."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, FieldPath, RateLimited
from domain.identity import use_cases
from domain.identity.model import ClientInfo
from domain.identity.use_cases import SignedIn
from domain.ports import Throttle
from domain.profile import use_cases as profile
from tests.unit.examples import (
    CLIENT,
    NEW_PASSWORD,
    PASSWORD,
    card_form,
    registration_values,
    reported,
)
from tests.unit.fakes import (
    FakeClock,
    FakePasswordHasher,
    FakeRateLimiter,
    InMemoryStore,
    code_in,
    nothing_written,
)

ADA = "ada@example.com"
ELSEWHERE = ClientInfo(ip="198.51.100.20", user_agent="another browser")


@pytest.fixture
async def ada(deps: Dependencies) -> SignedIn:
    """Ada, registered and signed in."""
    return await profile.register(deps, registration_values(), card_form(), PASSWORD, CLIENT)


async def refused(call: Awaitable[object]) -> set[tuple[FieldPath, ErrorCode]]:
    """The problems a use case call was refused with."""
    with pytest.raises(DomainError) as error:
        await call
    return reported(error.value.problems)


async def request_reset(deps: Dependencies, email: str) -> None:
    """A reset request, and the sending that follows once the answer has gone."""
    send = await use_cases.request_password_reset(deps, email, CLIENT)
    await send()


# login


async def test_a_registered_customer_can_sign_in(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    # when
    signed_in = await use_cases.login(deps, "  ADA@Example.com ", PASSWORD, ELSEWHERE)

    # then
    assert signed_in.customer.id == ada.customer.id
    assert signed_in.token != ada.token
    assert signed_in.session.id in store.committed.sessions
    assert store.committed.sign_ins[-1].ip == ELSEWHERE.ip
    assert await use_cases.authenticate(deps, signed_in.token) == signed_in.session


async def test_an_unknown_address_and_a_wrong_password_fail_the_same_way(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    # when
    with nothing_written(store), pytest.raises(DomainError) as unknown:
        await use_cases.login(deps, "grace@example.com", PASSWORD, CLIENT)
    with nothing_written(store), pytest.raises(DomainError) as wrong:
        await use_cases.login(deps, ADA, "not the password", CLIENT)

    # then
    assert unknown.value.problems == wrong.value.problems
    assert reported(wrong.value.problems) == {((), ErrorCode.INVALID_CREDENTIALS)}


async def test_an_address_that_is_not_one_fails_as_invalid_credentials(
    deps: Dependencies, ada: SignedIn
) -> None:
    problems = await refused(use_cases.login(deps, "not-an-address", PASSWORD, CLIENT))

    assert problems == {((), ErrorCode.INVALID_CREDENTIALS)}


async def test_after_too_many_failures_even_the_right_password_is_refused(
    deps: Dependencies, ada: SignedIn, limiter: FakeRateLimiter
) -> None:
    # given
    for _ in range(limiter.limits[Throttle.LOGIN_ACCOUNT]):
        await refused(use_cases.login(deps, ADA, "not the password", CLIENT))

    # when
    with pytest.raises(RateLimited) as limited:
        await use_cases.login(deps, ADA, PASSWORD, CLIENT)

    # then
    assert limited.value.retry_after >= 1


async def test_signing_in_forgets_the_earlier_failures_of_the_account(
    deps: Dependencies, ada: SignedIn, limiter: FakeRateLimiter
) -> None:
    for _ in range(limiter.limits[Throttle.LOGIN_ACCOUNT] - 1):
        await refused(use_cases.login(deps, ADA, "not the password", CLIENT))

    await use_cases.login(deps, ADA, PASSWORD, CLIENT)

    assert not await limiter.exhausted(Throttle.LOGIN_ACCOUNT, ADA)
    assert limiter.counts[Throttle.LOGIN_ACCOUNT, ADA] == 0


async def test_signing_in_upgrades_an_outdated_password_hash(
    deps: Dependencies, store: InMemoryStore, hasher: FakePasswordHasher, ada: SignedIn
) -> None:
    # given: the hashing parameters changed since Ada registered
    hasher.scheme = "fake-v2"

    # when
    await use_cases.login(deps, ADA, PASSWORD, CLIENT)

    # then
    stored = store.customer(ada.customer.id).password_hash
    assert stored.startswith("fake-v2$")
    assert await hasher.verify(PASSWORD, stored)


# sessions


async def test_a_token_that_names_no_session_authenticates_nobody(
    deps: Dependencies, ada: SignedIn
) -> None:
    assert await use_cases.authenticate(deps, "") is None
    assert await use_cases.authenticate(deps, ada.token + "x") is None


async def test_a_session_left_idle_ends_and_is_removed(
    deps: Dependencies, store: InMemoryStore, clock: FakeClock, ada: SignedIn
) -> None:
    clock.advance(seconds=deps.sessions.idle_timeout.total_seconds())

    assert await use_cases.authenticate(deps, ada.token) is None
    assert ada.session.id not in store.committed.sessions


async def test_using_a_session_keeps_it_alive_past_the_idle_timeout(
    deps: Dependencies, store: InMemoryStore, clock: FakeClock, ada: SignedIn
) -> None:
    # given: used twenty minutes in, then idle for another twenty
    clock.advance(minutes=20)
    assert await use_cases.authenticate(deps, ada.token) is not None
    clock.advance(minutes=20)

    # when
    session = await use_cases.authenticate(deps, ada.token)

    # then
    assert session is not None
    assert store.committed.sessions[ada.session.id].last_seen_at == clock.now()


async def test_a_session_is_not_written_to_on_every_request(
    deps: Dependencies, store: InMemoryStore, clock: FakeClock, ada: SignedIn
) -> None:
    clock.advance(seconds=30)

    with nothing_written(store):
        assert await use_cases.authenticate(deps, ada.token) is not None


async def test_signing_out_ends_the_session_at_once(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    await use_cases.logout(deps, ada.session)

    assert await use_cases.authenticate(deps, ada.token) is None
    assert ada.session.id not in store.committed.sessions


# change_password


async def test_changing_the_password_ends_every_other_session(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    # given
    elsewhere = await use_cases.login(deps, ADA, PASSWORD, ELSEWHERE)

    # when
    await use_cases.change_password(deps, ada.session, PASSWORD, NEW_PASSWORD)

    # then
    assert await use_cases.authenticate(deps, ada.token) is not None
    assert await use_cases.authenticate(deps, elsewhere.token) is None
    assert [m.kind for m in store.mail_to(ADA)][-1] == "PASSWORD_CHANGED"
    assert await refused(use_cases.login(deps, ADA, PASSWORD, CLIENT)) == {
        ((), ErrorCode.INVALID_CREDENTIALS)
    }
    await use_cases.login(deps, ADA, NEW_PASSWORD, CLIENT)


async def test_the_password_is_not_changed_without_the_current_one(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    with nothing_written(store):
        problems = await refused(
            use_cases.change_password(deps, ada.session, "not the password", NEW_PASSWORD)
        )

    assert problems == {(("current_password",), ErrorCode.WRONG_PASSWORD)}


async def test_a_new_password_built_from_the_customers_name_is_refused(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    with nothing_written(store):
        problems = await refused(
            use_cases.change_password(deps, ada.session, PASSWORD, "LovelaceAnalytical")
        )

    assert problems == {(("new_password",), ErrorCode.PASSWORD_TOO_COMMON)}


# password reset


async def test_a_reset_code_sets_a_new_password_once_and_ends_every_session(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    # given
    await request_reset(deps, "Ada@example.com")
    reset = store.mail_to(ADA)[-1]
    assert reset.kind == "PASSWORD_RESET"
    code = code_in(reset)

    # when
    await use_cases.reset_password(deps, code, NEW_PASSWORD, CLIENT)

    # then
    assert await use_cases.authenticate(deps, ada.token) is None
    await use_cases.login(deps, ADA, NEW_PASSWORD, CLIENT)
    assert await refused(
        use_cases.reset_password(deps, code, "yet another long phrase", CLIENT)
    ) == {((), ErrorCode.INVALID_TOKEN)}


async def test_a_reset_code_expires_after_an_hour(
    deps: Dependencies, store: InMemoryStore, clock: FakeClock, ada: SignedIn
) -> None:
    await request_reset(deps, ADA)
    code = code_in(store.mail_to(ADA)[-1])
    clock.advance(hours=1)

    with nothing_written(store):
        problems = await refused(use_cases.reset_password(deps, code, NEW_PASSWORD, CLIENT))

    assert problems == {((), ErrorCode.INVALID_TOKEN)}


async def test_a_reset_for_an_unknown_address_sends_nothing_and_says_nothing(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    with nothing_written(store):
        await request_reset(deps, "grace@example.com")


async def test_a_newer_reset_code_replaces_the_older_one(
    deps: Dependencies, store: InMemoryStore, ada: SignedIn
) -> None:
    await request_reset(deps, ADA)
    first = code_in(store.mail_to(ADA)[-1])
    await request_reset(deps, ADA)

    problems = await refused(use_cases.reset_password(deps, first, NEW_PASSWORD, CLIENT))

    assert problems == {((), ErrorCode.INVALID_TOKEN)}


# e-mail verification


async def test_the_code_sent_at_registration_verifies_the_address_once(
    deps: Dependencies, store: InMemoryStore, clock: FakeClock, ada: SignedIn
) -> None:
    code = code_in(store.mail_to(ADA)[0])

    customer = await use_cases.verify_email(deps, code, CLIENT)

    assert customer.email_verified
    assert store.customer(ada.customer.id).email_verified_at == clock.now()
    assert await refused(use_cases.verify_email(deps, code, CLIENT)) == {
        ((), ErrorCode.INVALID_TOKEN)
    }
