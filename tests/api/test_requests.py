"""Requests that arrive by e-mail, moved on through the `datarights requests` commands, and
what the customer sees of them in `me { requests }`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.requests.deadlines import add_months
from tests.api.helpers import outbox, register
from tests.conftest import snapshot
from tests.graphql import GraphQLClient

REQUESTS = """
query Requests($first: Int!, $after: String) {
  me {
    requests(first: $first, after: $after) {
      edges { cursor node {
        id type channel status receivedAt acknowledgedAt dueAt clockPaused originalDueAt
        extensionReason rejectionReason complaintNotice completedAt
        history { status actor reason }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def my_requests(client: GraphQLClient, token: str) -> list[dict[str, Any]]:
    data = await client.data(REQUESTS, {"first": 20}, token=token)
    return [edge["node"] for edge in data["me"]["requests"]["edges"]]


def request_id(out: str) -> str:
    match = re.search(r"request ([0-9a-f-]{36})", out)
    assert match, out
    return match.group(1)


async def test_an_emailed_request_waits_for_identity_then_runs_against_its_deadline(
    client: GraphQLClient, engine: AsyncEngine, cli: Any
) -> None:
    # given
    token, _ = await register(client)
    received = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    # when an operator records it
    code, out, _ = await cli(
        "requests",
        "record",
        "--customer-email",
        "ADA@example.com",
        "--type",
        "CONSENT_CHANGE",
        "--received-at",
        received.isoformat(),
        "--note",
        "asked to stop all e-mail",
    )
    # then it waits, visibly, for the sender's identity
    assert code == 0
    assert "IDENTITY_PENDING (clock paused)" in out
    (pending,) = await my_requests(client, token)
    assert pending["channel"] == "EMAIL"
    assert pending["status"] == "IDENTITY_PENDING"
    assert pending["clockPaused"] is True
    assert pending["dueAt"] is None
    assert datetime.fromisoformat(pending["receivedAt"]) == received
    assert [m["recipient"] for m in await outbox(engine, "REQUEST_RECEIVED")] == ["ada@example.com"]
    # when the identity is verified, the clock starts (a consent change is due at once)
    code, out, _ = await cli(
        "requests",
        "verify-identity",
        "--id",
        pending["id"],
        "--method",
        "reply from account address",
    )
    assert code == 0
    (received_request,) = await my_requests(client, token)
    assert received_request["status"] == "RECEIVED"
    assert received_request["clockPaused"] is False
    assert received_request["dueAt"] is not None
    code, out, _ = await cli("requests", "complete", "--id", pending["id"])
    assert code == 0
    (done,) = await my_requests(client, token)
    assert done["status"] == "COMPLETED"
    assert [h["status"] for h in done["history"]] == [
        "IDENTITY_PENDING",
        "RECEIVED",
        "COMPLETED",
    ]


async def test_an_extension_needs_a_reason_stays_within_two_months_and_happens_once(
    client: GraphQLClient, engine: AsyncEngine, cli: Any
) -> None:
    # given an access request whose clock runs
    token, _ = await register(client)
    code, out, _ = await cli(
        "requests",
        "record",
        "--customer-email",
        "ada@example.com",
        "--type",
        "ACCESS",
        "--received-at",
        datetime.now(UTC).isoformat(),
    )
    rid = request_id(out)
    await cli("requests", "verify-identity", "--id", rid, "--method", "signed-in reply")
    (request,) = await my_requests(client, token)
    original = datetime.fromisoformat(request["dueAt"])
    too_far = datetime.combine(
        add_months(original.date(), 2) + timedelta(days=3), original.time(), UTC
    )
    within = original + timedelta(days=30)
    before = await snapshot(engine)
    # when / then: no reason, too far
    code, _, err = await cli("requests", "extend", "--id", rid, "--new-due-at", within.isoformat())
    assert code != 0
    assert "needs a reason" in err
    code, _, err = await cli(
        "requests",
        "extend",
        "--id",
        rid,
        "--new-due-at",
        too_far.isoformat(),
        "--reason",
        "many systems to search",
    )
    assert code != 0
    assert "two" in err.lower() or "2 months" in err
    assert await snapshot(engine) == before
    # a proper extension, which the customer sees with its reason
    code, _, _ = await cli(
        "requests",
        "extend",
        "--id",
        rid,
        "--new-due-at",
        within.isoformat(),
        "--reason",
        "many systems to search",
    )
    assert code == 0
    (extended,) = await my_requests(client, token)
    assert extended["status"] == "EXTENDED"
    assert extended["extensionReason"] == "many systems to search"
    assert datetime.fromisoformat(extended["originalDueAt"]) == original
    assert datetime.fromisoformat(extended["dueAt"]) == within
    # a second one is refused
    code, _, err = await cli(
        "requests",
        "extend",
        "--id",
        rid,
        "--new-due-at",
        (within + timedelta(days=1)).isoformat(),
        "--reason",
        "still searching",
    )
    assert code != 0
    assert "once" in err


async def test_a_rejection_needs_a_reason_and_tells_of_the_right_to_complain(
    client: GraphQLClient, engine: AsyncEngine, cli: Any
) -> None:
    token, _ = await register(client)
    code, out, _ = await cli(
        "requests",
        "record",
        "--customer-email",
        "ada@example.com",
        "--type",
        "ERASURE",
        "--received-at",
        datetime.now(UTC).isoformat(),
    )
    rid = request_id(out)
    code, _, err = await cli("requests", "reject", "--id", rid)
    assert code != 0
    assert "needs a reason" in err
    code, _, _ = await cli(
        "requests", "reject", "--id", rid, "--reason", "we could not confirm it was you"
    )
    assert code == 0
    (rejected,) = await my_requests(client, token)
    assert rejected["status"] == "REJECTED"
    assert rejected["rejectionReason"] == "we could not confirm it was you"
    assert "supervisory authority" in rejected["complaintNotice"]
    mail = await outbox(engine, "REQUEST_REJECTED")
    assert "supervisory authority" in mail[0]["body"]
    code, _, err = await cli("requests", "cancel", "--id", rid)
    assert code != 0
    assert "rejected" in err


async def test_a_request_for_an_unknown_address_is_refused_clearly(
    client: GraphQLClient, engine: AsyncEngine, cli: Any
) -> None:
    await register(client)
    before = await snapshot(engine)
    code, _, err = await cli(
        "requests",
        "record",
        "--customer-email",
        "nobody@example.com",
        "--type",
        "ACCESS",
        "--received-at",
        datetime.now(UTC).isoformat(),
    )
    assert code != 0
    assert "No customer has the e-mail address nobody@example.com" in err
    assert "Traceback" not in err
    assert await snapshot(engine) == before


async def test_a_customer_never_sees_another_customers_requests(
    client: GraphQLClient, cli: Any
) -> None:
    token, _ = await register(client)
    grace_token, _ = await register(client, email="grace@example.com")
    await cli(
        "requests",
        "record",
        "--customer-email",
        "grace@example.com",
        "--type",
        "ACCESS",
        "--received-at",
        datetime.now(UTC).isoformat(),
    )
    assert await my_requests(client, token) == []
    assert len(await my_requests(client, grace_token)) == 1


async def test_an_extension_after_the_deadline_is_refused(
    client: GraphQLClient, engine: AsyncEngine, cli: Any
) -> None:
    from sqlalchemy import update

    from persistence.tables import data_subject_requests

    # given a verified request whose deadline has passed (time moved on)
    await register(client)
    _, out, _ = await cli(
        "requests",
        "record",
        "--customer-email",
        "ada@example.com",
        "--type",
        "ACCESS",
        "--received-at",
        datetime.now(UTC).isoformat(),
    )
    rid = request_id(out)
    await cli("requests", "verify-identity", "--id", rid, "--method", "reply from account")
    passed = datetime.now(UTC) - timedelta(hours=1)
    async with engine.begin() as conn:
        await conn.execute(
            update(data_subject_requests).values(due_at=passed, original_due_at=passed)
        )
    before = await snapshot(engine)
    # when
    code, _, err = await cli(
        "requests",
        "extend",
        "--id",
        rid,
        "--new-due-at",
        (passed + timedelta(days=20)).isoformat(),
        "--reason",
        "too late now",
    )
    # then
    assert code != 0
    assert "passed" in err or "after" in err
    assert await snapshot(engine) == before
