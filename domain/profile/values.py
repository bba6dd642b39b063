"""A profile seen as a flat mapping of field paths to values, so the policy can check and patch
it field by field, nested address and billing included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from domain.errors import FieldPath
from domain.profile.model import Billing, PaymentCard, PostalAddress, Profile
from domain.profile.policy import CARD_PATH, PROFILE_FIELDS

ProfileValues = dict[FieldPath, object]

_ADDRESS_PARTS = ("line1", "line2", "city", "region", "postal_code", "country")


def profile_values(profile: Profile) -> ProfileValues:
    """Every field of the profile by its path (the card as a :class:`PaymentCard`)."""
    values: ProfileValues = {}
    for spec in PROFILE_FIELDS:
        node: Any = profile
        for part in spec.path:
            node = getattr(node, part)
        values[spec.path] = node
    return values


def build_profile(values: Mapping[FieldPath, object]) -> Profile:
    """The inverse of :func:`profile_values`; values must already be valid."""
    v = cast(Mapping[FieldPath, Any], values)
    return Profile(
        email=v[("email",)],
        name=v[("name",)],
        company_name=v[("company_name",)],
        address=_address(v, ("address",)),
        phone=v[("phone",)],
        billing=Billing(
            name=v[("billing", "name")],
            address=_address(v, ("billing", "address")),
            organization_users=v[("billing", "organization_users")],
            card=cast(PaymentCard, v[CARD_PATH]),
        ),
        title=v.get(("title",)),
        department=v.get(("department",)),
        fax=v.get(("fax",)),
        annual_revenue=v.get(("annual_revenue",)),
        employee_count=v.get(("employee_count",)),
        industry=v.get(("industry",)),
    )


def _address(v: Mapping[FieldPath, Any], prefix: FieldPath) -> PostalAddress:
    parts: dict[str, Any] = {part: v.get((*prefix, part)) for part in _ADDRESS_PARTS}
    return PostalAddress(**parts)
