"""Which real services the suite can reach, and what happens when one is missing.

Without PostgreSQL or Redis the suite still runs (on SQLite and in-memory counters) and names
every test it skipped; with DATARIGHTS_REQUIRE_ALL_BACKENDS=1 (CI) such a skip is a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "DATARIGHTS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("DATARIGHTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_ALL = os.environ.get("DATARIGHTS_REQUIRE_ALL_BACKENDS", "") not in ("", "0", "false")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def unavailable(what: str) -> None:
    """Skip (or, in CI, fail) a test whose backend is not here."""
    message = f"{what} is not reachable; this test ran on nothing"
    if REQUIRE_ALL:
        pytest.fail(f"{message} (DATARIGHTS_REQUIRE_ALL_BACKENDS is set)", pytrace=False)
    pytest.skip(message)


def postgres_url(database: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


async def create_postgres_database() -> str:
    """A fresh, uniquely named database for this run; returns its name."""
    import asyncpg

    name = f"datarights_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL.replace("+asyncpg", ""))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_postgres_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL.replace("+asyncpg", ""))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
