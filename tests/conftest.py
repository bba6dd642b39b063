"""Fixtures: each API test runs once on SQLite and once on PostgreSQL, in fresh databases."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import build_dependencies, close_dependencies, create_app
from api.settings import Settings
from domain.dependencies import Dependencies
from persistence.append_only import APPEND_ONLY_TABLES, create_statements, drop_statements
from persistence.migrate import upgrade
from persistence.rate_limits import WindowRateLimiter
from persistence.tables import metadata
from tests import backends
from tests.graphql import GraphQLClient

BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header() -> list[str]:
    pg = backends.reachable(backends.POSTGRES_ADMIN_URL, 5432)
    redis = backends.reachable(backends.REDIS_URL, 6379)
    return [
        f"datarights backends: PostgreSQL {'reachable' if pg else 'NOT reachable (tests skipped)'}"
        f", Redis {'reachable' if redis else 'NOT reachable (tests skipped)'}"
        + (", skips are failures" if backends.REQUIRE_ALL else "")
    ]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(backend: str) -> AsyncIterator[str]:
    """A freshly migrated database for this run on the given backend."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="datarights-test-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'test.db'}"
            await upgrade(url)
            yield url
        return
    if not backends.reachable(backends.POSTGRES_ADMIN_URL, 5432):
        backends.unavailable("PostgreSQL")
    name = await backends.create_postgres_database()
    url = backends.postgres_url(name)
    try:
        await upgrade(url)
        yield url
    finally:
        await backends.drop_postgres_database(name)


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "database_pool_size": 5,
        # Cheap hashes keep the suite fast; production parameters are tested separately.
        "argon2_memory_kib": 8,
        "argon2_time_cost": 1,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
async def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture(scope="session")
async def deps(settings: Settings) -> AsyncIterator[Dependencies]:
    deps = build_dependencies(settings)
    yield deps
    await close_dependencies(deps)


async def empty_every_table(engine: AsyncEngine) -> None:
    """Delete every row, the append-only ledger's included (its triggers are lifted for it)."""
    async with engine.begin() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            names = ", ".join(table.name for table in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names}"))  # TRUNCATE fires no row triggers
            return
        for table in APPEND_ONLY_TABLES:
            for statement in drop_statements(dialect, table):
                await conn.execute(text(statement))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        for table in APPEND_ONLY_TABLES:
            for statement in create_statements(dialect, table):
                await conn.execute(text(statement))


def engine_of(deps: Dependencies) -> AsyncEngine:
    return deps.unit_of_work.engine  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
async def engine(deps: Dependencies) -> AsyncIterator[AsyncEngine]:
    """The test's database, emptied (and the rate limits forgotten) after each test."""
    engine = engine_of(deps)
    yield engine
    await empty_every_table(engine)
    assert isinstance(deps.limiter, WindowRateLimiter)
    await deps.limiter.reset()


@pytest.fixture
async def client(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, deps)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at the level the service runs at (INFO), from every logger."""
    caplog.set_level(logging.INFO)
    return caplog


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused call wrote nothing."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = (await conn.execute(table.select())).all()
            tables[table.name] = sorted(tuple(map(repr, row)) for row in rows)
        await conn.execute(text("SELECT 1"))
    return tables


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.current = datetime.now(UTC)

    def now(self) -> Any:
        return self.current

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.current += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def timed_client(
    settings: Settings, deps: Dependencies, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[GraphQLClient]:
    """A client of an app whose clock the test controls."""
    import dataclasses

    app = create_app(settings, dataclasses.replace(deps, clock=clock))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
