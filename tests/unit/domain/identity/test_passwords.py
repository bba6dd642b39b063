"""The password rules: 12 to 128 characters, and not easily guessed."""

from __future__ import annotations

import random
import string

import pytest

from domain.errors import ErrorCode
from domain.identity.passwords import MAX_LENGTH, MIN_LENGTH, check_password
from tests.unit.examples import reported

PATH = ("password",)
STRONG_12 = "vT9#qLp2!xRz"


def random_password(length: int) -> str:
    """A password of ``length`` characters no dictionary knows (the same on every run)."""
    alphabet = string.ascii_letters + string.digits + string.punctuation
    return "".join(random.Random(length).choices(alphabet, k=length))


def test_the_limits_are_twelve_and_one_hundred_and_twenty_eight_characters() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (12, 128)


def test_eleven_characters_are_too_short() -> None:
    problems = check_password(STRONG_12[:11], PATH)

    assert reported(problems) == {(PATH, ErrorCode.PASSWORD_TOO_SHORT)}


def test_twelve_characters_are_enough_when_hard_to_guess() -> None:
    assert len(STRONG_12) == 12

    assert check_password(STRONG_12, PATH) == []


def test_one_hundred_and_twenty_eight_characters_are_accepted() -> None:
    assert check_password(random_password(128), PATH) == []


def test_one_hundred_and_twenty_nine_characters_are_too_long() -> None:
    problems = check_password(random_password(129), PATH)

    assert reported(problems) == {(PATH, ErrorCode.PASSWORD_TOO_LONG)}


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop123", "123456789012"])
def test_a_common_password_is_refused_although_long_enough(password: str) -> None:
    problems = check_password(password, PATH)

    assert reported(problems) == {(PATH, ErrorCode.PASSWORD_TOO_COMMON)}


@pytest.mark.parametrize("password", [None, "", 123456789012])
def test_no_password_is_required(password: object) -> None:
    problems = check_password(password, PATH)

    assert reported(problems) == {(PATH, ErrorCode.REQUIRED)}


def test_problems_are_reported_at_the_path_given() -> None:
    problems = check_password("short", ("new_password",))

    assert reported(problems) == {(("new_password",), ErrorCode.PASSWORD_TOO_SHORT)}


def test_a_password_built_from_the_customers_name_is_refused() -> None:
    # given: strong enough for a stranger
    password = "LovelaceAnalytical"
    assert check_password(password, PATH) == []

    # when
    problems = check_password(password, PATH, ["Ada", "Lovelace", "Analytical Engines Ltd"])

    # then
    assert reported(problems) == {(PATH, ErrorCode.PASSWORD_TOO_COMMON)}


def test_a_password_built_from_the_customers_email_address_is_refused() -> None:
    password = "ada.lovelace1815"
    assert check_password(password, PATH) == []

    problems = check_password(password, PATH, ["ada.lovelace@example.com", "ada.lovelace"])

    assert reported(problems) == {(PATH, ErrorCode.PASSWORD_TOO_COMMON)}


def test_empty_personal_words_are_ignored() -> None:
    assert check_password(STRONG_12, PATH, ["", ""]) == []
