"""A profile as a flat mapping of field paths, and back."""

from __future__ import annotations

import dataclasses

from domain.profile.model import PostalAddress, Profile
from domain.profile.policy import CARD_PATH, PROFILE_FIELDS
from domain.profile.values import build_profile, profile_values
from tests.unit.examples import full_profile


def bare_profile() -> Profile:
    """The full profile with every optional field left empty."""
    profile = full_profile()
    return dataclasses.replace(
        profile,
        address=PostalAddress("12 St James's Square", "London", "SW1Y 4JH", "GB"),
        title=None,
        department=None,
        fax=None,
        annual_revenue=None,
        employee_count=None,
        industry=None,
    )


def test_a_full_profile_survives_the_round_trip_through_its_values() -> None:
    profile = full_profile()

    assert build_profile(profile_values(profile)) == profile


def test_a_profile_without_optional_information_survives_the_round_trip() -> None:
    profile = bare_profile()

    assert build_profile(profile_values(profile)) == profile


def test_the_values_hold_every_field_of_the_policy_and_nothing_else() -> None:
    values = profile_values(full_profile())

    assert set(values) == {spec.path for spec in PROFILE_FIELDS}


def test_nested_fields_are_found_by_their_path() -> None:
    profile = full_profile()

    values = profile_values(profile)

    assert values[("billing", "address", "city")] == "Leeds"
    assert values[("address", "region")] == "Westminster"
    assert values[CARD_PATH] == profile.billing.card


def test_optional_fields_left_out_of_the_values_are_built_as_empty() -> None:
    values = profile_values(full_profile())
    for path in [("title",), ("fax",), ("address", "line2"), ("billing", "address", "region")]:
        del values[path]

    profile = build_profile(values)

    assert (profile.title, profile.fax, profile.address.line2, profile.billing.address.region) == (
        None,
        None,
        None,
        None,
    )
