"""profileFields: the field policy, published so a front end renders the form from it."""

from __future__ import annotations

import strawberry

from api.customer.field_names import ProfileFieldNameEnum
from api.errors import camel
from domain.profile.policy import PROFILE_FIELDS, FieldKind, FieldSpec

ProfileFieldKind = strawberry.enum(FieldKind, name="ProfileFieldKind")


@strawberry.type(description="One profile field and the rules the service enforces on it.")
class ProfileField:
    name: ProfileFieldNameEnum  # type: ignore[valid-type]
    path: list[str] = strawberry.field(description="Where it sits in the input, in GraphQL names.")
    mandatory: bool
    removable: bool = strawberry.field(
        description="Whether removeOptionalInformation may clear it."
    )
    kind: ProfileFieldKind  # type: ignore[valid-type]
    max_length: int | None
    min_value: int | None
    max_value: float | None = strawberry.field(description="Upper bound for numbers and amounts.")

    @classmethod
    def of(cls, spec: FieldSpec) -> ProfileField:
        return cls(
            name=ProfileFieldNameEnum[spec.key],
            path=[camel(part) for part in spec.path],
            mandatory=spec.mandatory,
            removable=spec.removable,
            kind=spec.kind,
            max_length=spec.max_length,
            min_value=spec.min_value,
            max_value=spec.max_value,
        )


_FIELDS = [ProfileField.of(spec) for spec in PROFILE_FIELDS]


@strawberry.field(description="Every profile field with its rules; no sign-in needed.")
def profile_fields() -> list[ProfileField]:
    return _FIELDS
