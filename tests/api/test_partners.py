"""Partners read consent with their API keys: states, past states and the change feed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.consent.model import Actor, ConsentEntry, SharingPurpose, Source
from domain.dependencies import Dependencies
from domain.partners import use_cases as partners
from persistence.repositories.consent import SqlConsentRepository
from persistence.tables import partner_read_customers, partner_reads
from tests.api.documents import ME, SET_SHARING, UPDATE_PROFILE
from tests.api.helpers import register
from tests.conftest import FakeClock
from tests.graphql import GraphQLClient
from tests.statements import counted_statements

STATES = """
query States($ids: [ID!]!, $purposes: [SharingPurpose!]) {
  consentStates(customerIds: $ids, purposes: $purposes) { customerId purpose granted updatedAt }
}
"""

STATE_AT = """
query At($id: ID!, $purpose: SharingPurpose!, $at: DateTime!) {
  consentStateAt(customerId: $id, purpose: $purpose, at: $at) {
    customerId purpose granted updatedAt
  }
}
"""

CHANGES = """
query Changes($after: String, $first: Int!) {
  consentChanges(after: $after, first: $first) {
    edges { cursor node { customerId purpose granted previous source actor occurredAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

OFFERS = [SharingPurpose.PARTNER_OFFERS, SharingPurpose.INTEGRATION_PARTNERS]


async def new_partner(deps: Dependencies, name: str = "Acme", purposes: Any = None) -> str:
    issued = await partners.create_partner(deps, name, purposes or OFFERS)
    return issued.key


async def grant(client: GraphQLClient, token: str, **choices: bool) -> None:
    preferences = [{"purpose": p, "granted": g} for p, g in choices.items()]
    result = await client.data(SET_SHARING, {"input": {"preferences": preferences}}, token=token)
    assert result["setSharingPreferences"]["errors"] == []


def code_of(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


async def test_a_partner_reads_the_consent_of_many_customers_for_its_purposes(
    client: GraphQLClient, deps: Dependencies
) -> None:
    # given one customer who grants partner offers and one who does not
    ada_token, ada = await register(client)
    _, grace = await register(client, email="grace@example.com")
    await grant(client, ada_token, PARTNER_OFFERS=True)
    key = await new_partner(deps)
    # when
    ids = [ada["id"], grace["id"]]
    result = await client.data(STATES, {"ids": ids}, token=key)
    # then every customer is answered for every purpose of the partner
    answers = {(a["customerId"], a["purpose"]): a for a in result["consentStates"]}
    assert len(answers) == 4
    assert answers[ada["id"], "PARTNER_OFFERS"]["granted"] is True
    assert answers[ada["id"], "PARTNER_OFFERS"]["updatedAt"] is not None
    assert answers[ada["id"], "INTEGRATION_PARTNERS"] == {
        "customerId": ada["id"],
        "purpose": "INTEGRATION_PARTNERS",
        "granted": False,
        "updatedAt": None,
    }
    assert answers[grace["id"], "PARTNER_OFFERS"]["granted"] is False


async def test_an_unknown_id_answers_exactly_like_a_customer_who_never_granted(
    client: GraphQLClient, deps: Dependencies
) -> None:
    _, customer = await register(client)
    key = await new_partner(deps)
    unknown = str(uuid.uuid4())
    result = await client.data(
        STATES,
        {"ids": [customer["id"], unknown, "not-a-uuid"], "purposes": ["PARTNER_OFFERS"]},
        token=key,
    )
    known_answer, unknown_answer, garbage_answer = result["consentStates"]
    assert {k: v for k, v in known_answer.items() if k != "customerId"} == {
        k: v for k, v in unknown_answer.items() if k != "customerId"
    }
    assert garbage_answer == {
        "customerId": "not-a-uuid",
        "purpose": "PARTNER_OFFERS",
        "granted": False,
        "updatedAt": None,
    }


async def test_every_read_is_logged_with_the_customers_it_touched(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    _, customer = await register(client)
    key = await new_partner(deps)
    await client.data(STATES, {"ids": [customer["id"], str(uuid.uuid4())]}, token=key)
    async with engine.connect() as conn:
        read = (await conn.execute(select(partner_reads))).mappings().one()
        touched = (await conn.execute(select(partner_read_customers.c.customer_id))).scalars().all()
    assert read["operation"] == "consentStates"
    assert read["purposes"] == "INTEGRATION_PARTNERS,PARTNER_OFFERS"
    assert read["customer_count"] == 1
    assert [str(c) for c in touched] == [customer["id"]]


async def test_one_statement_reads_consent_whatever_the_number_of_ids(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given
    _, customer = await register(client)
    key = await new_partner(deps)
    await client.data(STATES, {"ids": [customer["id"]]}, token=key)  # warm up the key lookup
    many = [customer["id"], *(str(uuid.uuid4()) for _ in range(999))]
    # when
    with counted_statements(engine) as one:
        await client.data(STATES, {"ids": [customer["id"]]}, token=key)
    with counted_statements(engine) as thousand:
        result = await client.data(STATES, {"ids": many}, token=key)
    # then
    assert len(result["consentStates"]) == 2_000
    reads = [s for s in thousand if s.lstrip().startswith("SELECT") and " consent_states " in s]
    assert len(reads) == 1
    assert len(thousand) == len(one)


async def test_more_than_1000_ids_is_a_bad_request_and_logs_nothing(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    key = await new_partner(deps)
    ids = [str(uuid.uuid4()) for _ in range(1_001)]
    result = await client.execute(STATES, {"ids": ids}, token=key)
    assert code_of(result) == "BAD_REQUEST"
    # refused while the document is validated: a request error, with no data (or null data)
    assert result.get("data") is None
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(partner_reads)) == 0


async def test_a_purpose_outside_the_registration_is_forbidden(
    client: GraphQLClient, deps: Dependencies
) -> None:
    _, customer = await register(client)
    key = await new_partner(deps)
    result = await client.execute(
        STATES, {"ids": [customer["id"]], "purposes": ["ANALYTICS_COOKIES"]}, token=key
    )
    assert code_of(result) == "FORBIDDEN"


async def test_keys_that_are_revoked_unknown_or_rotated_out_are_unauthenticated(
    timed_client: GraphQLClient, deps: Dependencies, clock: FakeClock
) -> None:
    import dataclasses

    timed = dataclasses.replace(deps, clock=clock)
    _, customer = await register(timed_client)
    variables = {"ids": [customer["id"]]}
    old = await new_partner(timed)
    new = (await partners.rotate_key(timed, "Acme", timedelta(hours=24))).key
    clock.advance(hours=23)
    assert "errors" not in await timed_client.execute(STATES, variables, token=old)
    clock.advance(hours=1, seconds=1)
    assert code_of(await timed_client.execute(STATES, variables, token=old)) == "UNAUTHENTICATED"
    assert "errors" not in await timed_client.execute(STATES, variables, token=new)
    await partners.revoke_partner(timed, "Acme")
    assert code_of(await timed_client.execute(STATES, variables, token=new)) == "UNAUTHENTICATED"
    forged = "drp_" + "A" * 43
    assert code_of(await timed_client.execute(STATES, variables, token=forged)) == (
        "UNAUTHENTICATED"
    )


async def test_customers_and_partners_stay_on_their_own_side(
    client: GraphQLClient, deps: Dependencies
) -> None:
    token, customer = await register(client)
    key = await new_partner(deps)
    as_customer = await client.execute(STATES, {"ids": [customer["id"]]}, token=token)
    assert code_of(as_customer) == "FORBIDDEN"
    assert (await client.data(ME, token=key))["me"] is None
    as_partner = await client.execute(UPDATE_PROFILE, {"input": {"name": "X"}}, token=key)
    assert code_of(as_partner) == "UNAUTHENTICATED"


async def test_the_state_at_a_past_instant_comes_from_the_ledger(
    client: GraphQLClient, deps: Dependencies
) -> None:
    token, customer = await register(client)
    key = await new_partner(deps)
    before_grant = datetime.now(UTC)
    await grant(client, token, PARTNER_OFFERS=True)
    between = datetime.now(UTC)
    await grant(client, token, PARTNER_OFFERS=False)

    async def at(instant: datetime) -> dict[str, Any]:
        variables = {"id": customer["id"], "purpose": "PARTNER_OFFERS", "at": instant.isoformat()}
        return dict((await client.data(STATE_AT, variables, token=key))["consentStateAt"])

    assert (await at(before_grant))["granted"] is False
    assert (await at(before_grant))["updatedAt"] is None
    assert (await at(between))["granted"] is True
    assert (await at(datetime.now(UTC)))["granted"] is False
    unknown = await client.data(
        STATE_AT,
        {"id": str(uuid.uuid4()), "purpose": "PARTNER_OFFERS", "at": between.isoformat()},
        token=key,
    )
    assert unknown["consentStateAt"]["granted"] is False


async def test_the_change_feed_pages_through_changes_to_the_partners_purposes(
    client: GraphQLClient, deps: Dependencies
) -> None:
    # given three changes, one of them to a purpose the partner does not hold
    token, customer = await register(client)
    await grant(client, token, PARTNER_OFFERS=True)
    await grant(client, token, ANALYTICS_COOKIES=True)
    await grant(client, token, PARTNER_OFFERS=False, INTEGRATION_PARTNERS=True)
    key = await new_partner(deps)
    # when (a transaction elsewhere on the server may hold the fence back for a moment)
    for _ in range(100):
        visible = (await client.data(CHANGES, {"first": 10}, token=key))["consentChanges"]
        if len(visible["edges"]) == 3:
            break
        await asyncio.sleep(0.05)
    first = (await client.data(CHANGES, {"first": 2}, token=key))["consentChanges"]
    rest = (
        await client.data(
            CHANGES, {"first": 10, "after": first["pageInfo"]["endCursor"]}, token=key
        )
    )["consentChanges"]
    # then
    nodes = [e["node"] for e in first["edges"] + rest["edges"]]
    assert [(n["purpose"], n["granted"]) for n in nodes] == [
        ("PARTNER_OFFERS", True),
        ("PARTNER_OFFERS", False),
        ("INTEGRATION_PARTNERS", True),
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False
    assert {n["customerId"] for n in nodes} == {customer["id"]}
    assert all(n["source"] == "SELF_SERVICE" for n in nodes)
    again = await client.data(
        CHANGES, {"first": 10, "after": rest["pageInfo"]["endCursor"]}, token=key
    )
    assert again["consentChanges"]["edges"] == []
    forged = await client.execute(CHANGES, {"first": 10, "after": "Zm9v"}, token=key)
    assert code_of(forged) == "BAD_REQUEST"


def change(customer_id: str, granted: bool) -> ConsentEntry:
    return ConsentEntry(
        uuid.UUID(customer_id),
        SharingPurpose.PARTNER_OFFERS,
        granted,
        not granted,
        datetime.now(UTC),
        Actor.CUSTOMER,
        Source.SELF_SERVICE,
    )


async def test_no_change_is_skipped_when_transactions_commit_out_of_order(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers, so its ids are already in commit order")
    from sqlalchemy import text

    _, ada = await register(client)
    _, grace = await register(client, email="grace@example.com")
    key = await new_partner(deps)

    async def feed(after: str | None) -> tuple[list[tuple[str, bool]], str | None]:
        page = (await client.data(CHANGES, {"first": 50, "after": after}, token=key))[
            "consentChanges"
        ]
        nodes = [(e["node"]["customerId"], e["node"]["granted"]) for e in page["edges"]]
        return nodes, page["pageInfo"]["endCursor"]

    async def settled_feed(after: str | None) -> tuple[list[tuple[str, bool]], str | None]:
        # A transaction anywhere on the server (another database's, say) holds the fence back
        # for as long as it runs: the feed delays changes then, it never skips them.
        for _ in range(100):
            seen, cursor = await feed(after)
            if seen:
                return seen, cursor
            await asyncio.sleep(0.05)
        return seen, cursor

    early = await engine.connect()
    late = await engine.connect()
    try:
        # `early` takes its transaction id first but writes its change last
        await early.begin()
        await early.execute(text("SELECT pg_current_xact_id()"))
        await late.begin()
        await SqlConsentRepository(late).append([change(grace["id"], True)], None)
        await SqlConsentRepository(early).append([change(ada["id"], True)], None)
        # `late` commits while `early` is still open: the feed must hold it back
        await late.commit()
        seen, cursor = await feed(None)
        assert seen == []
        await early.commit()
        seen, cursor = await settled_feed(cursor)
        assert seen == [(ada["id"], True), (grace["id"], True)]
        # the opposite order: the first to take an id commits first, the other later
        await early.begin()
        await SqlConsentRepository(early).append([change(ada["id"], False)], None)
        await late.begin()
        await SqlConsentRepository(late).append([change(grace["id"], False)], None)
        await early.commit()
        first, cursor = await settled_feed(cursor)
        assert first == [(ada["id"], False)]
        await late.commit()
        second, _ = await settled_feed(cursor)
        assert second == [(grace["id"], False)]
    finally:
        await early.close()
        await late.close()
