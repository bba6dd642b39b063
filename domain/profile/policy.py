"""The field policy: which profile fields are mandatory, their kinds and limits, as data.

The same object validates input and is published (``profileFields``) so that a form can be
rendered from the rules the domain enforces.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import ErrorCode, FieldPath, Problem


class FieldKind(enum.Enum):
    TEXT = "TEXT"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    COUNTRY = "COUNTRY"
    POSTAL_CODE = "POSTAL_CODE"
    INTEGER = "INTEGER"
    MONEY = "MONEY"
    PAYMENT_CARD = "PAYMENT_CARD"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the profile: where it is, what it holds, and whether it may be left empty."""

    path: FieldPath
    kind: FieldKind
    mandatory: bool
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None

    @property
    def removable(self) -> bool:
        return not self.mandatory

    @property
    def key(self) -> str:
        """A stable upper-case name, e.g. ``BILLING_ADDRESS_POSTAL_CODE``."""
        return "_".join(self.path).upper()


def _address(prefix: FieldPath) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec((*prefix, "line1"), FieldKind.TEXT, True, max_length=200),
        FieldSpec((*prefix, "line2"), FieldKind.TEXT, False, max_length=200),
        FieldSpec((*prefix, "city"), FieldKind.TEXT, True, max_length=100),
        FieldSpec((*prefix, "region"), FieldKind.TEXT, False, max_length=100),
        FieldSpec((*prefix, "postal_code"), FieldKind.POSTAL_CODE, True, max_length=20),
        FieldSpec((*prefix, "country"), FieldKind.COUNTRY, True, max_length=2),
    )


# The statement: "We require ... name, company name, address, phone number, and email address,
# ... billing name and address, credit card number, and the number of users"; "we may also ask
# for ... title, department name, fax number, ... annual revenues, number of employees, or
# industry. Customers can opt out of providing this additional information".
PROFILE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(("email",), FieldKind.EMAIL, True, max_length=254),
    FieldSpec(("name",), FieldKind.TEXT, True, max_length=200),
    FieldSpec(("company_name",), FieldKind.TEXT, True, max_length=200),
    *_address(("address",)),
    FieldSpec(("phone",), FieldKind.PHONE, True, max_length=32),
    FieldSpec(("billing", "name"), FieldKind.TEXT, True, max_length=200),
    *_address(("billing", "address")),
    FieldSpec(
        ("billing", "organization_users"), FieldKind.INTEGER, True, min_value=1, max_value=100_000
    ),
    FieldSpec(("billing", "card"), FieldKind.PAYMENT_CARD, True),
    FieldSpec(("title",), FieldKind.TEXT, False, max_length=100),
    FieldSpec(("department",), FieldKind.TEXT, False, max_length=100),
    FieldSpec(("fax",), FieldKind.PHONE, False, max_length=32),
    FieldSpec(("annual_revenue",), FieldKind.MONEY, False, min_value=0, max_value=10**15 - 1),
    FieldSpec(("employee_count",), FieldKind.INTEGER, False, min_value=1, max_value=10_000_000),
    FieldSpec(("industry",), FieldKind.TEXT, False, max_length=100),
)

FIELDS_BY_PATH: Mapping[FieldPath, FieldSpec] = {spec.path: spec for spec in PROFILE_FIELDS}
FIELDS_BY_KEY: Mapping[str, FieldSpec] = {spec.key: spec for spec in PROFILE_FIELDS}

# The card is validated by the card rules and replaced only through its own use case.
CARD_PATH: FieldPath = ("billing", "card")
PATCHABLE_FIELDS: tuple[FieldSpec, ...] = tuple(s for s in PROFILE_FIELDS if s.path != CARD_PATH)

ProfileFieldName = enum.Enum(  # type: ignore[misc]
    "ProfileFieldName", {spec.key: spec.key for spec in PROFILE_FIELDS}
)
ProfileFieldName.__doc__ = "Every field of the profile, by its stable upper-case name."


def missing(value: object) -> bool:
    """Absent, or a string with nothing but white space in it."""
    return value is None or (isinstance(value, str) and not value.strip())


def required_problem(path: FieldPath) -> Problem:
    return Problem(path, ErrorCode.REQUIRED, "This information is required and cannot be empty.")
