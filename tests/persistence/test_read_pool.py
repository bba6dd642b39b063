"""The read pool (persistence/read_pool.py): connections of its own, at most its size, a read
that meets a dropped connection tried once more on a new one, and nothing left open on close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import Timeouts, create_engine, is_unavailable
from persistence.read_pool import ReadPool
from tests import backends

PID = "SELECT pg_backend_pid() AS pid"
TIMEOUTS = Timeouts(connect=2.0, statement=2.0, pool=0.5)


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, empty PostgreSQL database (these reads need no tables)."""
    if not backends.reachable(backends.POSTGRES_ADMIN_URL, 5432):
        backends.unavailable("PostgreSQL")
    name = await backends.create_postgres_database()
    engine = create_engine(backends.postgres_url(name), timeouts=TIMEOUTS)
    try:
        yield engine
    finally:
        await engine.dispose()
        await backends.drop_postgres_database(name)


async def on_the_side(engine: AsyncEngine, sql: str, *args: object) -> list[asyncpg.Record]:
    """``sql`` run on a connection of its own, outside the engine and the read pool."""
    url = engine.url
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        return await admin.fetch(sql, *args)
    finally:
        await admin.close()


async def backend_pids(engine: AsyncEngine) -> set[int]:
    """The server processes of the other connections to this database."""
    rows = await on_the_side(
        engine,
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        engine.url.database,
    )
    return {row["pid"] for row in rows}


async def busy_backend(engine: AsyncEngine, other_than: int | None = None) -> int:
    """The server process of the read under way (waits until the read has reached it)."""
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        rows = await on_the_side(
            engine,
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
            "AND query LIKE '%pg_sleep%' AND pid NOT IN (pg_backend_pid(), $2)",
            engine.url.database,
            other_than or 0,
        )
        if rows:
            return int(rows[0]["pid"])
        assert asyncio.get_running_loop().time() < deadline, "the read never reached the server"
        await asyncio.sleep(0.02)


async def pid_of_a_read(pool: ReadPool) -> int:
    row = await pool.fetchrow(PID)
    assert row is not None
    return int(row["pid"])


async def test_a_read_connects_as_the_engine_does_and_keeps_its_connection(
    engine: AsyncEngine,
) -> None:
    pool = ReadPool(engine, 2, TIMEOUTS)
    try:
        # given a read, which opens the pool
        first = await pid_of_a_read(pool)
        # then the next read, one at a time, reuses its connection
        assert await pid_of_a_read(pool) == first
        # as the same role on the same database, under the statement timeout given
        row = await pool.fetchrow(
            "SELECT current_user AS role, current_database() AS db, "
            "current_setting('statement_timeout') AS timeout"
        )
        assert row is not None
        assert (row["role"], row["db"]) == (engine.url.username, engine.url.database)
        # (asyncpg enforces the statement timeout itself, client side)
        with pytest.raises(TimeoutError):
            await pool.fetchrow("SELECT pg_sleep(5)")
    finally:
        await pool.close()


async def test_it_never_opens_more_connections_than_its_size(engine: AsyncEngine) -> None:
    pool = ReadPool(engine, 2, Timeouts(connect=2.0, statement=2.0, pool=5.0))
    try:
        # when eight reads of 0.2 s arrive at once
        rows = await asyncio.gather(
            *(pool.fetchrow("SELECT pg_backend_pid() AS pid, pg_sleep(0.2)") for _ in range(8))
        )
        # then they took turns on two connections
        assert len({row["pid"] for row in rows if row is not None}) == 2
        assert len(await backend_pids(engine)) == 2
    finally:
        await pool.close()


async def test_a_read_beyond_its_size_waits_only_the_pool_timeout(engine: AsyncEngine) -> None:
    pool = ReadPool(engine, 1, TIMEOUTS)
    try:
        # given the one connection busy for a second
        busy = asyncio.create_task(pool.fetchrow("SELECT pg_sleep(1)"))
        await asyncio.sleep(0.1)
        # when another read needs one, it gives up after the pool timeout (0.5 s)
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await pool.fetchrow(PID)
        assert 0.4 < asyncio.get_running_loop().time() - started < 0.9
        # and the busy read finishes, after which the pool serves again
        await busy
        await pid_of_a_read(pool)
    finally:
        await pool.close()


async def test_a_read_whose_connection_is_dropped_is_tried_once_more_on_a_new_one(
    engine: AsyncEngine,
) -> None:
    pool = ReadPool(engine, 2, TIMEOUTS)
    try:
        # given a read under way
        reading = asyncio.create_task(
            pool.fetchrow("SELECT pg_backend_pid() AS pid, pg_sleep(0.5)")
        )
        first = await busy_backend(engine)
        # when the server drops its connection
        await on_the_side(engine, "SELECT pg_terminate_backend($1)", first)
        # then the read is answered all the same, on a new connection
        row = await reading
        assert row is not None
        assert row["pid"] != first
        assert await backend_pids(engine) == {row["pid"]}
        # and one dropped while idle in the pool is replaced before use
        await on_the_side(engine, "SELECT pg_terminate_backend($1)", row["pid"])
        assert await pid_of_a_read(pool) not in (first, row["pid"])
    finally:
        await pool.close()


