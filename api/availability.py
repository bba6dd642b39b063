"""The database going away is neither the client's mistake nor a fault to hide: the client is
told plainly to try again shortly (``SERVICE_UNAVAILABLE``), and the log says so once."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from persistence.database import is_unavailable

__all__ = ["UNAVAILABLE_CODE", "UNAVAILABLE_MESSAGE", "MaskFaults", "is_unavailable"]

UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable; try again shortly."

log = logging.getLogger("datarights.availability")


def unavailable_error(error: GraphQLError) -> GraphQLError:
    """``error`` said as the outage it is, where it happened, without the driver's words."""
    return GraphQLError(
        UNAVAILABLE_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": UNAVAILABLE_CODE},
    )


class MaskFaults(MaskErrors):
    """Masks our faults to a generic message, except an unreachable database, which the client
    can do something about: wait and retry."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if is_unavailable(error.original_error):
            return unavailable_error(error)
        return super().anonymise_error(error)


def log_unavailable(errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    """Log, once for the request, which fields the outage refused; returns the other errors.
    Only the kind of failure is logged: never a statement's parameters nor the server's URL."""
    down = [e for e in errors if is_unavailable(e.original_error)]
    if down:
        fields = sorted({".".join(str(p) for p in e.path or ()) or "the request" for e in down})
        log.warning(
            "database unavailable (%s): refused %s",
            _cause(down[0].original_error),
            ", ".join(fields),
        )
    return [e for e in errors if not is_unavailable(e.original_error)]


def _cause(error: BaseException | None) -> str:
    """The name of the deepest exception in the chain that says the database is unavailable,
    e.g. ConnectionRefusedError or asyncpg.exceptions.ConnectionDoesNotExistError."""
    seen: set[int] = set()
    name = "unknown"
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if is_unavailable(error):
            # The last one found is the deepest: those above it are unavailable through it.
            kind = type(error)
            name = kind.__name__
            if kind.__module__ != "builtins":
                name = f"{kind.__module__}.{kind.__qualname__}"
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return name
