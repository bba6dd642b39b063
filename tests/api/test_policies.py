"""Privacy-policy versions over HTTP: 30 business days' notice counted around US holidays, a
notice queued to every customer, acknowledgements, and the ledger naming the version in force.

The clock stands on Wednesday 24 November 2027, the day before Thanksgiving. With Thanksgiving,
Christmas (observed Friday 24 December) and New Year's Day (observed Friday 31 December) off,
the 29th business day after it is Friday 7 January 2028 and the 30th Monday 10 January.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dependencies import Dependencies
from domain.staff.model import StaffRole
from persistence.tables import policy_versions
from tests.api.documents import HISTORY, LOGIN, SET_COMMUNICATION
from tests.api.helpers import codes, outbox, register, staff_token
from tests.conftest import FakeClock, snapshot
from tests.factories import PASSWORD
from tests.graphql import GraphQLClient

ANNOUNCED = datetime(2027, 11, 24, 15, 0, tzinfo=UTC)
DAY_29 = "2028-01-07T12:00:00+00:00"
DAY_30 = "2028-01-10T00:00:00+00:00"

PUBLISH = """
mutation Publish($input: PublishPolicyVersionInput!) {
  publishPolicyVersion(input: $input) {
    policy { version summary url announcedAt effectiveAt }
    noticesQueued
    errors { field code message }
  }
}
"""

ACKNOWLEDGE = """
mutation Acknowledge($input: AcknowledgePolicyInput!) {
  acknowledgePolicy(input: $input) {
    acknowledgement { version acknowledgedAt }
    errors { field code message }
  }
}
"""

POLICIES = """
query {
  currentPolicy { version effectiveAt }
  upcomingPolicy { version summary url announcedAt effectiveAt }
}
"""

NOTICES = """
query Notices($version: String!) {
  policyNotices(version: $version) { version queued sent failed pending }
}
"""

NOTICE_PERIOD = """
query { policyNoticePeriod { businessDays earliestEffectiveAt country subdivision timezone } }
"""

ACKNOWLEDGED = "query { me { policyAcknowledgements { version acknowledgedAt } } }"


def policy_input(**changes: Any) -> dict[str, Any]:
    return {
        "version": "2028-01",
        "summary": "Aggregate statistics now name the partners that receive them.",
        "url": "https://example.com/privacy/2028-01",
        "effectiveAt": DAY_30,
        **changes,
    }


@pytest.fixture
def timed_deps(deps: Dependencies, clock: FakeClock) -> Dependencies:
    """The app's dependencies on the test's clock (staff codes are made at its time)."""
    clock.current = ANNOUNCED
    return dataclasses.replace(deps, clock=clock)


@pytest.fixture
async def officer(timed_client: GraphQLClient, timed_deps: Dependencies) -> str:
    return await staff_token(timed_client, timed_deps, StaffRole.PRIVACY_OFFICER)


async def publish(client: GraphQLClient, token: str | None, **changes: Any) -> dict[str, Any]:
    return await client.execute(PUBLISH, {"input": policy_input(**changes)}, token=token)


async def published(client: GraphQLClient, token: str, **changes: Any) -> dict[str, Any]:
    result = await publish(client, token, **changes)
    payload: dict[str, Any] = result["data"]["publishPolicyVersion"]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def test_29_business_days_across_the_holidays_are_refused_and_30_accepted(
    timed_client: GraphQLClient, officer: str, engine: AsyncEngine
) -> None:
    # given
    before = await snapshot(engine)
    # when the change would take effect on the 29th business day
    refused = await publish(timed_client, officer, effectiveAt=DAY_29)
    # then it is refused, naming the earliest date, and nothing is written
    payload = refused["data"]["publishPolicyVersion"]
    assert payload["policy"] is None
    assert codes(payload["errors"]) == {(("effectiveAt",), "NOTICE_TOO_SHORT")}
    assert "Monday 10 January 2028 (2028-01-10, UTC)" in payload["errors"][0]["message"]
    assert await snapshot(engine) == before
    # when on the 30th
    accepted = await published(timed_client, officer)
    # then
    assert accepted["policy"] == {
        "version": "2028-01",
        "summary": "Aggregate statistics now name the partners that receive them.",
        "url": "https://example.com/privacy/2028-01",
        "announcedAt": ANNOUNCED.isoformat(),
        "effectiveAt": DAY_30,
    }


async def test_publishing_queues_one_notice_per_customer_and_shows_the_upcoming_version(
    timed_client: GraphQLClient, officer: str, engine: AsyncEngine
) -> None:
    # given three customers
    customers = [
        (await register(timed_client, email=f"customer{n}@example.com"))[1] for n in range(3)
    ]
    # when
    payload = await published(timed_client, officer)
    # then each has one notice, about this version, and the public queries show it coming
    assert payload["noticesQueued"] == 3
    notices = await outbox(engine, "POLICY_NOTICE")
    assert sorted(str(n["customer_id"]) for n in notices) == sorted(c["id"] for c in customers)
    assert {n["reference"] for n in notices} == {"2028-01"}
    assert sorted(n["recipient"] for n in notices) == sorted(c["email"] for c in customers)
    assert "Monday 10 January 2028" in notices[0]["subject"]
    assert "https://example.com/privacy/2028-01" in notices[0]["body"]
    assert all(n["sent_at"] is None for n in notices)
    policies = await timed_client.data(POLICIES)
    assert policies["currentPolicy"] is None
    assert policies["upcomingPolicy"]["version"] == "2028-01"
    notices_now = await timed_client.data(NOTICES, {"version": "2028-01"}, token=officer)
    assert notices_now["policyNotices"] == {
        "version": "2028-01",
        "queued": 3,
        "sent": 0,
        "failed": 0,
        "pending": 3,
    }
    unknown = await timed_client.data(NOTICES, {"version": "1999"}, token=officer)
    assert unknown["policyNotices"] is None


async def test_staff_see_the_earliest_effective_time_they_may_publish(
    timed_client: GraphQLClient, officer: str
) -> None:
    data = await timed_client.data(NOTICE_PERIOD, token=officer)
    assert data["policyNoticePeriod"] == {
        "businessDays": 30,
        "earliestEffectiveAt": DAY_30,
        "country": "US",
        "subdivision": None,
        "timezone": "UTC",
    }


async def test_every_bad_field_is_reported_at_once_and_nothing_is_written(
    timed_client: GraphQLClient, officer: str, engine: AsyncEngine
) -> None:
    # given
    before = await snapshot(engine)
    # when
    result = await publish(
        timed_client,
        officer,
        version="a new version!",
        summary=" ",
        url="http://example.com/privacy",
        effectiveAt="2028-02-01T00:00:00",
    )
    # then
    payload = result["data"]["publishPolicyVersion"]
    assert codes(payload["errors"]) == {
        (("version",), "INVALID"),
        (("summary",), "REQUIRED"),
        (("url",), "INVALID"),
        (("effectiveAt",), "INVALID"),
    }
    assert await snapshot(engine) == before


async def test_a_version_is_published_once(
    timed_client: GraphQLClient, officer: str, engine: AsyncEngine
) -> None:
    # given
    await published(timed_client, officer)
    before = await snapshot(engine)
    # when
    result = await publish(timed_client, officer, effectiveAt="2028-02-01T00:00:00Z")
    # then
    payload = result["data"]["publishPolicyVersion"]
    assert codes(payload["errors"]) == {(("version",), "DUPLICATE")}
    assert await snapshot(engine) == before


async def test_support_staff_may_not_publish_and_nothing_is_written(
    timed_client: GraphQLClient, timed_deps: Dependencies, engine: AsyncEngine
) -> None:
    # given a member of staff with the SUPPORT role, and a customer
    support = await staff_token(timed_client, timed_deps, StaffRole.SUPPORT)
    await register(timed_client)
    before = await snapshot(engine)
    # when
    for document, variables in [
        (PUBLISH, {"input": policy_input()}),
        (NOTICES, {"version": "2028-01"}),
        (NOTICE_PERIOD, None),
    ]:
        result = await timed_client.execute(document, variables, token=support)
        # then a top-level FORBIDDEN and nothing returned
        assert all(value is None for value in (result["data"] or {}).values())
        (error,) = result["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", error
    assert await snapshot(engine) == before


async def test_customers_and_anonymous_callers_may_not_publish(
    timed_client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, _ = await register(timed_client)
    before = await snapshot(engine)
    # when a customer tries, then FORBIDDEN
    as_customer = await publish(timed_client, token)
    assert as_customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # when nobody signed in tries, then UNAUTHENTICATED
    anonymous = await publish(timed_client, None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    notices = await timed_client.execute(NOTICES, {"version": "2028-01"})
    assert notices["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await snapshot(engine) == before


async def test_a_customer_acknowledges_the_upcoming_version_once(
    timed_client: GraphQLClient, officer: str, clock: FakeClock
) -> None:
    # given an upcoming version
    token, _ = await register(timed_client)
    await published(timed_client, officer)
    # when the customer acknowledges it, and again ten minutes later
    first = await timed_client.data(ACKNOWLEDGE, {"input": {"version": "2028-01"}}, token=token)
    clock.advance(minutes=10)
    again = await timed_client.data(ACKNOWLEDGE, {"input": {"version": "2028-01"}}, token=token)
    # then the first acknowledgement stands
    acknowledgement = first["acknowledgePolicy"]["acknowledgement"]
    assert acknowledgement == {"version": "2028-01", "acknowledgedAt": ANNOUNCED.isoformat()}
    assert again["acknowledgePolicy"] == {"acknowledgement": acknowledgement, "errors": []}
    me = await timed_client.data(ACKNOWLEDGED, token=token)
    assert me["me"]["policyAcknowledgements"] == [acknowledgement]


async def test_an_unknown_or_superseded_version_cannot_be_acknowledged(
    timed_client: GraphQLClient, officer: str, clock: FakeClock
) -> None:
    # given two versions, the first of which has been replaced by the second
    await published(timed_client, officer)
    await published(timed_client, officer, version="2028-02", effectiveAt="2028-02-01T00:00:00Z")
    clock.current = datetime(2028, 2, 1, 9, 0, tzinfo=UTC)
    token, _ = await register(timed_client)
    # when
    unknown = await timed_client.data(ACKNOWLEDGE, {"input": {"version": "1999"}}, token=token)
    old = await timed_client.data(ACKNOWLEDGE, {"input": {"version": "2028-01"}}, token=token)
    current = await timed_client.data(ACKNOWLEDGE, {"input": {"version": "2028-02"}}, token=token)
    # then
    assert codes(unknown["acknowledgePolicy"]["errors"]) == {(("version",), "NOT_FOUND")}
    assert codes(old["acknowledgePolicy"]["errors"]) == {(("version",), "INVALID_STATE")}
    assert "replaced by 2028-02" in old["acknowledgePolicy"]["errors"][0]["message"]
    assert current["acknowledgePolicy"]["errors"] == []
    policies = await timed_client.data(POLICIES)
    assert policies["currentPolicy"]["version"] == "2028-02"
    assert policies["upcomingPolicy"] is None
    me = await timed_client.data(ACKNOWLEDGED, token=token)
    assert [a["version"] for a in me["me"]["policyAcknowledgements"]] == ["2028-02"]


@pytest.mark.parametrize("version", ["\x00", "2028-01\x00", "x" * 10_000])
async def test_a_version_name_no_version_could_have_is_unknown_not_a_fault(
    timed_client: GraphQLClient, officer: str, version: str
) -> None:
    # Found by tests/api/test_fuzz.py: PostgreSQL refuses a NUL in a text parameter, which
    # surfaced as "Unexpected error." instead of "no such version".
    # given
    await published(timed_client, officer)
    token, _ = await register(timed_client)
    # when
    notices = await timed_client.execute(NOTICES, {"version": version}, token=officer)
    acknowledged = await timed_client.data(
        ACKNOWLEDGE, {"input": {"version": version}}, token=token
    )
    # then
    assert notices == {"data": {"policyNotices": None}}
    assert codes(acknowledged["acknowledgePolicy"]["errors"]) == {(("version",), "NOT_FOUND")}


async def test_acknowledging_takes_a_customer_session(timed_client: GraphQLClient) -> None:
    result = await timed_client.execute(ACKNOWLEDGE, {"input": {"version": "2028-01"}})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_once_in_force_the_version_is_named_by_every_change_in_the_ledger(
    timed_client: GraphQLClient, officer: str, clock: FakeClock, engine: AsyncEngine
) -> None:
    # given a customer registered before any version, and a version announced
    _, customer = await register(timed_client)
    await published(timed_client, officer)
    # when the day comes and the customer subscribes to the newsletter
    clock.current = datetime(2028, 1, 10, 9, 0, tzinfo=UTC)
    login = {"input": {"email": customer["email"], "password": PASSWORD}}
    token = (await timed_client.data(LOGIN, login))["login"]["token"]
    choice = {"input": {"preferences": [{"topic": "NEWSLETTER", "subscribed": True}]}}
    await timed_client.data(SET_COMMUNICATION, choice, token=token)
    # then the new entry names the version in force, the defaults before it none
    history = await timed_client.data(HISTORY, {"first": 20}, token=token)
    entries = [edge["node"] for edge in history["me"]["consentHistory"]["edges"]]
    newest, *older = entries
    assert (newest["topic"], newest["granted"], newest["policyVersion"]) == (
        "NEWSLETTER",
        True,
        "2028-01",
    )
    assert older and {entry["policyVersion"] for entry in older} == {None}
    async with engine.connect() as conn:
        assert (await conn.execute(select(policy_versions.c.version))).scalars().all() == [
            "2028-01"
        ]
