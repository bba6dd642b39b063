"""Whether this process can serve: the database answers, and its schema is one this code
knows how to use."""

from __future__ import annotations

import asyncio
import logging
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import Timeouts, create_unpooled_engine, is_unavailable
from persistence.migrate import alembic_config

log = logging.getLogger("datarights.readiness")

UNREACHABLE = "the database cannot be reached"
TOO_SLOW = "the database did not answer in time"
FAILED = "the database check failed"
BEHIND = "the database schema is behind this release; run `datarights migrate`"


@cache
def _revisions() -> tuple[str | None, frozenset[str]]:
    script = ScriptDirectory.from_config(alembic_config())
    return script.get_current_head(), frozenset(r.revision for r in script.walk_revisions())


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
    head, known = _revisions()
    # A revision this code does not know is a newer release's: during a rolling upgrade the
    # migrations stay compatible with the release before, so this one can still serve.
    if current == head or (current is not None and current not in known):
        return None
    return BEHIND


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
