"""Bringing a database to the current schema, once even when several replicas start together."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from persistence.database import create_engine, is_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"
# An arbitrary constant that names "datarights migrations" among PostgreSQL advisory locks.
_ADVISORY_LOCK_KEY = 0x6461746172_6967


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(url: str) -> None:
    """Apply every pending migration. On PostgreSQL an advisory lock makes replicas that start
    together take turns, so the second finds nothing left to do."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            if not is_sqlite(url):
                await conn.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
                await conn.commit()
            try:
                await conn.run_sync(_upgrade)
                await conn.commit()
            finally:
                if not is_sqlite(url):
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                    )
                    await conn.commit()
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def pending(url: str) -> bool:
    """True when the database is not at the latest revision (or has never been migrated)."""
    engine = create_engine(url, pool_size=1)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
    return current != head
