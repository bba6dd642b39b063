"""The field policy as data: what the statement requires, what it only may ask for."""

from __future__ import annotations

import pytest

from domain.profile.policy import (
    CARD_PATH,
    FIELDS_BY_KEY,
    FIELDS_BY_PATH,
    PATCHABLE_FIELDS,
    PROFILE_FIELDS,
    FieldSpec,
    ProfileFieldName,
    missing,
)

REQUIRED_BY_THE_STATEMENT = {
    "EMAIL",
    "NAME",
    "COMPANY_NAME",
    "ADDRESS_LINE1",
    "ADDRESS_CITY",
    "ADDRESS_POSTAL_CODE",
    "ADDRESS_COUNTRY",
    "PHONE",
    "BILLING_NAME",
    "BILLING_ADDRESS_LINE1",
    "BILLING_ADDRESS_CITY",
    "BILLING_ADDRESS_POSTAL_CODE",
    "BILLING_ADDRESS_COUNTRY",
    "BILLING_ORGANIZATION_USERS",
    "BILLING_CARD",
}
OPTIONAL = {
    "ADDRESS_LINE2",
    "ADDRESS_REGION",
    "BILLING_ADDRESS_LINE2",
    "BILLING_ADDRESS_REGION",
    "TITLE",
    "DEPARTMENT",
    "FAX",
    "ANNUAL_REVENUE",
    "EMPLOYEE_COUNT",
    "INDUSTRY",
}


def test_the_statements_required_information_is_mandatory_and_the_rest_optional() -> None:
    mandatory = {spec.key for spec in PROFILE_FIELDS if spec.mandatory}
    optional = {spec.key for spec in PROFILE_FIELDS if not spec.mandatory}

    assert mandatory == REQUIRED_BY_THE_STATEMENT
    assert optional == OPTIONAL


@pytest.mark.parametrize("spec", PROFILE_FIELDS, ids=lambda spec: spec.key)
def test_every_field_has_a_profile_field_name_of_the_same_key(spec: FieldSpec) -> None:
    assert ProfileFieldName[spec.key].value == spec.key


def test_there_is_no_profile_field_name_without_a_field() -> None:
    assert {member.name for member in ProfileFieldName} == {spec.key for spec in PROFILE_FIELDS}


@pytest.mark.parametrize("spec", PROFILE_FIELDS, ids=lambda spec: spec.key)
def test_a_field_is_removable_exactly_when_it_is_not_mandatory(spec: FieldSpec) -> None:
    assert spec.removable == (not spec.mandatory)


def test_keys_and_paths_name_one_field_each() -> None:
    assert len(FIELDS_BY_KEY) == len(FIELDS_BY_PATH) == len(PROFILE_FIELDS)


def test_a_key_is_the_path_in_upper_case() -> None:
    assert FIELDS_BY_PATH[("billing", "address", "postal_code")].key == (
        "BILLING_ADDRESS_POSTAL_CODE"
    )


def test_the_card_is_not_patched_with_the_other_fields() -> None:
    assert CARD_PATH not in {spec.path for spec in PATCHABLE_FIELDS}
    assert len(PATCHABLE_FIELDS) == len(PROFILE_FIELDS) - 1


@pytest.mark.parametrize("value", [None, "", " ", "\t\n  "])
def test_nothing_and_white_space_count_as_missing(value: object) -> None:
    assert missing(value)


@pytest.mark.parametrize("value", ["x", " x ", 0, False, "0"])
def test_a_value_with_something_in_it_is_not_missing(value: object) -> None:
    assert not missing(value)
