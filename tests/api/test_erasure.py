"""Erase me: confirmation by e-mail, then nothing about the customer is left anywhere."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dependencies import Dependencies
from domain.staff.model import StaffRole
from persistence.tables import consent_ledger, data_subject_requests, metadata
from tests.api.documents import (
    CONFIRM_DELETION,
    LOGIN,
    ME,
    REQUEST_DELETION,
    REQUEST_RESET,
    SET_SHARING,
    UPDATE_PROFILE,
)
from tests.api.helpers import codes, mailed_token, register, staff_token
from tests.conftest import FakeClock, snapshot
from tests.factories import PASSWORD, registration
from tests.graphql import GraphQLClient


def marked() -> tuple[dict[str, Any], list[str]]:
    """A registration whose every free-text field holds its own marker."""
    tag = uuid.uuid4().hex[:8]
    email = f"marker-{tag}@example.com"

    def address(kind: str) -> dict[str, str]:
        return {
            "line1": f"{kind}line1{tag}",
            "line2": f"{kind}line2{tag}",
            "city": f"{kind}city{tag}",
            "region": f"{kind}region{tag}",
            "postalCode": f"PC{kind[:2]}{tag[:6]}",
            "country": "GB",
        }

    value = registration(
        email=email,
        name=f"name{tag}",
        companyName=f"company{tag}",
        address=address("home"),
        phone="+44 20 7946 0123",
        title=f"title{tag}",
        department=f"department{tag}",
        fax="+44 20 7946 0124",
        industry=f"industry{tag}",
    )
    value["billing"]["name"] = f"billingname{tag}"
    value["billing"]["address"] = address("bill")
    markers = [
        email,
        f"name{tag}",
        f"company{tag}",
        f"title{tag}",
        f"department{tag}",
        f"industry{tag}",
        f"billingname{tag}",
        "+442079460123",
        "+442079460124",
        f"useragent{tag}",
        f"renamed{tag}",
        f"staffnote{tag}",
        *(v for v in address("home").values() if v != "GB"),
        *(v for v in address("bill").values() if v != "GB"),
    ]
    return value, markers


async def everything_stored(engine: AsyncEngine) -> str:
    dumps = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            dumps.append(repr((await conn.execute(select(table))).all()))
    return "\n".join(dumps)


async def test_erasure_leaves_no_trace_of_the_customer_anywhere(
    client: GraphQLClient,
    deps: Dependencies,
    engine: AsyncEngine,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    # given a customer who used every feature, from a browser with a marked user agent
    value, markers = marked()
    tag = value["name"].removeprefix("name")
    headers = {"User-Agent": f"useragent{tag}"}
    client.http.headers.update(headers)
    token, customer = await register(client, **{k: v for k, v in value.items()})
    await client.data(LOGIN, {"input": {"email": value["email"], "password": PASSWORD}})
    client.forget_cookies()
    await client.data(UPDATE_PROFILE, {"input": {"name": f"renamed{tag}"}}, token=token)
    share = {"input": {"preferences": [{"purpose": "PARTNER_OFFERS", "granted": True}]}}
    await client.data(SET_SHARING, share, token=token)
    await client.data(REQUEST_RESET, {"input": {"email": value["email"]}})
    staff = await staff_token(client, deps, StaffRole.SUPPORT)
    look = {"id": customer["id"], "reason": "SUPPORT_ISSUE", "note": f"staffnote{tag} about a bill"}
    await client.data(
        "query ($id: ID!, $reason: AccessReason!, $note: String!) "
        "{ customerRecord(customerId: $id, reason: $reason, note: $note) { id } }",
        look,
        token=staff,
    )
    before_erasure = await everything_stored(engine)
    for marker in markers:
        assert marker in before_erasure or marker.startswith("name"), marker
    # when the customer asks for erasure and confirms it
    asked = await client.data(REQUEST_DELETION, {"input": {"password": PASSWORD}}, token=token)
    request = asked["requestAccountDeletion"]["request"]
    assert request["type"] == "ERASURE"
    assert request["status"] == "RECEIVED"
    code = await mailed_token(engine, "ACCOUNT_DELETION", value["email"])
    confirmed = await client.data(CONFIRM_DELETION, {"input": {"token": code}})
    # then
    assert confirmed["confirmAccountDeletion"] == {"deleted": True, "errors": []}
    assert (await client.data(ME, token=token))["me"] is None
    stored = await everything_stored(engine)
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in captured_logs.records)
    for marker in markers:
        assert marker not in stored, f"{marker} is still stored"
        assert marker not in logged, f"{marker} is in the log"
    assert "203.0.113.7" not in stored
    # only pseudonymous evidence remains: the ledger and the completed request
    async with engine.connect() as conn:
        entries = await conn.scalar(
            select(func.count())
            .select_from(consent_ledger)
            .where(consent_ledger.c.customer_id == uuid.UUID(customer["id"]))
        )
        status = await conn.scalar(select(data_subject_requests.c.status))
    assert entries == 10
    assert status == "COMPLETED"


async def test_a_wrong_password_asks_for_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    result = await client.data(
        REQUEST_DELETION, {"input": {"password": "not my password at all"}}, token=token
    )
    assert codes(result["requestAccountDeletion"]["errors"]) == {(("password",), "WRONG_PASSWORD")}
    assert await snapshot(engine) == before


async def test_a_forged_used_or_expired_code_erases_nothing(
    timed_client: GraphQLClient, engine: AsyncEngine, clock: FakeClock
) -> None:
    # given two requests: the first code expires, the second is used once
    token, _ = await register(timed_client)
    await timed_client.data(REQUEST_DELETION, {"input": {"password": PASSWORD}}, token=token)
    stale = await mailed_token(engine, "ACCOUNT_DELETION", "ada@example.com")
    clock.advance(hours=24, seconds=1)
    token = (
        await timed_client.data(
            LOGIN, {"input": {"email": "ada@example.com", "password": PASSWORD}}
        )
    )["login"]["token"]
    before = await snapshot(engine)
    for attempt in (stale, "forged-code"):
        result = await timed_client.data(CONFIRM_DELETION, {"input": {"token": attempt}})
        assert codes(result["confirmAccountDeletion"]["errors"]) == {(None, "INVALID_TOKEN")}
    assert await snapshot(engine) == before
    await timed_client.data(REQUEST_DELETION, {"input": {"password": PASSWORD}}, token=token)
    fresh = await mailed_token(engine, "ACCOUNT_DELETION", "ada@example.com")
    first = await timed_client.data(CONFIRM_DELETION, {"input": {"token": fresh}})
    assert first["confirmAccountDeletion"]["deleted"] is True
    again = await timed_client.data(CONFIRM_DELETION, {"input": {"token": fresh}})
    assert codes(again["confirmAccountDeletion"]["errors"]) == {(None, "INVALID_TOKEN")}


async def test_an_erasure_that_fails_half_way_leaves_everything_as_it_was(
    client: GraphQLClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persistence.repositories.erasure import SqlErasure

    # given a requested erasure
    token, _ = await register(client)
    await client.data(REQUEST_DELETION, {"input": {"password": PASSWORD}}, token=token)
    code = await mailed_token(engine, "ACCOUNT_DELETION", "ada@example.com")
    before = await snapshot(engine)
    real_erase = SqlErasure.erase

    async def erase_then_fail(self: SqlErasure, customer_id: uuid.UUID) -> None:
        await real_erase(self, customer_id)
        raise RuntimeError("the database went away")

    # when the erasure fails after deleting everything
    monkeypatch.setattr(SqlErasure, "erase", erase_then_fail)
    result = await client.execute(CONFIRM_DELETION, {"input": {"token": code}})
    # then nothing was deleted, the request is not completed and the code still works
    assert result["errors"][0]["message"] == "Unexpected error."
    assert await snapshot(engine) == before
    monkeypatch.setattr(SqlErasure, "erase", real_erase)
    done = await client.data(CONFIRM_DELETION, {"input": {"token": code}})
    assert done["confirmAccountDeletion"]["deleted"] is True
