"""Staff read a customer's record only for one of the four stated reasons, with a note; every
read leaves exactly one access-log entry, which the customer sees; refusals write nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.partners import use_cases as partners
from domain.staff.model import StaffRole
from persistence.tables import access_log
from tests.api.helpers import register, staff_token
from tests.conftest import snapshot
from tests.graphql import GraphQLClient

NOTE = "Ticket 4711: customer cannot see their invoice address"

FIND = """
query ($email: String!, $reason: AccessReason!, $note: String!) {
  findCustomer(email: $email, reason: $reason, note: $note) { id email name }
}
"""

# Every field a customer record has, nested lists included: still one read, one entry.
RECORD = """
query ($id: ID!, $reason: AccessReason!, $note: String!) {
  customerRecord(customerId: $id, reason: $reason, note: $note) {
    id email name companyName phone address { line1 city country }
    billing { name organizationUsers card { brand last4 } }
    communicationPreferences { topic subscribed }
    sharingPreferences { purpose granted }
    consentHistory(first: 5) { edges { node { actor source } } }
    profileChanges(first: 5) { edges { node { field } } }
    requests(first: 5) { edges { node { id status } } }
    accessLog(first: 5) { edges { node { reason } } }
  }
}
"""

MY_ACCESS_LOG = """
query {
  me {
    accessLog(first: 10) {
      edges { node { occurredAt reason note operation staffRole staffReference } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def log_size(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(access_log)) or 0)


@pytest.mark.parametrize("role", [StaffRole.SUPPORT, StaffRole.PRIVACY_OFFICER])
async def test_every_staff_read_leaves_exactly_one_entry_that_the_customer_sees(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine, role: StaffRole
) -> None:
    customer_token, customer = await register(client)
    staff = await staff_token(client, deps, role)
    reads: list[tuple[str, dict[str, Any], str]] = [
        (FIND, {"email": customer["email"], "reason": "SUPPORT_ISSUE"}, "findCustomer"),
        (RECORD, {"id": customer["id"], "reason": "RESOLVE_PROBLEM"}, "customerRecord"),
        (
            RECORD,
            {"id": customer["id"], "reason": "SUSPECTED_AGREEMENT_VIOLATION"},
            "customerRecord",
        ),
        (FIND, {"email": customer["email"], "reason": "LEGAL_REQUIREMENT"}, "findCustomer"),
    ]
    for document, variables, field in reads:
        before = await log_size(engine)
        data = await client.data(document, {**variables, "note": NOTE}, token=staff)
        assert data[field]["id"] == customer["id"]
        assert data[field]["email"] == customer["email"]
        assert await log_size(engine) == before + 1, field

    log = (await client.data(MY_ACCESS_LOG, token=customer_token))["me"]["accessLog"]
    nodes = [edge["node"] for edge in log["edges"]]
    assert [n["reason"] for n in nodes] == [
        "LEGAL_REQUIREMENT",
        "SUSPECTED_AGREEMENT_VIOLATION",
        "RESOLVE_PROBLEM",
        "SUPPORT_ISSUE",
    ]
    assert [n["operation"] for n in nodes] == [
        "FIND_CUSTOMER",
        "CUSTOMER_RECORD",
        "CUSTOMER_RECORD",
        "FIND_CUSTOMER",
    ]
    assert {n["note"] for n in nodes} == {NOTE}
    assert {n["staffRole"] for n in nodes} == {role.value}
    # One stable pseudonym, never the member of staff's address.
    references = {n["staffReference"] for n in nodes}
    assert len(references) == 1 and references.pop().startswith("S-")
    assert "@" not in str(nodes)
    # The customer cannot reach staff fields with their own session.
    result = await client.execute(
        RECORD,
        {"id": customer["id"], "reason": "RESOLVE_PROBLEM", "note": NOTE},
        token=customer_token,
    )
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_access_log_pages(client: GraphQLClient, deps: Dependencies) -> None:
    customer_token, customer = await register(client)
    staff = await staff_token(client, deps, StaffRole.SUPPORT)
    for _ in range(3):
        await client.data(
            RECORD, {"id": customer["id"], "reason": "SUPPORT_ISSUE", "note": NOTE}, token=staff
        )
    page = """
    query ($after: String) {
      me {
        accessLog(first: 2, after: $after) {
          edges { cursor }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
    """
    first = (await client.data(page, token=customer_token))["me"]["accessLog"]
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"] is True
    second = (
        await client.data(page, {"after": first["pageInfo"]["endCursor"]}, token=customer_token)
    )["me"]["accessLog"]
    assert len(second["edges"]) == 1 and second["pageInfo"]["hasNextPage"] is False


async def test_an_unknown_customer_is_null_and_the_search_is_still_logged(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    staff = await staff_token(client, deps, StaffRole.SUPPORT)
    data = await client.data(
        FIND,
        {"email": "nobody@example.com", "reason": "SUPPORT_ISSUE", "note": NOTE},
        token=staff,
    )
    assert data == {"findCustomer": None}
    record = await client.data(
        RECORD,
        {"id": "00000000-0000-0000-0000-000000000000", "reason": "SUPPORT_ISSUE", "note": NOTE},
        token=staff,
    )
    assert record == {"customerRecord": None}
    assert await log_size(engine) == 2


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"note": ""}, "Say why"),
        ({"note": "   "}, "Say why"),
        ({"note": "because"}, "at least 3 words"),
        ({"note": "x " * 600}, "under 1000"),
        ({"note": "ticket 1 \u202e reversed text"}, "plain text"),
    ],
)
async def test_a_read_without_a_proper_note_is_refused_and_writes_nothing(
    client: GraphQLClient,
    deps: Dependencies,
    engine: AsyncEngine,
    variables: dict[str, str],
    message: str,
) -> None:
    _, customer = await register(client)
    staff = await staff_token(client, deps, StaffRole.PRIVACY_OFFICER)
    before = await snapshot(engine)
    for document, base in [
        (RECORD, {"id": customer["id"], "reason": "SUPPORT_ISSUE"}),
        (FIND, {"email": customer["email"], "reason": "SUPPORT_ISSUE"}),
    ]:
        result = await client.execute(document, {**base, **variables}, token=staff)
        assert not any((result["data"] or {}).values())
        [error] = result["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert message in error["message"]
        assert customer["email"] not in str(result)
    assert await snapshot(engine) == before


@pytest.mark.parametrize(
    "variables",
    [
        {"reason": "CURIOSITY", "note": NOTE},  # not one of the four reasons
        {"note": NOTE},  # no reason
        {"reason": "SUPPORT_ISSUE"},  # no note
        {"reason": None, "note": NOTE},
    ],
)
async def test_a_read_without_a_permitted_reason_is_refused_and_writes_nothing(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine, variables: dict[str, Any]
) -> None:
    _, customer = await register(client)
    staff = await staff_token(client, deps, StaffRole.SUPPORT)
    before = await snapshot(engine)
    response = await client.post(RECORD, {"id": customer["id"], **variables}, token=staff)
    result = response.json()
    assert not any((result.get("data") or {}).values())
    assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert customer["email"] not in response.text
    assert await snapshot(engine) == before


async def test_callers_other_than_staff_are_refused_and_nothing_is_logged(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    customer_token, customer = await register(client)
    issued = await partners.create_partner(deps, "Peek", [SharingPurpose.PARTNER_OFFERS])
    variables = {"id": customer["id"], "reason": "SUPPORT_ISSUE", "note": NOTE}
    before = await snapshot(engine)
    for token, code in [
        (customer_token, "FORBIDDEN"),
        (issued.key, "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
        ("drs_forged-or-ended-session-token", "UNAUTHENTICATED"),
    ]:
        result = await client.execute(RECORD, variables, token=token)
        assert not any((result["data"] or {}).values())
        assert result["errors"][0]["extensions"]["code"] == code
    after = await snapshot(engine)
    assert after["access_log"] == before["access_log"] == []