async def test_a_read_dropped_twice_is_said_as_a_lost_connection(engine: AsyncEngine) -> None:
    pool = ReadPool(engine, 2, TIMEOUTS)

    async def drop_every_read() -> None:
        busy = None
        for _ in range(2):
            busy = await busy_backend(engine, other_than=busy)
            await on_the_side(engine, "SELECT pg_terminate_backend($1)", busy)

    try:
        dropping = asyncio.create_task(drop_every_read())
        with pytest.raises(exc.DisconnectionError) as raised:
            await pool.fetchrow("SELECT pg_sleep(2)")
        await dropping
        # which says unavailable, as the engine's lost connections do
        assert is_unavailable(raised.value)
        await pid_of_a_read(pool)
    finally:
        await pool.close()


async def test_a_server_that_refuses_connections_is_said_at_once(engine: AsyncEngine) -> None:
    # given a pool whose server is not there (nothing listens on that port)
    url = engine.url.set(port=1)
    nowhere = create_engine(url.render_as_string(hide_password=False), timeouts=TIMEOUTS)
    pool = ReadPool(nowhere, 1, TIMEOUTS)
    try:
        # then a read is refused at once with the operating system's error: unavailable
        with pytest.raises(ConnectionRefusedError) as raised:
            await pool.fetchrow(PID)
        assert is_unavailable(raised.value)
    finally:
        await pool.close()
        await nowhere.dispose()


async def test_closing_it_closes_its_connections_and_a_later_read_opens_it_again(
    engine: AsyncEngine,
) -> None:
    pool = ReadPool(engine, 2, TIMEOUTS)
    await pid_of_a_read(pool)
    assert len(await backend_pids(engine)) == 1
    await pool.close()
    assert await backend_pids(engine) == set()
    try:
        await pid_of_a_read(pool)
    finally:
        await pool.close()


@pytest.mark.parametrize("cache", ["", "0"])
async def test_a_url_that_turns_statement_caching_off_turns_it_off_here_too(
    engine: AsyncEngine, cache: str
) -> None:
    # given a URL with ?prepared_statement_cache_size=0, as an older PgBouncer needs
    url = engine.url.update_query_dict({"prepared_statement_cache_size": cache} if cache else {})
    configured = create_engine(url.render_as_string(hide_password=False), timeouts=TIMEOUTS)
    pool = ReadPool(configured, 1, TIMEOUTS)
    try:
        await pid_of_a_read(pool)
        row = await pool.fetchrow("SELECT count(*) AS named FROM pg_prepared_statements")
        # then its connection keeps no named statement on the server (the default keeps them)
        assert row is not None
        assert (row["named"] == 0) == (cache == "0")
    finally:
        await pool.close()
        await configured.dispose()


async def test_a_read_the_server_refuses_keeps_its_connection(engine: AsyncEngine) -> None:
    pool = ReadPool(engine, 1, TIMEOUTS)
    try:
        first = await pid_of_a_read(pool)
        # when the server answers a read with an error of its own
        with pytest.raises(asyncpg.UndefinedTableError):
            await pool.fetchrow("SELECT * FROM no_such_table")
        # then the connection is fine, and the next read has it
        assert await pid_of_a_read(pool) == first
    finally:
        await pool.close()


@pytest.mark.parametrize("ending", ["statement timeout", "cancelled"])
async def test_a_read_cut_short_closes_its_connection_and_frees_its_place(
    engine: AsyncEngine, ending: str
) -> None:
    # given a pool of one connection, so that a place not given back would show at once
    pool = ReadPool(engine, 1, TIMEOUTS)
    try:
        first = await pid_of_a_read(pool)
        # when a read ends before its answer: the statement timeout (2 s), or its request
        # cancelled (a client gone)
        if ending == "statement timeout":
            with pytest.raises(TimeoutError):
                await pool.fetchrow("SELECT pg_sleep(5)")
        else:
            reading = asyncio.create_task(pool.fetchrow("SELECT pg_sleep(5)"))
            await busy_backend(engine)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
        # then the next read runs at once on a new connection (what the old one was in the
        # middle of is unknown), and the old one is gone from the server
        started = asyncio.get_running_loop().time()
        second = await pid_of_a_read(pool)
        assert asyncio.get_running_loop().time() - started < TIMEOUTS.pool
        assert second != first
        deadline = asyncio.get_running_loop().time() + 5
        while first in await backend_pids(engine):
            assert asyncio.get_running_loop().time() < deadline, "the old connection stayed"
            await asyncio.sleep(0.05)
    finally:
        await pool.close()


async def test_reads_waiting_for_a_connection_are_served_in_turn_and_none_left_waiting(
    engine: AsyncEngine,
) -> None:
    pool = ReadPool(engine, 2, Timeouts(connect=2.0, statement=2.0, pool=5.0))
    try:
        # when twenty reads come at once for two connections, some failing (a bad statement)
        # and some cut short (cancelled)
        reads = [
            asyncio.create_task(pool.fetchrow("SELECT * FROM no_such_table" if n % 5 == 0 else PID))
            for n in range(20)
        ]
        reads[3].cancel()
        reads[7].cancel()
        done = await asyncio.gather(*reads, return_exceptions=True)
        # then every other read is answered, on at most two connections
        answered = [r for r in done if isinstance(r, asyncpg.Record)]
        assert len(answered) == 14
        assert len({row["pid"] for row in answered}) <= 2
        assert len(await backend_pids(engine)) <= 2
        # and the pool still serves
        await pid_of_a_read(pool)
    finally:
        await pool.close()
