"""Communication and sharing choices through GraphQL, the ledger behind them, and GPC."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import consent_ledger, consent_ledger_context
from tests.api.documents import (
    HISTORY,
    ME,
    OPT_OUT_OF_ALL,
    PREFERENCES,
    SET_COMMUNICATION,
    SET_SHARING,
)
from tests.api.helpers import codes, register
from tests.conftest import snapshot
from tests.graphql import GraphQLClient

GPC = {"Sec-GPC": "1"}


async def preferences(client: GraphQLClient, token: str) -> dict[str, dict[str, Any]]:
    me = (await client.data(PREFERENCES, token=token))["me"]
    topics = {p["topic"]: p for p in me["communicationPreferences"]}
    purposes = {p["purpose"]: p for p in me["sharingPreferences"]}
    return {**topics, **purposes}


async def history(client: GraphQLClient, token: str, first: int = 100) -> list[dict[str, Any]]:
    data = await client.data(HISTORY, {"first": first}, token=token)
    return [edge["node"] for edge in data["me"]["consentHistory"]["edges"]]


async def call(
    client: GraphQLClient,
    document: str,
    variables: dict[str, Any] | None,
    token: str,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"query": document, "variables": variables}
    response = await client.http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {token}", **(headers or {})}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def share(*choices: tuple[str, bool], override: bool = False) -> dict[str, Any]:
    return {
        "input": {
            "preferences": [{"purpose": p, "granted": g} for p, g in choices],
            "overrideGlobalPrivacyControl": override,
        }
    }


async def test_a_new_customer_starts_from_the_defaults_written_to_the_ledger(
    client: GraphQLClient,
) -> None:
    token, _ = await register(client)
    state = await preferences(client, token)
    assert {k: v.get("subscribed", v.get("granted")) for k, v in state.items()} == {
        "NEWSLETTER": False,
        "PROMOTIONS_AND_EVENTS": False,
        "PRODUCT_UPDATES": True,
        "SALES_FOLLOW_UP": False,
        "ACCOUNT_AND_SECURITY": True,
        "PARTNER_OFFERS": False,
        "INTEGRATION_PARTNERS": False,
        "ANALYTICS_COOKIES": False,
        "AGGREGATE_STATISTICS": True,
    }
    assert all(v["updatedAt"] is None for v in state.values())
    entries = await history(client, token)
    assert len(entries) == 9
    assert {(e["actor"], e["source"], e["previous"]) for e in entries} == {
        ("SYSTEM", "DEFAULT", None)
    }


async def test_subscribing_appends_an_entry_and_records_where_it_came_from(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, _ = await register(client)
    # when
    choice = {"input": {"preferences": [{"topic": "NEWSLETTER", "subscribed": True}]}}
    result = await client.data(SET_COMMUNICATION, choice, token=token)
    # then
    payload = result["setCommunicationPreferences"]
    assert payload["errors"] == []
    newsletter = {p["topic"]: p for p in payload["communicationPreferences"]}["NEWSLETTER"]
    assert newsletter["subscribed"] is True
    assert newsletter["updatedAt"] is not None
    latest = (await history(client, token, first=1))[0]
    assert latest == {
        "topic": "NEWSLETTER",
        "purpose": None,
        "granted": True,
        "previous": False,
        "occurredAt": newsletter["updatedAt"],
        "actor": "CUSTOMER",
        "source": "SELF_SERVICE",
        "policyVersion": None,
    }
    async with engine.connect() as conn:
        context = (await conn.execute(select(consent_ledger_context))).mappings().all()
    assert [(c["ip"], c["user_agent"][:12]) for c in context] == [("203.0.113.7", "python-httpx")]


async def test_a_choice_that_changes_nothing_writes_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    choice = {"input": {"preferences": [{"topic": "PRODUCT_UPDATES", "subscribed": True}]}}
    result = await client.data(SET_COMMUNICATION, choice, token=token)
    assert result["setCommunicationPreferences"]["errors"] == []
    assert await snapshot(engine) == before


async def test_account_and_security_mail_cannot_be_turned_off(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    choices = [
        {"topic": "NEWSLETTER", "subscribed": True},
        {"topic": "ACCOUNT_AND_SECURITY", "subscribed": False},
    ]
    result = await client.data(SET_COMMUNICATION, {"input": {"preferences": choices}}, token=token)
    payload = result["setCommunicationPreferences"]
    assert codes(payload["errors"]) == {(("preferences", "1", "subscribed"), "NOT_OPTIONAL")}
    assert payload["communicationPreferences"] is None
    assert await snapshot(engine) == before


async def test_an_unknown_topic_or_purpose_is_refused_by_the_schema(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    for document, variables in [
        (SET_COMMUNICATION, {"input": {"preferences": [{"topic": "SPAM", "subscribed": True}]}}),
        (SET_SHARING, {"input": {"preferences": [{"purpose": "SELLING", "granted": True}]}}),
    ]:
        result = await client.execute(document, variables, token=token)
        assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert "data" not in result  # refused before execution
    assert await snapshot(engine) == before


async def test_naming_a_choice_twice_is_refused(client: GraphQLClient) -> None:
    token, _ = await register(client)
    result = await client.data(
        SET_SHARING, share(("PARTNER_OFFERS", True), ("PARTNER_OFFERS", False)), token=token
    )
    assert codes(result["setSharingPreferences"]["errors"]) == {(("preferences", "1"), "DUPLICATE")}


async def test_opting_out_of_everything_writes_one_entry_per_change(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given a customer subscribed to the newsletter (product updates are on by default)
    token, _ = await register(client)
    choice = {"input": {"preferences": [{"topic": "NEWSLETTER", "subscribed": True}]}}
    await client.data(SET_COMMUNICATION, choice, token=token)
    # when
    result = await client.data(OPT_OUT_OF_ALL, token=token)
    # then
    state = {
        p["topic"]: p["subscribed"]
        for p in result["optOutOfAllCommunications"]["communicationPreferences"]
    }
    assert state == {
        "NEWSLETTER": False,
        "PROMOTIONS_AND_EVENTS": False,
        "PRODUCT_UPDATES": False,
        "SALES_FOLLOW_UP": False,
        "ACCOUNT_AND_SECURITY": True,
    }
    latest = await history(client, token, first=2)
    assert {e["topic"] for e in latest} == {"NEWSLETTER", "PRODUCT_UPDATES"}
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(consent_ledger))
    assert count == 9 + 1 + 2


async def test_sharing_is_granted_and_withdrawn(client: GraphQLClient) -> None:
    token, _ = await register(client)
    granted = await client.data(
        SET_SHARING,
        share(("INTEGRATION_PARTNERS", True), ("AGGREGATE_STATISTICS", False)),
        token=token,
    )
    state = {
        p["purpose"]: p["granted"] for p in granted["setSharingPreferences"]["sharingPreferences"]
    }
    assert state["INTEGRATION_PARTNERS"] is True
    assert state["AGGREGATE_STATISTICS"] is False
    withdrawn = await client.data(SET_SHARING, share(("INTEGRATION_PARTNERS", False)), token=token)
    state = {
        p["purpose"]: p["granted"] for p in withdrawn["setSharingPreferences"]["sharingPreferences"]
    }
    assert state["INTEGRATION_PARTNERS"] is False


async def test_the_history_pages_newest_first_with_cursors(client: GraphQLClient) -> None:
    token, _ = await register(client)
    first = (await client.data(HISTORY, {"first": 4}, token=token))["me"]["consentHistory"]
    assert len(first["edges"]) == 4
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await client.data(
        HISTORY, {"first": 10, "after": first["pageInfo"]["endCursor"]}, token=token
    )
    page = rest["me"]["consentHistory"]
    assert len(page["edges"]) == 5
    assert page["pageInfo"]["hasNextPage"] is False
    cursors = [e["cursor"] for e in first["edges"] + page["edges"]]
    assert len(set(cursors)) == 9


async def test_a_forged_cursor_or_an_oversized_page_is_a_bad_request(client: GraphQLClient) -> None:
    token, _ = await register(client)
    for variables in ({"first": 5, "after": "bm90LWEtY3Vyc29y"}, {"first": 101}):
        result = await client.execute(HISTORY, variables, token=token)
        assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_gpc_signal_turns_off_sale_and_sharing_once_per_episode(
    client: GraphQLClient,
) -> None:
    # given a customer who shares with partners and an integration
    token, _ = await register(client)
    grant = share(
        ("PARTNER_OFFERS", True), ("ANALYTICS_COOKIES", True), ("INTEGRATION_PARTNERS", True)
    )
    await client.data(SET_SHARING, grant, token=token)
    # when the browser starts sending the signal
    await call(client, ME, None, token, GPC)
    await call(client, ME, None, token, GPC)
    # then sale and sharing are off, the directed disclosure is not, and it was recorded once
    state = await preferences(client, token)
    assert state["PARTNER_OFFERS"]["granted"] is False
    assert state["ANALYTICS_COOKIES"]["granted"] is False
    assert state["INTEGRATION_PARTNERS"]["granted"] is True
    gpc_entries = [e for e in await history(client, token) if e["source"] == "GPC_SIGNAL"]
    assert {e["purpose"] for e in gpc_entries} == {"PARTNER_OFFERS", "ANALYTICS_COOKIES"}
    assert len(gpc_entries) == 2


async def test_a_grant_against_the_signal_needs_the_customer_to_confirm_it(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before_refusal = await call(client, ME, None, token, GPC)
    assert before_refusal["data"]["me"] is not None
    before = await snapshot(engine)
    refused = await call(client, SET_SHARING, share(("PARTNER_OFFERS", True)), token, GPC)
    assert codes(refused["data"]["setSharingPreferences"]["errors"]) == {
        (("preferences", "0", "granted"), "GPC_CONFLICT")
    }
    assert await snapshot(engine) == before
    confirmed = await call(
        client, SET_SHARING, share(("PARTNER_OFFERS", True), override=True), token, GPC
    )
    assert confirmed["data"]["setSharingPreferences"]["errors"] == []
    # a later episode of the signal leaves the informed grant standing
    await call(client, ME, None, token)
    await call(client, ME, None, token, GPC)
    assert (await preferences(client, token))["PARTNER_OFFERS"]["granted"] is True


async def test_a_grant_made_after_an_earlier_signal_is_honoured(client: GraphQLClient) -> None:
    token, _ = await register(client)
    await client.data(SET_SHARING, share(("ANALYTICS_COOKIES", True)), token=token)
    await call(client, ME, None, token, GPC)  # turns it off
    await call(client, ME, None, token)  # the episode ends
    await client.data(SET_SHARING, share(("ANALYTICS_COOKIES", True)), token=token)
    await call(client, ME, None, token, GPC)  # a new episode
    assert (await preferences(client, token))["ANALYTICS_COOKIES"]["granted"] is True


async def test_the_site_declares_that_it_honours_gpc(client: GraphQLClient) -> None:
    response = await client.http.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["gpc"] is True
    assert len(body["lastUpdate"]) == 10
