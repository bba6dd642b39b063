"""Whether this process can serve: the database answers, and its schema is one this code
knows how to use."""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import Timeouts, create_unpooled_engine, is_unavailable

log = logging.getLogger("datarights.readiness")

UNREACHABLE = "the database cannot be reached"
TOO_SLOW = "the database did not answer in time"
FAILED = "the database check failed"
BEHIND = "the database schema is behind this release; run `datarights migrate`"


VERSIONS = Path(__file__).parent / "migrations" / "versions"


@cache
def known_revisions() -> tuple[str | None, frozenset[str]]:
    """This release's head revision and every revision it knows, read from the migration files'
    ``revision`` and ``down_revision`` assignments rather than by Alembic, which would import
    every migration and keep some 11 MiB in each serving process for a probe
    (tests/persistence/test_readiness.py holds this equal to Alembic's own reading)."""
    parents: dict[str, str | None] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        values = dict(_assignments(ast.parse(path.read_text(encoding="utf-8"))))
        if "revision" in values:
            parents[str(values["revision"])] = values.get("down_revision")
    children = {parent for parent in parents.values() if parent is not None}
    heads = [revision for revision in parents if revision not in children]
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return (heads[0] if heads else None), frozenset(parents)


def _assignments(module: ast.Module) -> Iterator[tuple[str, str | None]]:
    """A migration's module-level ``revision`` and ``down_revision`` (annotated or not)."""
    for node in module.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            yield target.id, ast.literal_eval(value)


class ReadinessCheck:
    """Asks the database on a connection of its own, so that a pool busy with requests neither
    delays the answer nor makes a loaded replica look unready."""

    def __init__(self, url: str, within_seconds: float) -> None:
        self._within = within_seconds
        self._engine = create_unpooled_engine(
            url, Timeouts(connect=within_seconds, statement=within_seconds, pool=within_seconds)
        )

    async def unready_reason(self) -> str | None:
        """None when a ``SELECT 1`` and the schema's revision come back in time and no
        migration of this release is pending; else why not, in words safe to publish."""
        return await unready_reason(self._engine, self._within)


async def unready_reason(engine: AsyncEngine, within_seconds: float) -> str | None:
    """None when a ``SELECT 1`` and the schema's revision come back within ``within_seconds``
    and no migration of this release is pending; else why not, in words safe to publish."""
    try:
        async with asyncio.timeout(within_seconds), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await conn.run_sync(_current_revision)
    except TimeoutError:
        return TOO_SLOW
    except Exception as error:
        if is_unavailable(error):
            return UNREACHABLE
        # A wrong password, a missing database: not ready either, and the log says what.
        log.warning("readiness check failed: %s", type(error).__name__)
        return FAILED
    head, known = known_revisions()
    # A revision this code does not know is a newer release's: during a rolling upgrade the
    # migrations stay compatible with the release before, so this one can still serve.
    if current == head or (current is not None and current not in known):
        return None
    return BEHIND


def _current_revision(connection: Connection) -> str | None:
    """The revision Alembic recorded (its ``alembic_version`` table), None before the first."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
