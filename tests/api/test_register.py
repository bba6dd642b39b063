"""register: the statement's required information, optional extras, and every refusal."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.documents import ME, REGISTER
from tests.api.helpers import codes, register
from tests.conftest import snapshot
from tests.factories import registration
from tests.graphql import GraphQLClient


async def test_registration_signs_the_customer_in_and_stores_the_profile(
    client: GraphQLClient,
) -> None:
    # given
    optional = {
        "title": "Countess",
        "department": "Research",
        "fax": "020 7946 0959",
        "annualRevenue": {"amount": "1250000.50", "currency": "gbp"},
        "employeeCount": 40,
        "industry": "Computing",
    }
    # when
    result = await client.data(REGISTER, {"input": registration(**optional)})
    # then
    payload = result["register"]
    assert payload["errors"] == []
    customer = payload["customer"]
    uuid.UUID(customer["id"])
    assert customer["email"] == "ada@example.com"
    assert customer["emailVerified"] is False
    assert customer["phone"] == "+442079460958"
    assert customer["fax"] == "+442079460959"
    assert customer["annualRevenue"] == {"amount": "1250000.50", "currency": "GBP"}
    assert customer["billing"]["card"] == {
        "brand": "VISA",
        "last4": "4242",
        "expMonth": 12,
        "expYear": 2031,
    }
    assert customer["version"] == 1
    me = await client.data(ME, token=payload["token"])
    assert me["me"] == customer


async def test_registration_sets_an_http_only_session_cookie(client: GraphQLClient) -> None:
    response = await client.post(REGISTER, {"input": registration()})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    me = await client.data(ME)  # the cookie alone authenticates
    assert me["me"]["email"] == "ada@example.com"


async def test_optional_information_may_be_left_out(client: GraphQLClient) -> None:
    _, customer = await register(client)
    assert customer["title"] is None
    assert customer["annualRevenue"] is None
    assert customer["address"]["line2"] is None


async def test_every_missing_mandatory_field_is_reported_at_once(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    before = await snapshot(engine)
    # when
    result = await client.data(REGISTER, {"input": {}})
    # then
    payload = result["register"]
    assert payload["token"] is None
    assert payload["customer"] is None
    assert codes(payload["errors"]) == {
        (("email",), "REQUIRED"),
        (("password",), "REQUIRED"),
        (("name",), "REQUIRED"),
        (("companyName",), "REQUIRED"),
        (("address", "line1"), "REQUIRED"),
        (("address", "city"), "REQUIRED"),
        (("address", "postalCode"), "REQUIRED"),
        (("address", "country"), "REQUIRED"),
        (("phone",), "REQUIRED"),
        (("billing", "name"), "REQUIRED"),
        (("billing", "address", "line1"), "REQUIRED"),
        (("billing", "address", "city"), "REQUIRED"),
        (("billing", "address", "postalCode"), "REQUIRED"),
        (("billing", "address", "country"), "REQUIRED"),
        (("billing", "organizationUsers"), "REQUIRED"),
        (("billing", "card"), "REQUIRED"),
    }
    assert await snapshot(engine) == before


BAD_INPUTS = [
    pytest.param({"email": "not-an-address"}, ("email",), "INVALID_EMAIL", id="invalid-email"),
    pytest.param({"phone": "12345"}, ("phone",), "INVALID_PHONE", id="invalid-phone"),
    pytest.param(
        {"address": {**registration()["address"], "country": "XX"}},
        ("address", "country"),
        "INVALID_COUNTRY",
        id="country-XX",
    ),
    pytest.param({"name": "A" * 10_000}, ("name",), "TOO_LONG", id="10000-character-name"),
    pytest.param(
        {
            "billing": {
                **registration()["billing"],
                "card": {
                    "number": "4242 4242 4242 4241",
                    "expMonth": 12,
                    "expYear": 2031,
                    "cvc": "123",
                },
            }
        },
        ("billing", "card", "number"),
        "CARD_NUMBER_INVALID",
        id="card-fails-luhn",
    ),
    pytest.param(
        {
            "billing": {
                **registration()["billing"],
                "card": {
                    "number": "4242424242424242",
                    "expMonth": 1,
                    "expYear": 2020,
                    "cvc": "123",
                },
            }
        },
        ("billing", "card", "expYear"),
        "CARD_EXPIRED",
        id="expired-card",
    ),
    pytest.param(
        {
            "billing": {
                **registration()["billing"],
                "card": {"number": "4242424242424242", "expMonth": 1, "expYear": 2031, "cvc": "12"},
            }
        },
        ("billing", "card", "cvc"),
        "CARD_CVC_INVALID",
        id="short-cvc",
    ),
    pytest.param(
        {"billing": {**registration()["billing"], "organizationUsers": 100_001}},
        ("billing", "organizationUsers"),
        "OUT_OF_RANGE",
        id="too-many-users",
    ),
    pytest.param({"employeeCount": 0}, ("employeeCount",), "OUT_OF_RANGE", id="no-employees"),
    pytest.param(
        {"annualRevenue": {"amount": "-1", "currency": "EUR"}},
        ("annualRevenue", "amount"),
        "OUT_OF_RANGE",
        id="negative-revenue",
    ),
    pytest.param(
        {"annualRevenue": {"amount": "10", "currency": "XYZ"}},
        ("annualRevenue", "currency"),
        "INVALID_CURRENCY",
        id="unknown-currency",
    ),
    pytest.param({"password": "short"}, ("password",), "PASSWORD_TOO_SHORT", id="short-password"),
    pytest.param(
        {"password": "password1234"}, ("password",), "PASSWORD_TOO_COMMON", id="common-password"
    ),
    pytest.param(
        {"password": "x" * 129}, ("password",), "PASSWORD_TOO_LONG", id="129-character-password"
    ),
    pytest.param({"name": "Ada\u0000"}, ("name",), "INVALID", id="control-character"),
    pytest.param(
        {"title": "4242 4242 4242 4242"}, ("title",), "INVALID", id="card-number-in-a-text-field"
    ),
    pytest.param(
        {"billing": {**registration()["billing"], "card": {"number": "4242424242424242"}}},
        ("billing", "card", "cvc"),
        "REQUIRED",
        id="card-without-code-or-expiry",
    ),
    pytest.param(
        {"annualRevenue": {"amount": "1000000000000000", "currency": "EUR"}},
        ("annualRevenue", "amount"),
        "OUT_OF_RANGE",
        id="revenue-over-the-maximum",
    ),
]


async def test_the_largest_revenue_allowed_is_stored_on_every_backend(
    client: GraphQLClient,
) -> None:
    revenue = {"amount": "999999999999999", "currency": "EUR"}
    result = await client.data(REGISTER, {"input": registration(annualRevenue=revenue)})
    assert result["register"]["errors"] == []
    assert result["register"]["customer"]["annualRevenue"]["amount"] == "999999999999999.00"


@pytest.mark.parametrize(("changes", "field", "code"), BAD_INPUTS)
async def test_bad_input_is_refused_with_a_user_error_and_writes_nothing(
    client: GraphQLClient,
    engine: AsyncEngine,
    changes: dict[str, object],
    field: tuple[str, ...],
    code: str,
) -> None:
    # given
    before = await snapshot(engine)
    # when
    response = await client.post(REGISTER, {"input": registration(**changes)})
    # then
    payload = response.json()["data"]["register"]
    assert (field, code) in codes(payload["errors"])
    assert len(payload["errors"]) == (3 if code == "REQUIRED" else 1)
    assert all(e["message"] for e in payload["errors"])
    assert payload["token"] is None
    assert "set-cookie" not in response.headers
    assert await snapshot(engine) == before


async def test_an_address_that_is_taken_is_refused_whatever_its_case(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    await register(client)
    before = await snapshot(engine)
    # when
    result = await client.data(REGISTER, {"input": registration(email=" ADA@Example.com ")})
    # then
    assert codes(result["register"]["errors"]) == {(("email",), "EMAIL_TAKEN")}
    assert await snapshot(engine) == before


async def test_registrations_from_one_address_are_rate_limited(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # the default allows 20 an hour from one IP; bad attempts count too
    for _ in range(20):
        await client.data(REGISTER, {"input": {}})
    result = await client.execute(REGISTER, {"input": registration()})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["RATE_LIMITED"]
    assert result["data"] is None
