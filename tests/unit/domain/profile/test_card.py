"""The card rules: checksum, brand, length, security code and expiry, all reported at once."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import ErrorCode
from domain.profile.card import CardDetails, CardForm, check_card, luhn_valid
from tests.unit.examples import reported

TODAY = date(2030, 6, 15)
KNOWN_TEST_NUMBERS = [
    ("4242424242424242", "VISA"),
    ("5555555555554444", "MASTERCARD"),
    ("378282246310005", "AMEX"),
    ("6011111111111117", "DISCOVER"),
    ("3530111333300000", "JCB"),
    ("30569309025904", "DINERS"),
]
NUMBER = ("number",)
# Full-width digits are digits to str.isdigit, but not ASCII ones.
FULL_WIDTH_VISA = "".join(chr(0xFF10 + int(d)) for d in "4242424242424242")


def luhn_complete(partial: str) -> str:
    """``partial`` followed by the check digit that makes it pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return partial + str(-total % 10)


def check(
    number: object = "4242424242424242",
    exp_month: object = 12,
    exp_year: object = 2033,
    cvc: object = "123",
    today: date = TODAY,
) -> tuple[CardDetails | None, set[tuple[tuple[str, ...], ErrorCode]]]:
    details, problems = check_card(number, exp_month, exp_year, cvc, today)
    return details, reported(problems)


def cvc_for(brand: str) -> str:
    return "1234" if brand == "AMEX" else "123"


@pytest.mark.parametrize(("number", "brand"), KNOWN_TEST_NUMBERS)
def test_known_test_numbers_pass_the_checksum(number: str, brand: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(("number", "brand"), KNOWN_TEST_NUMBERS)
def test_known_test_numbers_are_accepted_with_their_brand(number: str, brand: str) -> None:
    # when
    details, problems = check(number, cvc=cvc_for(brand))

    # then
    assert problems == set()
    assert details is not None
    assert (details.brand, details.last4) == (brand, number[-4:])


@pytest.mark.parametrize(("number", "brand"), KNOWN_TEST_NUMBERS)
def test_a_number_with_its_last_digit_changed_fails_the_checksum(number: str, brand: str) -> None:
    # given
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)

    # when
    details, problems = check(typo, cvc=cvc_for(brand))

    # then
    assert not luhn_valid(typo)
    assert details is None
    assert (NUMBER, ErrorCode.CARD_NUMBER_INVALID) in problems


def test_a_mistyped_amex_number_does_not_make_its_four_digit_code_wrong() -> None:
    # given: a real AMEX prefix and length, last digit mistyped, and the right code
    typo = "378282246310006"

    # when
    _, problems = check(typo, cvc="1234")

    # then
    assert problems == {(NUMBER, ErrorCode.CARD_NUMBER_INVALID)}


@pytest.mark.parametrize(
    "written", ["4242 4242 4242 4242", "4242-4242-4242-4242", " 4242 4242-4242 4242 "]
)
def test_spaces_and_dashes_in_the_number_are_ignored(written: str) -> None:
    details, problems = check(written)

    assert problems == set()
    assert details is not None
    assert details.number == "4242424242424242"


@pytest.mark.parametrize(
    "written",
    [
        "4242 4242 4242 424a",
        "4242.4242.4242.4242",
        "4242\t4242\t4242\t4242",
        FULL_WIDTH_VISA,
    ],
)
def test_anything_but_digits_spaces_and_dashes_is_refused(written: str) -> None:
    details, problems = check(written)

    assert details is None
    assert problems == {(NUMBER, ErrorCode.CARD_NUMBER_INVALID)}


@pytest.mark.parametrize("blank", [None, "", "  - -  "])
def test_a_missing_number_is_required(blank: object) -> None:
    _, problems = check(blank)

    assert problems == {(NUMBER, ErrorCode.REQUIRED)}


def test_a_number_given_as_a_number_rather_than_text_is_invalid() -> None:
    _, problems = check(4242424242424242)

    assert problems == {(NUMBER, ErrorCode.CARD_NUMBER_INVALID)}


def test_eleven_digits_are_too_few_for_a_card_number() -> None:
    _, problems = check(luhn_complete("9" * 10))

    assert problems == {(NUMBER, ErrorCode.CARD_NUMBER_INVALID)}


