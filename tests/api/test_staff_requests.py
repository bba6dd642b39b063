"""The privacy officer's work queue and the GraphQL twins of the request CLI: the same domain
rules, FORBIDDEN for support staff, and changes of choice on an e-mailed request that the
ledger attributes to staff, the e-mail and the request."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dependencies import Dependencies
from domain.staff.model import StaffRole
from tests.api.helpers import codes, register, staff_token
from tests.conftest import FakeClock, snapshot
from tests.graphql import GraphQLClient

NODE = "id customerId type channel status clockPaused dueAt originalDueAt extended overdue"
PAYLOAD = f"request {{ {NODE} }} errors {{ field code message }}"

RECORD = f"""
mutation ($input: RecordEmailRequestInput!) {{ recordEmailRequest(input: $input) {{ {PAYLOAD} }} }}
"""
VERIFY = f"""
mutation ($input: VerifyRequestIdentityInput!) {{
  verifyRequestIdentity(input: $input) {{ {PAYLOAD} }}
}}
"""
EXTEND = f"""
mutation ($input: ExtendRequestInput!) {{ extendRequest(input: $input) {{ {PAYLOAD} }} }}
"""
REJECT = f"""
mutation ($input: RejectRequestInput!) {{ rejectRequest(input: $input) {{ {PAYLOAD} }} }}
"""
COMPLETE = f"""
mutation ($input: CompleteRequestInput!) {{ completeRequest(input: $input) {{ {PAYLOAD} }} }}
"""
CANCEL = f"""
mutation ($input: CancelRequestInput!) {{ cancelRequest(input: $input) {{ {PAYLOAD} }} }}
"""
CHANGE = """
mutation ($input: ChangeCustomerPreferencesInput!) {
  changeCustomerPreferences(input: $input) {
    communicationPreferences { topic subscribed }
    sharingPreferences { purpose granted }
    errors { field code message }
  }
}
"""
QUEUE = f"""
query ($status: RequestStatus, $overdue: Boolean! = false, $after: String) {{
  requests(status: $status, overdue: $overdue, first: 10, after: $after) {{
    edges {{ node {{ {NODE} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
HISTORY = """
query {
  me {
    consentHistory(first: 3) { edges { node { topic purpose granted actor source requestId } } }
    accessLog { edges { node { operation reason note } } }
    requests { edges { node { id status } } }
  }
}
"""


def received(days_ago: float = 0, now: datetime | None = None) -> str:
    return ((now or datetime.now(UTC)) - timedelta(days=days_ago)).isoformat()


async def record(
    client: GraphQLClient, officer: str, customer_id: str, type_: str = "CONSENT_CHANGE"
) -> dict[str, Any]:
    data = await client.data(
        RECORD,
        {
            "input": {
                "customerId": customer_id,
                "type": type_,
                "receivedAt": received(1),
                "note": "Asked by e-mail to stop the newsletter",
            }
        },
        token=officer,
    )
    payload = data["recordEmailRequest"]
    assert payload["errors"] == []
    return dict(payload["request"])


async def test_an_emailed_change_of_choice_from_record_to_completion(
    client: GraphQLClient, deps: Dependencies
) -> None:
    customer_token, customer = await register(client)
    officer = await staff_token(client, deps, StaffRole.PRIVACY_OFFICER)
    request = await record(client, officer, customer["id"])
    assert request["status"] == "IDENTITY_PENDING"
    assert request["clockPaused"] is True and request["dueAt"] is None
    assert request["channel"] == "EMAIL" and request["customerId"] == customer["id"]

    change = {
        "input": {
            "requestId": request["id"],
            "communication": [{"topic": "NEWSLETTER", "subscribed": True}],
            "sharing": [{"purpose": "AGGREGATE_STATISTICS", "granted": False}],
        }
    }
    # Not before the sender is known to be the customer.
    early = (await client.data(CHANGE, change, token=officer))["changeCustomerPreferences"]
    assert codes(early["errors"]) == {(("requestId",), "INVALID_STATE")}

    queue = (await client.data(QUEUE, {"status": "IDENTITY_PENDING"}, token=officer))["requests"]
    assert [edge["node"]["id"] for edge in queue["edges"]] == [request["id"]]

    verified = (
        await client.data(
            VERIFY,
            {"input": {"id": request["id"], "method": "reply from the account address"}},
            token=officer,
        )
    )["verifyRequestIdentity"]
    assert verified["errors"] == []
    assert verified["request"]["status"] == "RECEIVED"
    assert verified["request"]["dueAt"] is not None  # due the day it took effect

    done = (await client.data(CHANGE, change, token=officer))["changeCustomerPreferences"]
    assert done["errors"] == []
    assert {"topic": "NEWSLETTER", "subscribed": True} in done["communicationPreferences"]
    assert {"purpose": "AGGREGATE_STATISTICS", "granted": False} in done["sharingPreferences"]

    completed = (await client.data(COMPLETE, {"input": {"id": request["id"]}}, token=officer))[
        "completeRequest"
    ]
    assert completed["request"]["status"] == "COMPLETED"

    me = (await client.data(HISTORY, token=customer_token))["me"]
    staff_entries = [e["node"] for e in me["consentHistory"]["edges"]][:2]
    assert {(e["actor"], e["source"], e["requestId"]) for e in staff_entries} == {
        ("STAFF", "EMAIL_REQUEST", request["id"])
    }
    assert {(e["topic"], e["purpose"], e["granted"]) for e in staff_entries} == {
        ("NEWSLETTER", None, True),
        (None, "AGGREGATE_STATISTICS", False),
    }
    [look] = [e["node"] for e in me["accessLog"]["edges"]]
    assert look["operation"] == "CHANGE_PREFERENCES"
    assert look["reason"] == "LEGAL_REQUIREMENT"
    assert request["id"] in look["note"]
    assert [e["node"]["status"] for e in me["requests"]["edges"]] == ["COMPLETED"]


async def test_the_domain_rules_hold_over_graphql_and_refusals_write_nothing(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    _, customer = await register(client)
    officer = await staff_token(client, deps, StaffRole.PRIVACY_OFFICER)
    pending = await record(client, officer, customer["id"], "ACCESS")
    access = (
        await client.data(
            VERIFY, {"input": {"id": pending["id"], "method": "video call"}}, token=officer
        )
    )["verifyRequestIdentity"]["request"]
    other = await record(client, officer, customer["id"], "ERASURE")
    due = datetime.fromisoformat(access["dueAt"])
    before = await snapshot(engine)

    refusals: list[tuple[str, dict[str, Any], str, set[Any]]] = [
        (
            EXTEND,
            {"id": access["id"], "newDueAt": (due + timedelta(days=95)).isoformat(), "reason": "x"},
            "extendRequest",
            {(("newDueAt",), "EXTENSION_REFUSED")},
        ),
        (
            EXTEND,
            {"id": access["id"], "newDueAt": (due + timedelta(days=20)).isoformat(), "reason": " "},
            "extendRequest",
            {(("reason",), "REQUIRED")},
        ),
        (REJECT, {"id": access["id"], "reason": ""}, "rejectRequest", {(("reason",), "REQUIRED")}),
        (COMPLETE, {"id": other["id"]}, "completeRequest", {(None, "INVALID_STATE")}),
        (
            VERIFY,
            {"id": other["id"], "method": "m" * 201},
            "verifyRequestIdentity",
            {(("method",), "TOO_LONG")},
        ),
        (
            VERIFY,
            {"id": access["id"], "method": "again"},
            "verifyRequestIdentity",
            {(None, "INVALID_STATE")},
        ),
        (
            VERIFY,
            {"id": "00000000-0000-0000-0000-000000000000", "method": "e-mail"},
            "verifyRequestIdentity",
            {(None, "NOT_FOUND")},
        ),
        (
            RECORD,
            {
                "customerId": customer["id"],
                "type": "ACCESS",
                "receivedAt": received(-1),
            },
            "recordEmailRequest",
            {(("receivedAt",), "INVALID")},
        ),
        (
            RECORD,
            {
                "customerId": "00000000-0000-0000-0000-000000000000",
                "type": "ACCESS",
                "receivedAt": received(1),
            },
            "recordEmailRequest",
            {(("customerId",), "NOT_FOUND")},
        ),
        (
            CHANGE,
            {
                "requestId": access["id"],
                "sharing": [{"purpose": "PARTNER_OFFERS", "granted": False}],
            },
            "changeCustomerPreferences",
            {(("requestId",), "INVALID_STATE")},
        ),
        (
            CHANGE,
            {"requestId": access["id"]},
            "changeCustomerPreferences",
            {(None, "REQUIRED")},
        ),
        (
            CHANGE,
            {
                "requestId": access["id"],
                "communication": [
                    {"topic": "ACCOUNT_AND_SECURITY", "subscribed": False},
                    {"topic": "NEWSLETTER", "subscribed": False},
                    {"topic": "NEWSLETTER", "subscribed": True},
                ],
            },
            "changeCustomerPreferences",
            {
                (("communication", "0", "subscribed"), "NOT_OPTIONAL"),
                (("communication", "2"), "DUPLICATE"),
            },
        ),
    ]
    for document, values, field, expected in refusals:
        payload = (await client.data(document, {"input": values}, token=officer))[field]
        assert codes(payload["errors"]) == expected, (field, payload["errors"])
        assert payload.get("request") is None
    assert await snapshot(engine) == before

    bad_id = await client.execute(COMPLETE, {"input": {"id": "not-an-id"}}, token=officer)
    assert bad_id["errors"][0]["extensions"]["code"] == "BAD_REQUEST"

    extended = (
        await client.data(
            EXTEND,
            {
                "input": {
                    "id": access["id"],
                    "newDueAt": (due + timedelta(days=30)).isoformat(),
                    "reason": "The archive is being restored",
                }
            },
            token=officer,
        )
    )["extendRequest"]
    assert extended["errors"] == []
    assert extended["request"]["status"] == "EXTENDED" and extended["request"]["extended"]
    cancelled = (
        await client.data(
            CANCEL, {"input": {"id": other["id"], "reason": "withdrawn"}}, token=officer
        )
    )["cancelRequest"]
    assert cancelled["request"]["status"] == "CANCELLED"


async def test_support_staff_cannot_handle_requests_or_change_choices(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    _, customer = await register(client)
    officer = await staff_token(client, deps, StaffRole.PRIVACY_OFFICER)
    request = await record(client, officer, customer["id"])
    support = await staff_token(client, deps, StaffRole.SUPPORT)
    before = await snapshot(engine)
    attempts: list[tuple[str, dict[str, Any] | None]] = [
        (QUEUE, None),
        (
            RECORD,
            {"input": {"customerId": customer["id"], "type": "ACCESS", "receivedAt": received(1)}},
        ),
        (VERIFY, {"input": {"id": request["id"], "method": "phone call"}}),
        (REJECT, {"input": {"id": request["id"], "reason": "no"}}),
        (COMPLETE, {"input": {"id": request["id"]}}),
        (CANCEL, {"input": {"id": request["id"]}}),
        (
            CHANGE,
            {
                "input": {
                    "requestId": request["id"],
                    "communication": [{"topic": "NEWSLETTER", "subscribed": True}],
                }
            },
        ),
    ]
    for document, variables in attempts:
        result = await client.execute(document, variables, token=support)
        assert result["data"] is None
        [error] = result["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "role" in error["message"]
    assert await snapshot(engine) == before


async def test_the_queue_filters_overdue_requests_and_pages(
    timed_client: GraphQLClient, deps: Dependencies, clock: FakeClock
) -> None:
    timed = dataclasses.replace(deps, clock=clock)
    _, customer = await register(timed_client)
    officer = await staff_token(timed_client, timed, StaffRole.PRIVACY_OFFICER)
    ids = []
    for type_ in ("ACCESS", "RECTIFICATION", "ERASURE"):
        request = await record(timed_client, officer, customer["id"], type_)
        verified = await timed_client.data(
            VERIFY, {"input": {"id": request["id"], "method": "signed-in reply"}}, token=officer
        )
        ids.append(verified["verifyRequestIdentity"]["request"]["id"])
    await timed_client.data(COMPLETE, {"input": {"id": ids[1]}}, token=officer)

    overdue = (await timed_client.data(QUEUE, {"overdue": True}, token=officer))["requests"]
    assert overdue["edges"] == []
    clock.advance(days=40)
    officer = await staff_token(timed_client, timed, StaffRole.PRIVACY_OFFICER)
    overdue = (await timed_client.data(QUEUE, {"overdue": True}, token=officer))["requests"]
    assert [e["node"]["id"] for e in overdue["edges"]] == [ids[0], ids[2]]
    assert all(e["node"]["overdue"] for e in overdue["edges"])

    page = """
    query ($after: String) {
      requests(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
    }
    """
    first = (await timed_client.data(page, token=officer))["requests"]
    assert [e["node"]["id"] for e in first["edges"]] == ids[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await timed_client.data(page, {"after": first["pageInfo"]["endCursor"]}, token=officer)
    )["requests"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[2:]
    too_many = await timed_client.execute(
        "query { requests(first: 101) { edges { cursor } } }", token=officer
    )
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
