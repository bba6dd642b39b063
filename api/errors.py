"""One error contract: expected failures are ``UserError``s in the payload; authentication,
authorisation and bad requests are top-level errors with ``extensions.code``; anything else is
masked to a generic message."""

from __future__ import annotations

import re
from collections.abc import Iterable

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError, ErrorCode, FieldPath, Problem, RateLimited

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


MASKED_MESSAGE = "Unexpected error."


def bad_request(message: str) -> GraphQLError:
    """A top-level refusal of the call's arguments (a cursor, a page size, a time)."""
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


def is_deliberate(error: GraphQLError) -> bool:
    """Errors the client may read: problems with the document or its variables found by
    GraphQL itself, and our own refusals. Anything else is a fault of ours, to be masked."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | RateLimited)


def refusal_extensions(original: BaseException | None) -> dict[str, object]:
    """The ``extensions`` of a top-level refusal that a use case raised (not GraphQL itself):
    a throttled call says when the next attempt may come (``retryAfter``, in seconds)."""
    if isinstance(original, RateLimited):
        return {"code": "RATE_LIMITED", "retryAfter": original.retry_after}
    return {}


# GraphQL-core echoes submitted values in coercion errors, which may hold a card number or a
# password: keep where the problem is and why, drop the value.
_VARIABLE = re.compile(r"^Variable '\$(\w+)' got invalid value ")
_AT_PATH = re.compile(r" at '([\w.\[\]]+)'; ")
_CANNOT_REPRESENT = re.compile(r"(cannot represent[^:]*?)(?: value)?: .*$", re.DOTALL)
_FOUND = re.compile(r",? ?\b[Ff]ound: .*$", re.DOTALL)
_LONG_DIGITS = re.compile(r"\d(?:[ \-]?\d){7,}")


def redact(message: str) -> str:
    """The message without any value the client sent."""
    variable = _VARIABLE.match(message)
    if variable:
        at = _AT_PATH.search(message)
        reason = message.rsplit("; ", 1)[1] if "; " in message else "wrong type."
        where = f" at '{at.group(1)}'" if at else ""
        message = f"Variable '${variable.group(1)}' got an invalid value{where}; {reason}"
    message = _CANNOT_REPRESENT.sub(r"\1 value.", message)
    message = _FOUND.sub("", message)
    if not message.endswith((".", "?")):
        message += "."
    return _LONG_DIGITS.sub("[redacted]", message)
