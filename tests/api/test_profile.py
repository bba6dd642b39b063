"""me, updateProfile, removeOptionalInformation, updatePaymentCard and profileFields."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import card_vault
from tests.api.documents import (
    ME,
    PROFILE_FIELDS,
    REMOVE_OPTIONAL,
    UPDATE_CARD,
    UPDATE_PROFILE,
)
from tests.api.helpers import codes, register
from tests.conftest import snapshot
from tests.factories import MASTERCARD
from tests.graphql import GraphQLClient

OPTIONAL = {
    "title": "Countess",
    "department": "Research",
    "fax": "+44 20 7946 0959",
    "annualRevenue": {"amount": "900000", "currency": "EUR"},
    "employeeCount": 40,
    "industry": "Computing",
}


async def test_me_is_null_without_a_session(client: GraphQLClient) -> None:
    assert await client.data(ME) == {"me": None}


async def test_a_value_replaces_absent_fields_stay_and_null_clears_an_optional_field(
    client: GraphQLClient,
) -> None:
    # given
    token, before = await register(client, **OPTIONAL)
    # when
    changes = {"name": "Augusta Ada King", "title": None, "address": {"line2": "Flat 3"}}
    result = await client.data(UPDATE_PROFILE, {"input": changes}, token=token)
    # then
    payload = result["updateProfile"]
    assert payload["errors"] == []
    after = payload["customer"]
    assert after["name"] == "Augusta Ada King"
    assert after["title"] is None
    assert after["address"] == {**before["address"], "line2": "Flat 3"}
    assert after["department"] == "Research"
    assert after["billing"] == before["billing"]
    assert after["version"] == before["version"] + 1
    assert after["updatedAt"] > before["updatedAt"]
    assert (await client.data(ME, token=token))["me"] == after


async def test_nested_billing_patches_field_by_field(client: GraphQLClient) -> None:
    token, before = await register(client)
    changes = {"billing": {"organizationUsers": 30, "address": {"postalCode": "EC1A 1BB"}}}
    after = (await client.data(UPDATE_PROFILE, {"input": changes}, token=token))["updateProfile"]
    billing = after["customer"]["billing"]
    assert billing["organizationUsers"] == 30
    assert billing["address"] == {**before["billing"]["address"], "postalCode": "EC1A 1BB"}
    assert billing["name"] == before["billing"]["name"]


async def test_clearing_mandatory_fields_is_refused_and_changes_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, _ = await register(client)
    before = await snapshot(engine)
    # when
    changes = {
        "name": None,
        "phone": "  ",
        "title": "Countess",
        "billing": {"address": {"country": None}},
    }
    result = await client.data(UPDATE_PROFILE, {"input": changes}, token=token)
    # then
    assert codes(result["updateProfile"]["errors"]) == {
        (("name",), "REQUIRED"),
        (("phone",), "REQUIRED"),
        (("billing", "address", "country"), "REQUIRED"),
    }
    assert result["updateProfile"]["customer"] is None
    assert await snapshot(engine) == before


async def test_invalid_changes_are_refused_and_change_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    changes = {"phone": "not a phone", "address": {"country": "XX"}, "name": "B" * 201}
    result = await client.data(UPDATE_PROFILE, {"input": changes}, token=token)
    assert codes(result["updateProfile"]["errors"]) == {
        (("phone",), "INVALID_PHONE"),
        (("address", "country"), "INVALID_COUNTRY"),
        (("name",), "TOO_LONG"),
    }
    assert await snapshot(engine) == before


async def test_an_address_taken_by_another_customer_is_refused(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await register(client, email="grace@example.com")
    token, _ = await register(client)
    before = await snapshot(engine)
    result = await client.data(
        UPDATE_PROFILE,
        {
            "input": {
                "email": "Grace@example.com",
                "currentPassword": "correct horse battery staple",
            }
        },
        token=token,
    )
    assert codes(result["updateProfile"]["errors"]) == {(("email",), "EMAIL_TAKEN")}
    assert await snapshot(engine) == before


async def test_optional_information_is_removed_in_one_call(client: GraphQLClient) -> None:
    token, _ = await register(client, **OPTIONAL)
    fields = ["TITLE", "FAX", "ANNUAL_REVENUE", "EMPLOYEE_COUNT", "BILLING_ADDRESS_LINE2"]
    result = await client.data(REMOVE_OPTIONAL, {"input": {"fields": fields}}, token=token)
    customer = result["removeOptionalInformation"]["customer"]
    assert customer["title"] is None
    assert customer["fax"] is None
    assert customer["annualRevenue"] is None
    assert customer["employeeCount"] is None
    assert customer["billing"]["address"]["line2"] is None
    assert customer["department"] == "Research"
    assert customer["industry"] == "Computing"


async def test_naming_a_mandatory_field_refuses_the_whole_removal(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client, **OPTIONAL)
    before = await snapshot(engine)
    result = await client.data(
        REMOVE_OPTIONAL, {"input": {"fields": ["TITLE", "PHONE", "BILLING_CARD"]}}, token=token
    )
    assert codes(result["removeOptionalInformation"]["errors"]) == {
        (("fields", "1"), "NOT_OPTIONAL"),
        (("fields", "2"), "NOT_OPTIONAL"),
    }
    assert await snapshot(engine) == before


async def test_the_card_is_replaced_and_the_vault_forgets_the_old_one(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, _ = await register(client)
    async with engine.connect() as conn:
        old_tokens = (await conn.execute(select(card_vault.c.token))).scalars().all()
    # when
    card = {"number": MASTERCARD, "expMonth": 3, "expYear": 2032, "cvc": "987"}
    result = await client.data(UPDATE_CARD, {"input": {"card": card}}, token=token)
    # then
    customer = result["updatePaymentCard"]["customer"]
    assert customer["billing"]["card"] == {
        "brand": "MASTERCARD",
        "last4": "4444",
        "expMonth": 3,
        "expYear": 2032,
    }
    async with engine.connect() as conn:
        tokens = (await conn.execute(select(card_vault.c.token))).scalars().all()
    assert len(tokens) == 1
    assert tokens[0] not in old_tokens


async def test_a_bad_replacement_card_is_refused_and_the_old_one_stays(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    snapshot_before = await snapshot(engine)
    card = {"number": "5555555555554445", "expMonth": 13, "expYear": 2032, "cvc": "98"}
    result = await client.data(UPDATE_CARD, {"input": {"card": card}}, token=token)
    assert codes(result["updatePaymentCard"]["errors"]) == {
        (("card", "number"), "CARD_NUMBER_INVALID"),
        (("card", "expMonth"), "OUT_OF_RANGE"),
        (("card", "cvc"), "CARD_CVC_INVALID"),
    }
    assert await snapshot(engine) == snapshot_before


async def test_profile_fields_publish_the_policy_the_domain_enforces(
    client: GraphQLClient,
) -> None:
    fields = {f["name"]: f for f in (await client.data(PROFILE_FIELDS))["profileFields"]}
    assert fields["EMAIL"]["mandatory"] is True
    assert fields["EMAIL"]["removable"] is False
    assert fields["TITLE"] == {
        "name": "TITLE",
        "path": ["title"],
        "mandatory": False,
        "removable": True,
        "kind": "TEXT",
        "maxLength": 100,
        "minValue": None,
        "maxValue": None,
    }
    assert fields["BILLING_ORGANIZATION_USERS"]["minValue"] == 1
    assert fields["BILLING_ORGANIZATION_USERS"]["maxValue"] == 100_000
    assert fields["BILLING_ADDRESS_POSTAL_CODE"]["path"] == ["billing", "address", "postalCode"]
    optional = {name for name, f in fields.items() if not f["mandatory"]}
    assert optional == {
        "TITLE",
        "DEPARTMENT",
        "FAX",
        "ANNUAL_REVENUE",
        "EMPLOYEE_COUNT",
        "INDUSTRY",
        "ADDRESS_LINE2",
        "ADDRESS_REGION",
        "BILLING_ADDRESS_LINE2",
        "BILLING_ADDRESS_REGION",
    }


async def test_profile_calls_need_a_session(client: GraphQLClient) -> None:
    for document, variables in [
        (UPDATE_PROFILE, {"input": {"name": "X"}}),
        (REMOVE_OPTIONAL, {"input": {"fields": ["TITLE"]}}),
        (
            UPDATE_CARD,
            {"input": {"card": {"number": MASTERCARD, "expMonth": 1, "expYear": 2031, "cvc": "1"}}},
        ),
    ]:
        result = await client.execute(document, variables)
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert result["data"] is None


CHANGES = """
query Changes($first: Int!, $after: String) {
  me {
    profileChanges(first: $first, after: $after) {
      edges { cursor node { field path changedAt actor } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def test_every_change_records_the_field_when_and_who_but_not_the_value(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, _ = await register(client, **OPTIONAL)
    # when
    await client.data(
        UPDATE_PROFILE,
        {"input": {"name": "Augusta Ada King", "billing": {"address": {"city": "Leeds"}}}},
        token=token,
    )
    await client.data(REMOVE_OPTIONAL, {"input": {"fields": ["FAX"]}}, token=token)
    card = {"number": MASTERCARD, "expMonth": 3, "expYear": 2032, "cvc": "987"}
    await client.data(UPDATE_CARD, {"input": {"card": card}}, token=token)
    # then, newest first
    first = (await client.data(CHANGES, {"first": 2}, token=token))["me"]["profileChanges"]
    rest = await client.data(
        CHANGES, {"first": 10, "after": first["pageInfo"]["endCursor"]}, token=token
    )
    nodes = [e["node"] for e in first["edges"] + rest["me"]["profileChanges"]["edges"]]
    assert [n["field"] for n in nodes] == [
        "BILLING_CARD",
        "FAX",
        "BILLING_ADDRESS_CITY",
        "NAME",
    ] or [n["field"] for n in nodes] == ["BILLING_CARD", "FAX", "NAME", "BILLING_ADDRESS_CITY"]
    assert nodes[0]["path"] == ["billing", "card"]
    assert {n["actor"] for n in nodes} == {"CUSTOMER"}
    assert first["pageInfo"]["hasNextPage"] is True
    # and no value is kept
    from persistence.tables import profile_changes

    async with engine.connect() as conn:
        rows = (await conn.execute(select(profile_changes))).all()
    assert "Augusta" not in repr(rows)
    assert "Leeds" not in repr(rows)


async def test_a_refused_change_records_nothing(client: GraphQLClient, engine: AsyncEngine) -> None:
    token, _ = await register(client)
    await client.data(UPDATE_PROFILE, {"input": {"name": None}}, token=token)
    result = await client.data(CHANGES, {"first": 10}, token=token)
    assert result["me"]["profileChanges"]["edges"] == []
