"""`datarights staff create|list|disable`: accounts with a role, a password and a TOTP factor."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.staff.totp import code_at
from tests.api.helpers import STAFF_LOGIN, STAFF_PASSWORD
from tests.conftest import snapshot
from tests.graphql import GraphQLClient


async def test_create_sign_in_list_and_disable(
    cli: Any, client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATARIGHTS_STAFF_PASSWORD", STAFF_PASSWORD)
    code, out, err = await cli(
        "staff", "create", "--email", "Officer@Staff.Example", "--role", "PRIVACY_OFFICER"
    )
    assert code == 0, err
    uri = next(line for line in out.splitlines() if line.startswith("otpauth://"))
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    assert "officer@staff.example PRIVACY_OFFICER reference S-" in out

    from datetime import UTC, datetime

    login = {
        "input": {
            "email": "officer@staff.example",
            "password": STAFF_PASSWORD,
            "totp": code_at(secret, datetime.now(UTC)),
        }
    }
    signed_in = (await client.data(STAFF_LOGIN, login))["staffLogin"]
    assert signed_in["errors"] == [] and signed_in["staff"]["role"] == "PRIVACY_OFFICER"

    code, out, _ = await cli("staff", "list")
    assert code == 0
    assert "PRIVACY_OFFICER" in out and "active" in out and "officer@staff.example" in out

    code, out, _ = await cli("staff", "disable", "--email", "officer@staff.example")
    assert code == 0 and "disabled" in out
    queue = await client.execute("{ requests { edges { cursor } } }", token=signed_in["token"])
    assert queue["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    code, out, _ = await cli("staff", "list")
    assert "disabled" in out


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--email", "weak@staff.example", "--role", "SUPPORT"], "password1234", "too common"),
        (["--email", "not an address", "--role", "SUPPORT"], STAFF_PASSWORD, "not a valid e-mail"),
    ],
)
async def test_bad_accounts_are_refused_and_nothing_is_written(
    cli: Any,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    password: str,
    message: str,
) -> None:
    monkeypatch.setenv("DATARIGHTS_STAFF_PASSWORD", password)
    before = await snapshot(engine)
    code, out, err = await cli("staff", "create", *args)
    assert code != 0
    assert message in err and "Traceback" not in err and out == ""
    assert await snapshot(engine) == before


async def test_a_second_account_for_an_address_and_an_unknown_one_are_refused(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATARIGHTS_STAFF_PASSWORD", STAFF_PASSWORD)
    args = ("staff", "create", "--email", "twice@staff.example", "--role", "SUPPORT")
    assert (await cli(*args))[0] == 0
    code, _, err = await cli(*args)
    assert code == 2 and "exists" in err
    code, _, err = await cli("staff", "disable", "--email", "ghost@staff.example")
    assert code == 2 and "No staff account" in err
