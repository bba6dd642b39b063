"""Valid inputs to start from, in the domain's own shapes; each test changes only what it is
about."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from domain.errors import ErrorCode, FieldPath, Problem
from domain.identity.model import ClientInfo
from domain.profile.card import CardForm
from domain.profile.model import Billing, Money, PaymentCard, PostalAddress, Profile

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet kettle drums at noon"
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")
# The fake clock starts in June 2030; cards expire a few years after.
EXP_YEAR = 2033


def registration_values() -> dict[FieldPath, object]:
    """Every mandatory field of a registration, as a customer might type them."""
    return {
        ("email",): "Ada@Example.com",
        ("name",): "Ada Lovelace",
        ("company_name",): "Analytical Engines Ltd",
        ("address", "line1"): "12 St James's Square",
        ("address", "city"): "London",
        ("address", "postal_code"): "SW1Y 4JH",
        ("address", "country"): "gb",
        ("phone",): "+44 20 7946 0958",
        ("billing", "name"): "Analytical Engines Ltd",
        ("billing", "address", "line1"): "12 St James's Square",
        ("billing", "address", "city"): "London",
        ("billing", "address", "postal_code"): "SW1Y 4JH",
        ("billing", "address", "country"): "GB",
        ("billing", "organization_users"): 12,
    }


def card_form(number: str = VISA, cvc: str = "123") -> CardForm:
    return CardForm(number=number, exp_month=12, exp_year=EXP_YEAR, cvc=cvc)


def full_profile() -> Profile:
    """A profile with every optional field filled in."""
    return Profile(
        email="ada@example.com",
        name="Ada Lovelace",
        company_name="Analytical Engines Ltd",
        address=PostalAddress(
            line1="12 St James's Square",
            line2="First floor",
            city="London",
            region="Westminster",
            postal_code="SW1Y 4JH",
            country="GB",
        ),
        phone="+442079460958",
        billing=Billing(
            name="Analytical Engines Ltd",
            address=PostalAddress(
                line1="1 Accounts Lane", city="Leeds", postal_code="LS1 1AA", country="GB"
            ),
            organization_users=12,
            card=PaymentCard("card_test", "VISA", "4242", 12, EXP_YEAR),
        ),
        title="Countess",
        department="Mathematics",
        fax="+442079460959",
        annual_revenue=Money(Decimal("1250000.50"), "GBP"),
        employee_count=40,
        industry="Computing",
    )


def reported(problems: Iterable[Problem]) -> set[tuple[FieldPath, ErrorCode]]:
    """The problems as (field, code) pairs: what a caller acts on."""
    return {(p.field, p.code) for p in problems}
