"""A copy of my data: everything, validated against the committed JSON Schema, for its own
customer only, streamed as an attachment, and gone when it expires."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.partners import use_cases as partners
from domain.staff.model import StaffRole
from persistence.tables import data_subject_requests
from tests.api.documents import LOGIN, SET_SHARING, UPDATE_PROFILE
from tests.api.helpers import register, staff_token
from tests.conftest import FakeClock
from tests.factories import PASSWORD, VISA
from tests.graphql import GraphQLClient

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "export.schema.json").read_text()
)

REQUEST_EXPORT = """
mutation {
  requestDataExport {
    export { id expiresAt downloadUrl }
    request { type status channel completedAt }
    errors { code }
  }
}
"""

STATES = """
query States($ids: [ID!]!) { consentStates(customerIds: $ids) { granted } }
"""


async def export_of(client: GraphQLClient, token: str) -> dict[str, Any]:
    result = await client.data(REQUEST_EXPORT, token=token)
    return dict(result["requestDataExport"])


async def request_status(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str(await conn.scalar(select(data_subject_requests.c.status)))


async def test_the_export_holds_everything_and_matches_its_schema(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given a customer who changed a field and a choice, and a partner who read their consent
    token, customer = await register(client, title="Countess")
    await client.data(UPDATE_PROFILE, {"input": {"department": "Research"}}, token=token)
    share = {"input": {"preferences": [{"purpose": "PARTNER_OFFERS", "granted": True}]}}
    await client.data(SET_SHARING, share, token=token)
    key = (await partners.create_partner(deps, "Acme", [SharingPurpose.PARTNER_OFFERS])).key
    await client.data(STATES, {"ids": [customer["id"]]}, token=key)
    staff = await staff_token(client, deps, StaffRole.SUPPORT)
    look = {"id": customer["id"], "reason": "SUPPORT_ISSUE", "note": "Ticket 9 about billing"}
    await client.data(
        "query ($id: ID!, $reason: AccessReason!, $note: String!) "
        "{ customerRecord(customerId: $id, reason: $reason, note: $note) { id } }",
        look,
        token=staff,
    )
    # when
    opened = await export_of(client, token)
    response = await client.http.get(
        opened["export"]["downloadUrl"], headers={"Authorization": f"Bearer {token}"}
    )
    # then
    assert opened["request"]["type"] == "ACCESS"
    assert opened["request"]["status"] == "RECEIVED"
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith('attachment; filename="datarights-')
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert document["customerId"] == customer["id"]
    assert document["profile"]["title"] == "Countess"
    assert document["profile"]["department"] == "Research"
    assert document["paymentCard"] == {
        "brand": "VISA",
        "last4": "4242",
        "expMonth": 12,
        "expYear": 2031,
    }
    assert VISA not in response.text
    assert len(document["consentLedger"]) == 10
    assert document["signIns"][0]["ip"] == "203.0.113.7"
    assert [c["field"] for c in document["profileChanges"]] == ["DEPARTMENT"]
    assert [r["type"] for r in document["requests"]] == ["ACCESS"]
    assert await request_status(engine) == "COMPLETED"
    assert document["recipients"][0]["partner"] == "Acme"
    assert document["recipients"][0]["purposes"] == ["PARTNER_OFFERS"]
    [entry] = document["accessLog"]
    assert (entry["reason"], entry["note"], entry["staffRole"]) == (
        "SUPPORT_ISSUE",
        "Ticket 9 about billing",
        "SUPPORT",
    )
    assert entry["staffReference"].startswith("S-")
    assert document["policyAcknowledgements"] == []


async def test_only_its_customer_downloads_an_export(client: GraphQLClient) -> None:
    token, _ = await register(client)
    other, _ = await register(client, email="grace@example.com")
    url = (await export_of(client, token))["export"]["downloadUrl"]
    stranger = await client.http.get(url, headers={"Authorization": f"Bearer {other}"})
    nobody = await client.http.get(url)
    unknown = await client.http.get(
        "/exports/00000000-0000-0000-0000-000000000000",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert stranger.status_code == 404
    assert nobody.status_code == 401
    assert unknown.status_code == 404
    assert stranger.json() == unknown.json()


async def test_an_export_expires(
    timed_client: GraphQLClient, clock: FakeClock, engine: AsyncEngine
) -> None:
    token, _ = await register(timed_client)
    opened = await export_of(timed_client, token)
    clock.advance(days=7, seconds=1)
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    fresh = (await timed_client.data(LOGIN, {"input": credentials}))["login"]["token"]
    response = await timed_client.http.get(
        opened["export"]["downloadUrl"], headers={"Authorization": f"Bearer {fresh}"}
    )
    assert response.status_code == 404


async def test_an_export_that_fails_half_way_leaves_the_request_open(
    client: GraphQLClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import domain.export

    token, _ = await register(client)
    opened = await export_of(client, token)

    async def broken(*_: Any) -> Any:
        yield {"occurredAt": "2026-01-01T00:00:00+00:00", "ip": None, "userAgent": None}
        raise RuntimeError("the disk vanished")

    monkeypatch.setattr(domain.export, "_sign_ins", broken)
    with pytest.raises(RuntimeError, match="disk vanished"):
        await client.http.get(
            opened["export"]["downloadUrl"], headers={"Authorization": f"Bearer {token}"}
        )
    assert await request_status(engine) == "RECEIVED"