def test_twelve_digits_are_enough_to_be_judged_by_brand() -> None:
    # An unknown prefix shows that the length check let the number through.
    _, problems = check(luhn_complete("9" * 11))

    assert problems == {(NUMBER, ErrorCode.CARD_BRAND_UNSUPPORTED)}


def test_nineteen_digits_are_accepted_for_a_brand_that_issues_them() -> None:
    number = luhn_complete("4" + "0" * 17)

    details, problems = check(number)

    assert len(number) == 19
    assert problems == set()
    assert details is not None
    assert details.brand == "VISA"


def test_twenty_digits_are_too_many_for_a_card_number() -> None:
    _, problems = check(luhn_complete("4" + "0" * 18))

    assert problems == {(NUMBER, ErrorCode.CARD_NUMBER_INVALID)}


def test_a_length_the_brand_does_not_issue_is_refused() -> None:
    # Visa issues 13, 16 and 19 digits, never 15.
    _, problems = check(luhn_complete("4" + "0" * 13))

    assert problems == {(NUMBER, ErrorCode.CARD_NUMBER_INVALID)}


@pytest.mark.parametrize(
    ("prefix", "brand"),
    [
        ("2221", "MASTERCARD"),
        ("2720", "MASTERCARD"),
        ("51", "MASTERCARD"),
        ("55", "MASTERCARD"),
        ("34", "AMEX"),
        ("37", "AMEX"),
        ("6011", "DISCOVER"),
        ("644", "DISCOVER"),
        ("649", "DISCOVER"),
        ("65", "DISCOVER"),
        ("300", "DINERS"),
        ("305", "DINERS"),
        ("3528", "JCB"),
        ("3589", "JCB"),
        ("62", "UNIONPAY"),
    ],
)
def test_the_brand_is_told_by_the_leading_digits(prefix: str, brand: str) -> None:
    length = 15 if brand == "AMEX" else 16
    number = luhn_complete(prefix + "0" * (length - len(prefix) - 1))

    details, problems = check(number, cvc=cvc_for(brand))

    assert problems == set()
    assert details is not None
    assert details.brand == brand


@pytest.mark.parametrize("prefix", ["2220", "2721", "50", "56", "306", "3527", "3590", "643", "9"])
def test_leading_digits_just_outside_a_brand_are_unsupported(prefix: str) -> None:
    number = luhn_complete(prefix + "0" * (15 - len(prefix)))

    details, problems = check(number)

    assert details is None
    assert problems == {(NUMBER, ErrorCode.CARD_BRAND_UNSUPPORTED)}


@pytest.mark.parametrize(
    ("number", "cvc", "valid"),
    [
        ("378282246310005", "1234", True),
        ("378282246310005", "123", False),
        ("4242424242424242", "123", True),
        ("4242424242424242", "1234", False),
        ("4242424242424242", "12", False),
        ("4242424242424242", "12a", False),
        ("4242424242424242", 123, False),
    ],
)
def test_the_security_code_has_four_digits_on_amex_and_three_on_other_cards(
    number: str, cvc: object, valid: bool
) -> None:
    _, problems = check(number, cvc=cvc)

    assert problems == (set() if valid else {(("cvc",), ErrorCode.CARD_CVC_INVALID)})


@pytest.mark.parametrize("cvc", [None, ""])
def test_a_missing_security_code_is_required(cvc: object) -> None:
    _, problems = check("4242424242424242", cvc=cvc)

    assert problems == {(("cvc",), ErrorCode.REQUIRED)}


def test_a_missing_expiry_is_required() -> None:
    _, problems = check(exp_month=None, exp_year=None)

    assert problems == {(("exp_month",), ErrorCode.REQUIRED), (("exp_year",), ErrorCode.REQUIRED)}


def test_the_security_code_message_says_how_many_digits_amex_needs() -> None:
    _, problems = check_card("378282246310005", 12, 2033, "123", TODAY)

    assert [p.message for p in problems] == [
        "The security code is the 4 digits printed on the card."
    ]


def test_a_card_expiring_this_month_is_still_valid() -> None:
    details, problems = check(exp_month=TODAY.month, exp_year=TODAY.year)

    assert problems == set()
    assert details is not None


