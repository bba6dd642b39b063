"""Inputs shared by the profile operations. Mandatory fields are nullable here on purpose: the
field policy, not the GraphQL type system, decides, so every problem comes back at once as a
``UserError`` (see ``profileFields``)."""

from __future__ import annotations

import decimal
from typing import Any

import strawberry

from domain.errors import FieldPath
from domain.profile.card import CardForm
from domain.profile.model import Money


@strawberry.input(description="A postal address; line1, city, postalCode and country are required.")
class AddressInput:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2.")


@strawberry.input(
    description=(
        "A payment card; every part is required. The number and code go to the card vault only."
    )
)
class PaymentCardInput:
    number: str | None = strawberry.field(
        default=None, description="Digits; spaces and dashes are ignored."
    )
    exp_month: int | None = None
    exp_year: int | None = strawberry.field(default=None, description="Four digits.")
    cvc: str | None = None

    def form(self) -> CardForm:
        return CardForm(self.number, self.exp_month, self.exp_year, self.cvc)


@strawberry.input(description="An amount and its ISO 4217 currency.")
class MoneyInput:
    amount: decimal.Decimal
    currency: str

    def money(self) -> Money:
        return Money(self.amount, self.currency)


def address_values(prefix: FieldPath, address: AddressInput | None) -> dict[FieldPath, Any]:
    if address is None:
        return {}
    return {
        (*prefix, name): getattr(address, name)
        for name in ("line1", "line2", "city", "region", "postal_code", "country")
    }
