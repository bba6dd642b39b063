"""Checking profile values against the field policy: every problem at once, values normalised."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import ErrorCode, FieldPath
from domain.profile.model import Money
from domain.profile.policy import (
    FIELDS_BY_PATH,
    PATCHABLE_FIELDS,
    PROFILE_FIELDS,
    FieldKind,
    FieldSpec,
)
from domain.profile.validation import validate_fields
from tests.unit.examples import registration_values, reported

REVENUE = ("annual_revenue",)
USERS = ("billing", "organization_users")
EMPLOYEES = ("employee_count",)
TEXT_SPECS = [
    spec
    for spec in PROFILE_FIELDS
    if spec.kind in (FieldKind.TEXT, FieldKind.POSTAL_CODE) and spec.max_length is not None
]


def check_one(
    path: FieldPath, value: object, phone_region: str | None = None
) -> tuple[object, set[tuple[FieldPath, ErrorCode]]]:
    """The normalised value of one field and the problems with it."""
    checked, problems = validate_fields(
        [FIELDS_BY_PATH[path]], {path: value}, phone_region=phone_region
    )
    return checked.get(path), reported(problems)


def test_a_complete_registration_has_no_problems() -> None:
    _, problems = validate_fields(PATCHABLE_FIELDS, registration_values())

    assert problems == []


def test_every_missing_mandatory_field_is_reported_at_once() -> None:
    # when
    _, problems = validate_fields(PATCHABLE_FIELDS, {})

    # then
    assert reported(problems) == {
        (spec.path, ErrorCode.REQUIRED) for spec in PATCHABLE_FIELDS if spec.mandatory
    }


def test_absent_optional_fields_are_valid_and_mean_none() -> None:
    checked, problems = validate_fields(PATCHABLE_FIELDS, registration_values())

    assert problems == []
    optional = [spec.path for spec in PATCHABLE_FIELDS if not spec.mandatory]
    assert optional
    assert {path: checked[path] for path in optional} == dict.fromkeys(optional)


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_white_space_alone_counts_as_missing(blank: str) -> None:
    # given
    values = {**registration_values(), ("name",): blank, ("title",): blank}

    # when
    checked, problems = validate_fields(PATCHABLE_FIELDS, values)

    # then
    assert reported(problems) == {(("name",), ErrorCode.REQUIRED)}
    assert checked[("title",)] is None


def test_text_is_kept_without_surrounding_white_space() -> None:
    value, problems = check_one(("name",), "  Ada Lovelace \n")

    assert (value, problems) == ("Ada Lovelace", set())


@pytest.mark.parametrize("spec", TEXT_SPECS, ids=lambda spec: spec.key)
def test_text_exactly_at_its_maximum_length_is_accepted(spec: FieldSpec) -> None:
    assert spec.max_length is not None
    text = "x" * spec.max_length

    value, problems = check_one(spec.path, text)

    assert (value, problems) == (text, set())


@pytest.mark.parametrize("spec", TEXT_SPECS, ids=lambda spec: spec.key)
def test_text_one_character_over_its_maximum_length_is_too_long(spec: FieldSpec) -> None:
    assert spec.max_length is not None

    _, problems = check_one(spec.path, "x" * (spec.max_length + 1))

    assert problems == {(spec.path, ErrorCode.TOO_LONG)}


@pytest.mark.parametrize(
    "text", ["Ada\x00Lovelace", "Ada\nLovelace", "Ada\tLovelace", "Ada\x1b[31m", "Ada\x7f"]
)
def test_control_characters_inside_text_are_refused(text: str) -> None:
    _, problems = check_one(("name",), text)

    assert problems == {(("name",), ErrorCode.INVALID)}


@pytest.mark.parametrize("value", [42, ["Ada"], b"Ada"])
def test_text_fields_refuse_what_is_not_text(value: object) -> None:
    _, problems = check_one(("name",), value)

    assert problems == {(("name",), ErrorCode.INVALID)}


def test_an_email_address_is_kept_in_lower_case() -> None:
    value, problems = check_one(("email",), " Ada.Lovelace@Example.COM ")

    assert (value, problems) == ("ada.lovelace@example.com", set())


@pytest.mark.parametrize(
    "address", ["ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@@example.com"]
)
def test_something_that_is_not_an_email_address_is_refused(address: str) -> None:
    _, problems = check_one(("email",), address)

    assert problems == {(("email",), ErrorCode.INVALID_EMAIL)}


def test_an_email_address_of_254_characters_is_accepted_and_255_is_too_long() -> None:
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
    longest = "a" * 64 + "@" + domain
    assert len(longest) == 254

    _, at_limit = check_one(("email",), longest)
    _, over = check_one(("email",), "a" + longest)

    assert at_limit == set()
    assert over == {(("email",), ErrorCode.TOO_LONG)}


@pytest.mark.parametrize("path", [("phone",), ("fax",)])
def test_an_international_number_is_kept_in_e164(path: FieldPath) -> None:
    value, problems = check_one(path, "+44 20 7946 0958")

    assert (value, problems) == ("+442079460958", set())


def test_a_national_number_is_read_in_the_default_region() -> None:
    value, problems = check_one(("phone",), "020 7946 0958", phone_region="GB")

    assert (value, problems) == ("+442079460958", set())


def test_a_national_number_without_a_default_region_is_not_a_valid_phone() -> None:
    _, problems = check_one(("phone",), "020 7946 0958")

    assert problems == {(("phone",), ErrorCode.INVALID_PHONE)}


@pytest.mark.parametrize("number", ["12345", "not a number", "+44 20 7946"])
def test_something_that_is_not_a_phone_number_is_refused(number: str) -> None:
    _, problems = check_one(("phone",), number, phone_region="GB")

    assert problems == {(("phone",), ErrorCode.INVALID_PHONE)}


@pytest.mark.parametrize("written", ["gb", "GB", " Gb "])
def test_a_country_code_in_any_case_is_kept_in_upper_case(written: str) -> None:
    value, problems = check_one(("address", "country"), written)

    assert (value, problems) == ("GB", set())


@pytest.mark.parametrize("code", ["XX", "UK", "zz"])
def test_a_code_that_names_no_country_is_refused(code: str) -> None:
    _, problems = check_one(("address", "country"), code)

    assert problems == {(("address", "country"), ErrorCode.INVALID_COUNTRY)}


def test_a_three_letter_country_code_is_too_long() -> None:
    _, problems = check_one(("billing", "address", "country"), "GBR")

    assert problems == {(("billing", "address", "country"), ErrorCode.TOO_LONG)}


@pytest.mark.parametrize(
    ("path", "value"),
    [(USERS, 1), (USERS, 100_000), (EMPLOYEES, 1), (EMPLOYEES, 10_000_000)],
)
def test_whole_numbers_at_the_ends_of_their_range_are_accepted(path: FieldPath, value: int) -> None:
    checked, problems = check_one(path, value)

    assert (checked, problems) == (value, set())


@pytest.mark.parametrize(
    ("path", "value"),
    [(USERS, 0), (USERS, -1), (USERS, 100_001), (EMPLOYEES, 0), (EMPLOYEES, 10_000_001)],
)
def test_whole_numbers_just_outside_their_range_are_refused(path: FieldPath, value: int) -> None:
    _, problems = check_one(path, value)

    assert problems == {(path, ErrorCode.OUT_OF_RANGE)}


@pytest.mark.parametrize("value", [True, False, 12.0, "12", Decimal(12)])
def test_booleans_and_other_non_integers_are_not_whole_numbers(value: object) -> None:
    _, problems = check_one(USERS, value)

    assert problems == {(USERS, ErrorCode.INVALID)}


@pytest.mark.parametrize("amount", ["0", "0.01", "1250000.50", "999999999999999"])
def test_amounts_from_zero_to_the_maximum_with_cents_are_accepted(amount: str) -> None:
    value, problems = check_one(REVENUE, Money(Decimal(amount), "EUR"))

    assert (value, problems) == (Money(Decimal(amount), "EUR"), set())


def test_an_amount_over_the_largest_the_database_holds_is_out_of_range() -> None:
    _, problems = check_one(REVENUE, Money(Decimal("1000000000000000"), "EUR"))

    assert problems == {(("annual_revenue", "amount"), ErrorCode.OUT_OF_RANGE)}


@pytest.mark.parametrize(
    "text", ["4242 4242 4242 4242", "card 4242-4242-4242-4242 exp 12/31", "378282246310005"]
)
def test_a_card_number_in_a_text_field_is_refused(text: str) -> None:
    _, problems = check_one(("title",), text)

    assert problems == {(("title",), ErrorCode.INVALID)}


def test_long_digit_runs_that_are_not_card_numbers_are_kept() -> None:
    value, problems = check_one(("title",), "Order 4242 4242 4242 4241")

    assert (value, problems) == ("Order 4242 4242 4242 4241", set())


def test_the_currency_is_kept_in_upper_case() -> None:
    value, problems = check_one(REVENUE, Money(Decimal("10.00"), " eur "))

    assert (value, problems) == (Money(Decimal("10.00"), "EUR"), set())


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("-0.01", ErrorCode.OUT_OF_RANGE),
        ("1000000000000000.01", ErrorCode.OUT_OF_RANGE),
        ("10.005", ErrorCode.INVALID),
        ("10.000", ErrorCode.INVALID),
        ("NaN", ErrorCode.INVALID),
        ("Infinity", ErrorCode.INVALID),
    ],
)
def test_amount_problems_are_reported_at_the_amount(amount: str, code: ErrorCode) -> None:
    _, problems = check_one(REVENUE, Money(Decimal(amount), "EUR"))

    assert problems == {(("annual_revenue", "amount"), code)}


@pytest.mark.parametrize("currency", ["XYZ", "EURO", "", "€"])
def test_an_unknown_currency_is_reported_at_the_currency(currency: str) -> None:
    _, problems = check_one(REVENUE, Money(Decimal("10"), currency))

    assert problems == {(("annual_revenue", "currency"), ErrorCode.INVALID_CURRENCY)}


def test_a_bad_amount_and_a_bad_currency_are_both_reported() -> None:
    _, problems = check_one(REVENUE, Money(Decimal("-1"), "XYZ"))

    assert problems == {
        (("annual_revenue", "amount"), ErrorCode.OUT_OF_RANGE),
        (("annual_revenue", "currency"), ErrorCode.INVALID_CURRENCY),
    }


def test_money_must_be_an_amount_and_a_currency() -> None:
    _, problems = check_one(REVENUE, "1000 EUR")

    assert problems == {(("annual_revenue",), ErrorCode.INVALID)}


def test_problems_in_different_fields_are_all_reported_together() -> None:
    # given
    values = {
        **registration_values(),
        ("name",): "x" * 201,
        ("email",): "not-an-address",
        ("address", "country"): "XX",
        ("address", "city"): None,
        USERS: 0,
        REVENUE: Money(Decimal("-1"), "EUR"),
    }

    # when
    _, problems = validate_fields(PATCHABLE_FIELDS, values)

    # then
    assert reported(problems) == {
        (("name",), ErrorCode.TOO_LONG),
        (("email",), ErrorCode.INVALID_EMAIL),
        (("address", "country"), ErrorCode.INVALID_COUNTRY),
        (("address", "city"), ErrorCode.REQUIRED),
        (USERS, ErrorCode.OUT_OF_RANGE),
        (("annual_revenue", "amount"), ErrorCode.OUT_OF_RANGE),
    }
