"""Staff sign in with a password and a TOTP code that works once; sessions are their own."""

from __future__ import annotations

from domain.dependencies import Dependencies
from domain.staff.model import StaffRole
from domain.staff.totp import code_at
from domain.staff.use_cases import disable_staff
from tests.api.helpers import STAFF_LOGIN, STAFF_PASSWORD, register, staff_member
from tests.conftest import FakeClock
from tests.graphql import GraphQLClient

WHO = "query { me { id } }"
QUEUE = "query { requests { edges { node { id } } } }"


def login_input(email: str, secret: str, clock: FakeClock, **changes: str) -> dict[str, object]:
    values = {"email": email, "password": STAFF_PASSWORD, "totp": code_at(secret, clock.now())}
    return {"input": {**values, **changes}}


async def test_password_and_code_open_a_staff_session(
    timed_client: GraphQLClient, deps: Dependencies, clock: FakeClock
) -> None:
    created = await staff_member(deps, StaffRole.SUPPORT)
    data = await timed_client.data(
        STAFF_LOGIN, login_input(created.member.email, created.member.totp_secret, clock)
    )
    payload = data["staffLogin"]
    assert payload["errors"] == []
    assert payload["token"].startswith("drs_")
    assert payload["staff"] == {"reference": created.member.reference, "role": "SUPPORT"}
    assert created.provisioning_uri.startswith("otpauth://totp/")
    # A staff token is no customer session.
    assert (await timed_client.data(WHO, token=payload["token"]))["me"] is None


async def test_wrong_reused_and_disabled_all_fail_alike(
    timed_client: GraphQLClient, deps: Dependencies, clock: FakeClock
) -> None:
    created = await staff_member(deps, StaffRole.PRIVACY_OFFICER)
    email, secret = created.member.email, created.member.totp_secret
    wrong_code = str((int(code_at(secret, clock.now())) + 1) % 1_000_000).zfill(6)
    attempts = [
        login_input(email, secret, clock, totp=wrong_code),
        login_input(email, secret, clock, totp="12345"),
        login_input(email, secret, clock, password="not the staff password at all"),
        login_input("nobody@staff.example", secret, clock),
    ]
    for variables in attempts:
        payload = (await timed_client.data(STAFF_LOGIN, variables))["staffLogin"]
        assert payload["token"] is None
        assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]

    good = login_input(email, secret, clock)
    assert (await timed_client.data(STAFF_LOGIN, good))["staffLogin"]["token"]
    # The same code again (a replay, even within its 30 seconds) is refused.
    replay = (await timed_client.data(STAFF_LOGIN, good))["staffLogin"]
    assert [e["code"] for e in replay["errors"]] == ["INVALID_CREDENTIALS"]
    # The next time step's code works.
    clock.advance(seconds=30)
    token = (await timed_client.data(STAFF_LOGIN, login_input(email, secret, clock)))["staffLogin"][
        "token"
    ]
    assert token

    await disable_staff(deps, email)
    clock.advance(seconds=30)
    disabled = (await timed_client.data(STAFF_LOGIN, login_input(email, secret, clock)))[
        "staffLogin"
    ]
    assert [e["code"] for e in disabled["errors"]] == ["INVALID_CREDENTIALS"]
    # Disabling ended the session that was open.
    result = await timed_client.execute(QUEUE, token=token)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_staff_sessions_end_after_15_idle_minutes_and_on_logout(
    timed_client: GraphQLClient, deps: Dependencies, clock: FakeClock
) -> None:
    created = await staff_member(deps, StaffRole.PRIVACY_OFFICER)
    email, secret = created.member.email, created.member.totp_secret
    token = (await timed_client.data(STAFF_LOGIN, login_input(email, secret, clock)))["staffLogin"][
        "token"
    ]
    clock.advance(minutes=14)
    assert "errors" not in await timed_client.execute(QUEUE, token=token)
    clock.advance(minutes=14)  # 14 idle minutes since the last request: still alive
    assert "errors" not in await timed_client.execute(QUEUE, token=token)
    clock.advance(minutes=15, seconds=1)
    result = await timed_client.execute(QUEUE, token=token)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    clock.advance(seconds=30)
    token = (await timed_client.data(STAFF_LOGIN, login_input(email, secret, clock)))["staffLogin"][
        "token"
    ]
    ended = await timed_client.data("mutation { staffLogout { ended } }", token=token)
    assert ended == {"staffLogout": {"ended": True}}
    result = await timed_client.execute(QUEUE, token=token)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_staff_login_is_throttled_per_account(
    client: GraphQLClient, deps: Dependencies
) -> None:
    created = await staff_member(deps, StaffRole.SUPPORT)
    bad = {"input": {"email": created.member.email, "password": "wrong password here", "totp": "1"}}
    codes = []
    for _ in range(5):
        codes += [e["code"] for e in (await client.data(STAFF_LOGIN, bad))["staffLogin"]["errors"]]
    assert codes == ["INVALID_CREDENTIALS"] * 5
    result = await client.execute(STAFF_LOGIN, bad)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["RATE_LIMITED"]


async def test_a_customer_session_is_not_a_staff_session(
    client: GraphQLClient, deps: Dependencies
) -> None:
    customer_token, _ = await register(client)
    result = await client.execute(QUEUE, token=customer_token)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert result["data"] is None
    result = await client.execute(QUEUE)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
