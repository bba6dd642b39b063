"""A pool of asyncpg connections of its own for the hottest reads: one statement, no transaction.

Every signed-in request begins with one read (its session and customer). Through SQLAlchemy's
pool, checking a connection out and back in costs two greenlet switches, the pool's events and
its reset, which on a trusted `me` was a tenth to a sixth of the request's CPU; asyncpg's pool,
told that these connections keep no session state to reset, costs a fraction of that
(docs/performance.md, ``bench/asgi_cpu.py``).

It connects exactly as the engine does (the same URL and connect arguments, the same connect
and statement timeouts), opens connections as needed up to its size, and keeps them. It keeps
the engine's promises on a failing server (persistence/database.py): a read waits at most the
pool timeout for a connection, and a connection that the server dropped is never used twice.
A read that finds its connection dropped is tried once more on a new one, after every
connection opened before it has been marked for replacement (a restarted server dropped them
all): a read changes nothing, so trying again is safe, and costs nothing while all is well.
What it cannot do in time, or at all, it raises as the engine would, so the same request is
refused as SERVICE_UNAVAILABLE."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import Timeouts
from persistence.driver import CONNECTION_FAULTS, is_lost

# Connect arguments of SQLAlchemy's asyncpg adaptor that asyncpg itself does not take.
_ADAPTOR_ONLY = (
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)


class _Dropped(Exception):
    """The connection was lost under a read (its cause says how)."""


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    # These connections only ever run one SELECT outside a transaction: no session state, no
    # LISTEN, no advisory lock to undo (asyncpg still rolls back a transaction left open).
    # asyncpg's default reset would be one more round trip for every read.
    return None


class ReadPool:
    def __init__(self, engine: AsyncEngine, size: int, timeouts: Timeouts) -> None:
        _, params = engine.dialect.create_connect_args(engine.url)
        if "prepared_statement_cache_size" in params:
            # The URL turned statement caching off (an older PgBouncer): so does this pool.
            params["statement_cache_size"] = params["prepared_statement_cache_size"]
        for name in _ADAPTOR_ONLY:
            params.pop(name, None)
        self._connect = params | {
            "timeout": timeouts.connect,
            "command_timeout": timeouts.statement,
        }
        self.size = size
        self._wait = timeouts.pool
        self._claimed = 0  # reads holding or waiting for a connection
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Task[asyncpg.Pool] | None = None

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """The first row of ``sql`` (``$1``-style parameters), or None."""
        pool = self._pool or await self._open()
        try:
            row: asyncpg.Record | None = await self._read(pool, sql, args)
            return row
        except _Dropped:
            pass  # tried again below, outside this handler: its failure is its own
        try:
            row = await self._read(pool, sql, args)
            return row
        except _Dropped as dropped:
            raise exc.DisconnectionError("the connection to the database was lost") from (
                dropped.__cause__
            )

    async def _read(self, pool: asyncpg.Pool, sql: str, args: tuple[Any, ...]) -> Any:
        # Waiting for a free connection, or for a new one, ends after the pool timeout with
        # TimeoutError; a server that refuses connections raises OSError at once. While fewer
        # reads than the pool's size hold or wait for a connection, one is free or may be
        # opened (within the connect timeout): no timeout, which costs asyncpg a task a read.
        self._claimed += 1
        try:
            if self._claimed <= self.size:
                connection = await pool.acquire()
            else:
                connection = await pool.acquire(timeout=self._wait)
            try:
                return await connection.fetchrow(sql, *args)
            except TimeoutError:
                raise  # the statement timeout (an OSError too): the connection is still there
            except asyncpg.InternalClientError as error:
                # The server's goodbye (FATAL, e.g. terminating connection) arrived on an idle
                # connection just before its end did: the protocol waits for a ReadyForQuery
                # that will never come. The connection is of no further use.
                connection.terminate()
                await pool.expire_connections()
                raise _Dropped from error
            except CONNECTION_FAULTS as error:
                if not is_lost(error, connection):
                    raise
                await pool.expire_connections()
                raise _Dropped from error
            finally:
                await pool.release(connection)
        finally:
            self._claimed -= 1

    async def _open(self) -> asyncpg.Pool:
        # Opened in the event loop that first reads (asyncpg binds a pool to its loop); reads
        # that arrive while it opens wait for the same one.
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._create())
        opening = self._opening
        try:
            self._pool = await asyncio.shield(opening)
        except Exception:
            if opening.done() and self._opening is opening:
                self._opening = None  # the next read tries again
            raise
        return self._pool

    async def _create(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            min_size=0,
            max_size=self.size,
            reset=_nothing_to_reset,
            **self._connect,
        )
        return pool

    async def close(self) -> None:
        """Closes every connection; a read after this opens the pool again."""
        opening, self._opening, self._pool = self._opening, None, None
        if opening is not None:
            pool = await opening
            await pool.close()
