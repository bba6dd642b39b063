"""The password rules: long enough, not too long, and not one that is easily guessed."""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import ErrorCode, FieldPath, Problem

MIN_LENGTH = 12
MAX_LENGTH = 128
# zxcvbn's scale: 0-2 are guessable within an online attacker's budget.
MIN_STRENGTH = 3
# zxcvbn is slow on long inputs, so only this many leading characters are scored.
_SCORED_PREFIX = 64


def personal_words(email: object, name: object, company: object) -> list[str]:
    """What a password must not be built from: the address, its local part, each word of the
    name and of the company name (zxcvbn matches these only as whole words)."""
    words: list[str] = []
    if isinstance(email, str) and email.strip():
        words += [email.strip().lower(), email.strip().lower().split("@")[0]]
    for text in (name, company):
        if isinstance(text, str):
            words += [word for word in text.lower().split() if len(word) > 2]
    return words


def check_password(
    password: object, path: FieldPath, personal: Sequence[str] = ()
) -> list[Problem]:
    """Problems with a new password; ``personal`` holds words it must not be built from."""
    if not isinstance(password, str) or not password:
        return [Problem(path, ErrorCode.REQUIRED, "A password is required.")]
    if len(password) < MIN_LENGTH:
        return [
            Problem(path, ErrorCode.PASSWORD_TOO_SHORT, f"Use at least {MIN_LENGTH} characters.")
        ]
    if len(password) > MAX_LENGTH:
        return [Problem(path, ErrorCode.PASSWORD_TOO_LONG, f"Use at most {MAX_LENGTH} characters.")]
    inputs = [word for word in personal if word]
    # Imported on first use: its dictionaries take about 12 MiB, which a process that never
    # judges a new password (most of a fleet's requests read) need not hold.
    from zxcvbn import zxcvbn

    if zxcvbn(password[:_SCORED_PREFIX], user_inputs=inputs)["score"] < MIN_STRENGTH:
        return [
            Problem(
                path,
                ErrorCode.PASSWORD_TOO_COMMON,
                "This password is too common or too easy to guess; try a longer phrase.",
            )
        ]
    return []
