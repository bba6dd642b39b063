"""Pure checks of profile values against the field policy; every problem is reported at once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

import email_validator
import phonenumbers
import pycountry

from domain.errors import ErrorCode, FieldPath, Problem
from domain.profile.card import luhn_valid
from domain.profile.model import Money
from domain.profile.policy import FieldKind, FieldSpec, missing, required_problem

_COUNTRY_CODES = frozenset(c.alpha_2 for c in pycountry.countries)
_CURRENCY_CODES = frozenset(c.alpha_3 for c in pycountry.currencies)
_DIGIT_RUN = re.compile(r"\d(?:[ \-]?\d){12,}")
# Characters that reorder how text is displayed, used to disguise names and addresses.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_fields(
    specs: Iterable[FieldSpec],
    values: Mapping[FieldPath, object],
    *,
    phone_region: str | None = None,
) -> tuple[dict[FieldPath, object], list[Problem]]:
    """Check ``values[spec.path]`` for each spec; return the normalised values and the problems.

    A missing value is a problem only for a mandatory field; for an optional one it means "none".
    ``phone_region`` lets phone numbers be written without their country prefix.
    """
    normalised: dict[FieldPath, object] = {}
    problems: list[Problem] = []
    for spec in specs:
        raw = values.get(spec.path)
        if missing(raw):
            if spec.mandatory:
                problems.append(required_problem(spec.path))
            else:
                normalised[spec.path] = None
            continue
        if spec.kind is FieldKind.MONEY:
            money, money_problems = _check_money(spec, raw)
            problems += money_problems
            if not money_problems:
                normalised[spec.path] = money
            continue
        value, problem = _check(spec, raw, phone_region)
        if problem is not None:
            problems.append(Problem(spec.path, *problem))
        else:
            normalised[spec.path] = value
    return normalised, problems


def _check(
    spec: FieldSpec, raw: object, phone_region: str | None
) -> tuple[object, tuple[ErrorCode, str] | None]:
    if spec.kind is FieldKind.INTEGER:
        return _check_integer(spec, raw)
    if not isinstance(raw, str):
        return None, (ErrorCode.INVALID, "Expected text.")
    text = raw.strip()
    if spec.max_length is not None and len(text) > spec.max_length:
        return None, (ErrorCode.TOO_LONG, f"At most {spec.max_length} characters.")
    if any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in text):
        return None, (ErrorCode.INVALID, "Control characters are not allowed.")
    if spec.kind in (FieldKind.TEXT, FieldKind.POSTAL_CODE) and holds_card_number(text):
        return None, (
            ErrorCode.INVALID,
            "This looks like a payment card number; card numbers go only in the card field.",
        )
    if spec.kind is FieldKind.EMAIL:
        return check_email(text)
    if spec.kind is FieldKind.PHONE:
        return _check_phone(text, phone_region)
    if spec.kind is FieldKind.COUNTRY:
        code = text.upper()
        if code not in _COUNTRY_CODES:
            return None, (ErrorCode.INVALID_COUNTRY, "Use an ISO 3166-1 alpha-2 code such as GB.")
        return code, None
    return text, None


def holds_card_number(text: str) -> bool:
    """Whether free text contains what passes for a card number (PCI: it must not be kept)."""
    for run in _DIGIT_RUN.findall(text):
        digits = re.sub(r"[ \-]", "", run)
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def check_email(text: str) -> tuple[str | None, tuple[ErrorCode, str] | None]:
    """Syntax only (no DNS look-up); the address is kept lower-cased so it is unique once."""
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None, (ErrorCode.INVALID_EMAIL, "This is not a valid e-mail address.")
    return result.normalized.lower(), None


def _check_phone(text: str, region: str | None) -> tuple[str | None, tuple[ErrorCode, str] | None]:
    invalid = (
        ErrorCode.INVALID_PHONE,
        "This is not a valid phone number; include the country code, e.g. +44 20 7946 0958.",
    )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, invalid
    if not phonenumbers.is_valid_number(number):
        return None, invalid
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _check_integer(spec: FieldSpec, raw: object) -> tuple[object, tuple[ErrorCode, str] | None]:
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None, (ErrorCode.INVALID, "Expected a whole number.")
    if (spec.min_value is not None and raw < spec.min_value) or (
        spec.max_value is not None and raw > spec.max_value
    ):
        return None, (ErrorCode.OUT_OF_RANGE, f"Must be between {_range(spec)}.")
    return raw, None


def _check_money(spec: FieldSpec, raw: object) -> tuple[Money | None, list[Problem]]:
    if not isinstance(raw, Money):
        return None, [Problem(spec.path, ErrorCode.INVALID, "Expected an amount and a currency.")]
    problems: list[Problem] = []
    amount_at, currency_at = (*spec.path, "amount"), (*spec.path, "currency")
    try:
        amount = Decimal(raw.amount)
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        problems.append(Problem(amount_at, ErrorCode.INVALID, "Expected a decimal amount."))
    elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
        problems.append(
            Problem(amount_at, ErrorCode.INVALID, "At most two decimal places, e.g. 1250.50.")
        )
    elif (spec.min_value is not None and amount < spec.min_value) or (
        spec.max_value is not None and amount > spec.max_value
    ):
        problems.append(
            Problem(amount_at, ErrorCode.OUT_OF_RANGE, f"Must be between {_range(spec)}.")
        )
    currency = raw.currency.strip().upper() if isinstance(raw.currency, str) else ""
    if currency not in _CURRENCY_CODES:
        problems.append(
            Problem(
                currency_at,
                ErrorCode.INVALID_CURRENCY,
                "Use an ISO 4217 currency code such as EUR.",
            )
        )
    if problems or amount is None:
        return None, problems
    # Kept with two decimal places, as the database keeps it, so every reader sees the same.
    return Money(amount.quantize(Decimal("0.01")), currency), []


def _range(spec: FieldSpec) -> str:
    return f"{spec.min_value:,} and {spec.max_value:,}"
