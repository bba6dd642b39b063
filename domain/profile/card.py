"""Payment-card rules in the spirit of PCI DSS: check the number, hand it to the vault, keep
only the token, the brand, the last four digits and the expiry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from domain.errors import ErrorCode, Problem
from domain.profile.model import PaymentCard

# (brand, prefixes as (low, high) ranges over the leading digits, valid lengths, CVC length)
_BRANDS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[int, ...], int], ...] = (
    ("AMEX", (("34", "34"), ("37", "37")), (15,), 4),
    ("VISA", (("4", "4"),), (13, 16, 19), 3),
    ("MASTERCARD", (("51", "55"), ("2221", "2720")), (16,), 3),
    ("DISCOVER", (("6011", "6011"), ("644", "649"), ("65", "65")), (16, 17, 18, 19), 3),
    ("DINERS", (("300", "305"), ("36", "36"), ("38", "39")), (14, 15, 16, 17, 18, 19), 3),
    ("JCB", (("3528", "3589"),), (16, 17, 18, 19), 3),
    ("UNIONPAY", (("62", "62"),), (16, 17, 18, 19), 3),
)
_SEPARATORS = re.compile(r"[ \-]")
_MAX_YEARS_AHEAD = 20


@dataclass(frozen=True, slots=True)
class CardDetails:
    """A checked card on its way to the vault. Its number and code never reach a repr or a log."""

    number: str = field(repr=False)
    cvc: str = field(repr=False)
    brand: str
    exp_month: int
    exp_year: int

    @property
    def last4(self) -> str:
        return self.number[-4:]

    def kept_as(self, vault_token: str) -> PaymentCard:
        """What the product stores once the vault holds the number."""
        return PaymentCard(vault_token, self.brand, self.last4, self.exp_month, self.exp_year)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum that every card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> tuple[str, tuple[int, ...], int] | None:
    """The brand, valid lengths and CVC length for a number, from its leading digits."""
    for brand, ranges, lengths, cvc_length in _BRANDS:
        for low, high in ranges:
            head = digits[: len(low)]
            if len(head) == len(low) and low <= head <= high:
                return brand, lengths, cvc_length
    return None


def check_card(
    number: object, exp_month: object, exp_year: object, cvc: object, today: date
) -> tuple[CardDetails | None, list[Problem]]:
    """Every problem with the card at once, or the checked details. Messages never echo input."""
    problems: list[Problem] = []
    digits = _SEPARATORS.sub("", number) if isinstance(number, str) else None
    found = card_brand(digits) if digits and digits.isascii() and digits.isdigit() else None
    # The code's length follows the brand the number looks like, even when the number itself
    # is mistyped, so a right code is not reported wrong alongside a wrong number.
    cvc_length = found[2] if found else 3
    brand: str | None = None
    if number is None or digits == "":
        problems.append(Problem(("number",), ErrorCode.REQUIRED, "The card number is required."))
    elif digits is None or not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        problems.append(_invalid_number())
    elif found is None:
        problems.append(
            Problem(
                ("number",),
                ErrorCode.CARD_BRAND_UNSUPPORTED,
                "Cards of this brand are not accepted.",
            )
        )
    elif len(digits) not in found[1] or not luhn_valid(digits):
        problems.append(_invalid_number())
    else:
        brand = found[0]
    problems += _check_expiry(exp_month, exp_year, today)
    if cvc is None or cvc == "":
        problems.append(Problem(("cvc",), ErrorCode.REQUIRED, "The security code is required."))
    elif not (isinstance(cvc, str) and cvc.isascii() and cvc.isdigit() and len(cvc) == cvc_length):
        problems.append(
            Problem(
                ("cvc",),
                ErrorCode.CARD_CVC_INVALID,
                f"The security code is the {cvc_length} digits printed on the card.",
            )
        )
    if problems or brand is None or digits is None:
        return None, problems
    assert isinstance(exp_month, int) and isinstance(exp_year, int) and isinstance(cvc, str)
    return CardDetails(digits, cvc, brand, exp_month, exp_year), []


def _invalid_number() -> Problem:
    return Problem(("number",), ErrorCode.CARD_NUMBER_INVALID, "This is not a valid card number.")


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_expiry(month: object, year: object, today: date) -> list[Problem]:
    problems: list[Problem] = []
    for name, value in (("exp_month", month), ("exp_year", year)):
        if value is None:
            problems.append(Problem((name,), ErrorCode.REQUIRED, "The expiry date is required."))
    if problems:
        return problems
    if not _whole_number(month) or not 1 <= month <= 12:  # type: ignore[operator]
        problems.append(
            Problem(("exp_month",), ErrorCode.OUT_OF_RANGE, "The month is a number from 1 to 12.")
        )
    if not _whole_number(year) or not (
        today.year - 50 <= year <= today.year + _MAX_YEARS_AHEAD  # type: ignore[operator]
    ):
        problems.append(
            Problem(("exp_year",), ErrorCode.OUT_OF_RANGE, "Give the year in four digits.")
        )
    if not problems:
        assert isinstance(month, int) and isinstance(year, int)
        if (year, month) < (today.year, today.month):
            problems.append(
                Problem(("exp_year",), ErrorCode.CARD_EXPIRED, "This card has expired.")
            )
    return problems


@dataclass(frozen=True, slots=True)
class CardForm:
    """A card as the customer typed it, before any check."""

    number: object = field(repr=False)
    exp_month: object
    exp_year: object
    cvc: object = field(repr=False)

    def check(self, today: date) -> tuple[CardDetails | None, list[Problem]]:
        return check_card(self.number, self.exp_month, self.exp_year, self.cvc, today)
