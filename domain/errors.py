"""Expected failures of use cases, as (field path, code) problems the caller can act on."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    """Why a value or a call was refused; stable names that clients switch on."""

    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    TOO_LONG = "TOO_LONG"
    TOO_SHORT = "TOO_SHORT"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"
    PASSWORD_TOO_LONG = "PASSWORD_TOO_LONG"
    PASSWORD_TOO_COMMON = "PASSWORD_TOO_COMMON"
    CARD_NUMBER_INVALID = "CARD_NUMBER_INVALID"
    CARD_BRAND_UNSUPPORTED = "CARD_BRAND_UNSUPPORTED"
    CARD_EXPIRED = "CARD_EXPIRED"
    CARD_CVC_INVALID = "CARD_CVC_INVALID"
    CARD_DECLINED = "CARD_DECLINED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    INVALID_TOKEN = "INVALID_TOKEN"
    NOT_OPTIONAL = "NOT_OPTIONAL"
    NOT_A_FIELD = "NOT_A_FIELD"
    CONFLICT = "CONFLICT"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    INVALID_STATE = "INVALID_STATE"
    EXTENSION_REFUSED = "EXTENSION_REFUSED"
    GPC_CONFLICT = "GPC_CONFLICT"
    NOTICE_TOO_SHORT = "NOTICE_TOO_SHORT"


FieldPath = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input: where (a path of field names, empty for the whole call),
    why (a code) and a sentence for people."""

    field: FieldPath
    code: ErrorCode
    message: str

    def under(self, *prefix: str) -> Problem:
        """The same problem, located inside a parent field."""
        return Problem((*prefix, *self.field), self.code, self.message)


class RateLimited(Exception):
    """Too many attempts from this caller (an IP address, or the account it names): refused
    before anything was done. ``retry_after`` is how many seconds until the next attempt may
    be made (at least 1)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        unit = "second" if self.retry_after == 1 else "seconds"
        super().__init__(f"Too many attempts; try again in {self.retry_after} {unit}.")


class DomainError(Exception):
    """A use case refused its input; nothing was written."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(
            "; ".join(f"{'.'.join(p.field) or '-'}: {p.code.value}" for p in self.problems)
        )

    @classmethod
    def single(cls, code: ErrorCode, message: str, *field: str) -> DomainError:
        """A refusal with one problem."""
        return cls([Problem(tuple(field), code, message)])
