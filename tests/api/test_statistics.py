"""aggregateStatistics: counts per group for partners and staff, no group smaller than k."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.partners import use_cases as partners
from domain.staff.model import StaffRole
from persistence.tables import access_log, consent_states, partner_reads
from tests.api.documents import SET_SHARING
from tests.api.helpers import register, staff_token
from tests.factories import registration
from tests.graphql import GraphQLClient

STATISTICS = """
query Statistics($dimension: StatisticsDimension!) {
  aggregateStatistics(dimension: $dimension) {
    dimension
    minimumGroupSize
    groups { key label count lowerBound upperBound }
    remainder
    bands { key lowerBound upperBound }
  }
}
"""

STATES = """
query States($ids: [ID!]!, $purposes: [SharingPurpose!]) {
  consentStates(customerIds: $ids, purposes: $purposes) { customerId purpose granted }
}
"""

# A small k keeps the groups of k - 1 and k to a few registrations.
K = 3
COUNTED = SharingPurpose.AGGREGATE_STATISTICS
_numbers = itertools.count()


@pytest.fixture
async def client(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    """An app whose k is ``K``."""
    app = create_app(settings, dataclasses.replace(deps, aggregate_min_group_size=K))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


async def customer(
    client: GraphQLClient,
    *,
    country: str = "GB",
    users: int = 12,
    **changes: Any,
) -> tuple[str, dict[str, Any]]:
    """A registered customer with a fresh address; (token, customer)."""
    base = registration()
    address = {**base["address"], "country": country}
    billing = {**base["billing"], "organizationUsers": users}
    email = f"customer{next(_numbers)}@example.com"
    return await register(client, email=email, address=address, billing=billing, **changes)


async def statistics_key(deps: Dependencies, *purposes: SharingPurpose) -> str:
    issued = await partners.create_partner(deps, "Tallies Inc", list(purposes or [COUNTED]))
    return issued.key


async def read(client: GraphQLClient, token: str, dimension: str) -> dict[str, Any]:
    data = await client.data(STATISTICS, {"dimension": dimension}, token=token)
    result: dict[str, Any] = data["aggregateStatistics"]
    return result


def counts(result: dict[str, Any]) -> list[tuple[str | None, int]]:
    return [(g["key"], g["count"]) for g in result["groups"]]


async def test_a_group_of_k_minus_one_is_hidden_and_one_of_k_is_shown(
    client: GraphQLClient, deps: Dependencies
) -> None:
    # given k customers in software (however they spell it), k - 1 in retail, one who says
    # nothing of their industry
    for spelling in ("Software", " SOFTWARE ", "Software"):
        await customer(client, industry=spelling)
    for _ in range(K - 1):
        await customer(client, industry="Retail")
    await customer(client)
    key = await statistics_key(deps)
    # when
    result = await read(client, key, "INDUSTRY")
    # then software is shown; retail and the unstated one only as a remainder that reaches k
    assert result["dimension"] == "INDUSTRY"
    assert result["minimumGroupSize"] == K
    assert result["groups"] == [
        {"key": "software", "label": "Software", "count": K, "lowerBound": None, "upperBound": None}
    ]
    assert result["remainder"] == K
    assert result["bands"] == []


async def test_a_remainder_is_shown_only_once_it_reaches_k(
    client: GraphQLClient, deps: Dependencies
) -> None:
    key = await statistics_key(deps)
    # given k - 1 customers, each in an industry of their own
    for industry in ("Retail", "Mining"):
        await customer(client, industry=industry)
    # then nothing at all is shown
    result = await read(client, key, "INDUSTRY")
    assert (result["groups"], result["remainder"]) == ([], None)
    # when a k-th customer in yet another industry registers, the remainder is shown
    await customer(client, industry="Fishing")
    result = await read(client, key, "INDUSTRY")
    assert (result["groups"], result["remainder"]) == ([], K)


async def test_a_hidden_group_cannot_be_had_by_subtracting_the_shown_ones_from_a_total(
    client: GraphQLClient, deps: Dependencies
) -> None:
    # given k customers in software and k - 1 in retail, all in one country
    for industry in ["Software"] * K + ["Retail"] * (K - 1):
        await customer(client, industry=industry)
    key = await statistics_key(deps)
    # the country dimension gives away how many customers are counted...
    assert counts(await read(client, key, "COUNTRY")) == [("GB", 2 * K - 1)]
    # ...so software is not shown beside a hidden retail: both are in the remainder
    result = await read(client, key, "INDUSTRY")
    assert (result["groups"], result["remainder"]) == ([], 2 * K - 1)


async def test_a_customer_who_opted_out_is_not_counted(
    client: GraphQLClient, deps: Dependencies
) -> None:
    key = await statistics_key(deps)
    tokens = [(await customer(client, industry="Software"))[0] for _ in range(K + 1)]
    assert counts(await read(client, key, "INDUSTRY")) == [("software", K + 1)]
    # when one of them turns aggregate statistics off
    choice = {"preferences": [{"purpose": COUNTED.value, "granted": False}]}
    data = await client.data(SET_SHARING, {"input": choice}, token=tokens[0])
    assert data["setSharingPreferences"]["errors"] == []
    # then every dimension counts one fewer
    assert counts(await read(client, key, "INDUSTRY")) == [("software", K)]
    assert counts(await read(client, key, "COUNTRY")) == [("GB", K)]
    assert counts(await read(client, key, "ORGANIZATION_USERS_BAND")) == [("6-25", K)]


async def test_a_customer_with_no_recorded_choice_is_counted_as_the_default_says(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    for _ in range(K):
        await customer(client)
    async with engine.begin() as conn:
        await conn.execute(consent_states.delete())
    key = await statistics_key(deps)
    assert counts(await read(client, key, "COUNTRY")) == [("GB", K)]


async def test_every_dimension_groups_customers_and_bands_carry_their_bounds(
    client: GraphQLClient, deps: Dependencies
) -> None:
    # given k customers in Germany, in software, with 10 to 49 employees and 1 to 5 users,
    # and k in France who give neither industry nor employee count, with 6 to 25 users
    for employees, users in ((10, 1), (20, 3), (49, 5)):
        await customer(
            client, country="DE", users=users, industry="Software", employeeCount=employees
        )
    for users in (6, 10, 25):
        await customer(client, country="FR", users=users)
    key = await statistics_key(deps)
    # when / then
    countries = await read(client, key, "COUNTRY")
    assert [(g["key"], g["label"], g["count"]) for g in countries["groups"]] == [
        ("FR", "France", K),
        ("DE", "Germany", K),
    ]
    assert countries["remainder"] == 0
    industries = await read(client, key, "INDUSTRY")
    assert [(g["key"], g["label"]) for g in industries["groups"]] == [
        ("software", "Software"),
        (None, "Not stated"),
    ]
    employees = await read(client, key, "EMPLOYEE_BAND")
    assert employees["groups"] == [
        {"key": "10-49", "label": "10 to 49", "count": K, "lowerBound": 10, "upperBound": 49},
        {"key": None, "label": "Not stated", "count": K, "lowerBound": None, "upperBound": None},
    ]
    assert [b["key"] for b in employees["bands"]] == ["1-9", "10-49", "50-249", "250-999", "1000+"]
    assert employees["bands"][-1] == {"key": "1000+", "lowerBound": 1000, "upperBound": None}
    users_result = await read(client, key, "ORGANIZATION_USERS_BAND")
    assert [(g["key"], g["lowerBound"], g["upperBound"]) for g in users_result["groups"]] == [
        ("1-5", 1, 5),
        ("6-25", 6, 25),
    ]


async def test_staff_of_either_role_read_statistics_with_the_configured_k(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given the application as configured (k from settings, 10 by default)
    app = create_app(settings, deps)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        default_client = GraphQLClient(http)
        for _ in range(K):
            await customer(default_client)
        for role in StaffRole:
            token = await staff_token(default_client, deps, role)
            result = await read(default_client, token, "COUNTRY")
            # then three customers are far fewer than k: nothing is shown
            assert result["minimumGroupSize"] == settings.aggregate_min_group_size == 10
            assert (result["groups"], result["remainder"]) == ([], None)


async def test_reading_aggregates_is_not_logged_as_a_read_of_anyone(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    for _ in range(K):
        await customer(client)
    await read(client, await statistics_key(deps), "COUNTRY")
    await read(client, await staff_token(client, deps, StaffRole.SUPPORT), "COUNTRY")
    async with engine.connect() as conn:
        for table in (partner_reads, access_log):
            assert await conn.scalar(select(func.count()).select_from(table)) == 0


async def test_callers_without_the_right_are_refused(
    client: GraphQLClient, deps: Dependencies
) -> None:
    customer_token, _ = await customer(client)
    other_partner = await statistics_key(deps, SharingPurpose.PARTNER_OFFERS)
    cases = [
        (other_partner, "FORBIDDEN"),
        (customer_token, "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
        ("drp_not-a-key-we-issued", "UNAUTHENTICATED"),
    ]
    for token, code in cases:
        result = await client.execute(STATISTICS, {"dimension": "COUNTRY"}, token=token)
        assert result["data"] is None
        assert [e["extensions"]["code"] for e in result["errors"]] == [code], token


async def test_a_partner_counted_in_aggregates_never_reads_that_choice_per_customer(
    client: GraphQLClient, deps: Dependencies
) -> None:
    _, ada = await customer(client)
    key = await statistics_key(deps, COUNTED, SharingPurpose.PARTNER_OFFERS)
    # its per-customer purposes are answered, never aggregate statistics
    data = await client.data(STATES, {"ids": [ada["id"]]}, token=key)
    assert [a["purpose"] for a in data["consentStates"]] == ["PARTNER_OFFERS"]
    # and asking for it by name is refused
    asked = {"ids": [ada["id"]], "purposes": [COUNTED.value]}
    result = await client.execute(STATES, asked, token=key)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
