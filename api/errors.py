"""One error contract: expected failures are ``UserError``s in the payload; authentication,
authorisation and bad requests are top-level errors with ``extensions.code``; anything else is
masked to a generic message."""

from __future__ import annotations

import re
from collections.abc import Iterable

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError, ErrorCode, FieldPath, Problem

UserErrorCode = strawberry.enum(
    ErrorCode, name="UserErrorCode", description="Why input was refused."
)


@strawberry.type(description="An expected refusal: what is wrong, where in the input, and why.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="The path inside `input` in GraphQL names; null for the call as a whole."
    )
    code: UserErrorCode  # type: ignore[valid-type]
    message: str


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def graphql_path(path: FieldPath) -> list[str] | None:
    return [camel(part) for part in path] or None


def user_errors(problems: Iterable[Problem]) -> list[UserError]:
    return [
        UserError(field=graphql_path(p.field), code=p.code, message=p.message) for p in problems
    ]


def from_domain(error: DomainError) -> list[UserError]:
    return user_errors(error.problems)


class RequestError(GraphQLError):
    """A deliberate top-level error; its message and code reach the client as they are."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class Unauthenticated(RequestError):
    code = "UNAUTHENTICATED"


class Forbidden(RequestError):
    code = "FORBIDDEN"


def is_deliberate(error: GraphQLError) -> bool:
    """Errors the client may read: validation of the document, and our own refusals."""
    original = error.original_error
    if original is None:
        return True
    if isinstance(original, GraphQLError):
        return bool(original.extensions and original.extensions.get("code"))
    return False


# GraphQL-core echoes submitted values in coercion errors, which may hold a card number or a
# password: keep the location and the reason, drop the value.
_VARIABLE_VALUE = re.compile(r"^(Variable '\$\w+') got invalid value .*?((?: at '[\w.\[\]]+')?; )")
_EXPECTED_VALUE = re.compile(r"(cannot represent[^:]*?)(?: value)?: .*$", re.DOTALL)
_LONG_DIGITS = re.compile(r"\d(?:[ \-]?\d){7,}")


def redact(message: str) -> str:
    message = _VARIABLE_VALUE.sub(r"\1 got an invalid value\2", message)
    message = _EXPECTED_VALUE.sub(r"\1 the value given.", message)
    return _LONG_DIGITS.sub("[redacted]", message)
