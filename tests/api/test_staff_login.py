"""Staff sign in with a password and a TOTP code that works once; sessions are their own."""

from __future__ import annotations

from domain.dependencies import Dependencies
from domain.staff.model import StaffRole
from domain.staff.totp import code_at
from tests.api.helpers import STAFF_LOGIN, STAFF_PASSWORD, staff_member
from tests.conftest import FakeClock
from tests.graphql import GraphQLClient

WHO = "query { me { id } }"


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