def test_a_card_that_expired_last_month_is_refused() -> None:
    _, problems = check(exp_month=TODAY.month - 1, exp_year=TODAY.year)

    assert problems == {(("exp_year",), ErrorCode.CARD_EXPIRED)}


def test_a_card_that_expired_in_december_is_refused_in_january() -> None:
    _, problems = check(exp_month=12, exp_year=2030, today=date(2031, 1, 1))

    assert problems == {(("exp_year",), ErrorCode.CARD_EXPIRED)}


@pytest.mark.parametrize("month", [0, 13, -1, "12"])
def test_a_month_outside_one_to_twelve_is_refused(month: object) -> None:
    _, problems = check(exp_month=month)

    assert problems == {(("exp_month",), ErrorCode.OUT_OF_RANGE)}


def test_a_boolean_is_not_a_month() -> None:
    _, problems = check(exp_month=True)

    assert problems == {(("exp_month",), ErrorCode.OUT_OF_RANGE)}


@pytest.mark.parametrize("month", [1, 12])
def test_january_and_december_are_months(month: int) -> None:
    _, problems = check(exp_month=month, exp_year=2031)

    assert problems == set()


def test_a_year_twenty_years_ahead_is_accepted() -> None:
    _, problems = check(exp_year=TODAY.year + 20)

    assert problems == set()


@pytest.mark.parametrize("year", [TODAY.year + 21, 9999, 33, "2033"])
def test_a_year_far_in_the_future_or_not_in_four_digits_is_refused(year: object) -> None:
    _, problems = check(exp_year=year)

    assert problems == {(("exp_year",), ErrorCode.OUT_OF_RANGE)}


def test_every_problem_with_the_card_is_reported_at_once() -> None:
    # when
    details, problems = check("4242 4242 4242 4241", exp_month=13, exp_year=2099, cvc="1")

    # then
    assert details is None
    assert problems == {
        (NUMBER, ErrorCode.CARD_NUMBER_INVALID),
        (("exp_month",), ErrorCode.OUT_OF_RANGE),
        (("exp_year",), ErrorCode.OUT_OF_RANGE),
        (("cvc",), ErrorCode.CARD_CVC_INVALID),
    }


def test_an_expired_card_with_a_bad_number_reports_both() -> None:
    _, problems = check("4242424242424241", exp_month=1, exp_year=2030)

    assert problems == {
        (NUMBER, ErrorCode.CARD_NUMBER_INVALID),
        (("exp_year",), ErrorCode.CARD_EXPIRED),
    }


def test_messages_never_echo_the_number_or_the_code() -> None:
    _, problems = check_card("4242 4242 4242 4241", 13, 2099, "98", TODAY)

    for problem in problems:
        assert "4242" not in problem.message
        assert "98" not in problem.message


def test_the_checked_card_is_kept_as_token_brand_last_four_and_expiry() -> None:
    details, _ = check_card("5555 5555 5555 4444", 7, 2031, "987", TODAY)
    assert details is not None

    kept = details.kept_as("card_abc")

    assert (kept.vault_token, kept.brand, kept.last4, kept.exp_month, kept.exp_year) == (
        "card_abc",
        "MASTERCARD",
        "4444",
        7,
        2031,
    )
    assert not hasattr(kept, "number")
    assert not hasattr(kept, "cvc")


def test_checked_card_details_never_show_the_number_or_the_code() -> None:
    details, _ = check_card("5555 5555 5555 4444", 7, 2031, "987", TODAY)
    assert details is not None

    for shown in (repr(details), str(details), f"{details}", repr([details])):
        assert "5555555555554444" not in shown
        assert "987" not in shown
    assert "MASTERCARD" in repr(details)


def test_a_card_form_never_shows_the_number_or_the_code() -> None:
    form = CardForm(number="5555 5555 5555 4444", exp_month=7, exp_year=2031, cvc="987")

    for shown in (repr(form), str(form), f"{form}", repr({"card": form})):
        assert "5555 5555 5555 4444" not in shown
        assert "987" not in shown
    assert "2031" in repr(form)


def test_a_card_form_checks_itself_with_the_card_rules() -> None:
    form = CardForm(number="378282246310005", exp_month=7, exp_year=2031, cvc="1234")

    details, problems = form.check(TODAY)

    assert problems == []
    assert details is not None
    assert details.brand == "AMEX"
