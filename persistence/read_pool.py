"""A pool of asyncpg connections of its own for the hottest reads: one statement, no transaction.

Every signed-in request begins with one read (its session and customer). Through SQLAlchemy's
pool, checking a connection out and back in costs two greenlet switches, the pool's events and
its reset, which on a trusted `me` was a tenth to a sixth of the request's CPU. asyncpg's own
pool costs less, but still a task and a timeout for every connection given back (its release
runs under ``asyncio.shield``, then its reset under a timeout) and a queue for every one taken:
about 100 us of CPU a read more than a bare connection, where this pool costs 15
(``bench/read_pool_cpu.py``; docs/performance.md, row 26). These connections run one SELECT
outside a transaction and keep no session state, so the pool here is a list: a read takes the
connection used last, and gives it back, or to the read that has waited longest, when it is
done.

It connects exactly as the engine does (the same URL and connect arguments, the same connect
and statement timeouts), opens connections as needed up to its size, and keeps them. It keeps
the engine's promises on a failing server (persistence/database.py): a read waits at most the
pool timeout for a connection, and a connection that the server dropped is never used twice.
A read that finds its connection dropped is tried once more on a new one, after every
connection opened before it has been marked for replacement (a restarted server dropped them
all): a read changes nothing, so trying again is safe, and costs nothing while all is well.
A connection whose read ended in anything but a row or the server's own error (a statement
timeout, a cancelled request, a fault) is closed rather than reused: its state is unknown.
What it cannot do in time, or at all, it raises as the engine would, so the same request is
refused as SERVICE_UNAVAILABLE."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import asyncpg
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import Timeouts, mark_waited_out, waited_out
from persistence.driver import is_lost

# Connect arguments of SQLAlchemy's asyncpg adaptor that asyncpg itself does not take.
_ADAPTOR_ONLY = (
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)


# A connection and the generation it was opened in.
_Held = tuple[asyncpg.Connection, int]


def _lost(error: BaseException, connection: asyncpg.Connection) -> bool:
    """Whether a read's error says its connection is gone."""
    if isinstance(error, TimeoutError):
        return False  # the statement timeout (an OSError too): the connection is still there
    return (
        # The server's goodbye (FATAL, e.g. terminating connection) arrived on an idle
        # connection just before its end did: the protocol waits for what will never come.
        isinstance(error, asyncpg.InternalClientError)
        or is_lost(error, connection)
        # The server's FATAL goodbye as an error, e.g. an administrator's termination.
        or (isinstance(error, asyncpg.PostgresError) and connection.is_closed())
    )


class _Dropped(Exception):
    """The connection was lost under a read (its cause says how)."""


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
        # Each connection goes with the generation it was opened in: a lost connection, or a
        # close, begins a new one, and an older connection is closed instead of reused.
        self._generation = 0
        self._idle: list[_Held] = []  # the one used last at the end
        # Slots: connections open, being opened, in use, or promised to a waiting read.
        self._slots = 0
        # Reads waiting for a connection, longest first; each is given one, or None: a slot
        # is free and it opens a connection of its own.
        self._waiters: deque[asyncio.Future[_Held | None]] = deque()

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """The first row of ``sql`` (``$1``-style parameters), or None."""
        try:
            row: asyncpg.Record | None = await self._read(sql, args)
            return row
        except _Dropped:
            pass  # tried again below, outside this handler: its failure is its own
        try:
            row = await self._read(sql, args)
            return row
        except _Dropped as dropped:
            raise exc.DisconnectionError("the connection to the database was lost") from (
                dropped.__cause__
            )

    async def _read(self, sql: str, args: tuple[Any, ...]) -> Any:
        held = await self._take()
        connection = held[0]
        try:
            row = await connection.fetchrow(sql, *args)
        except BaseException as error:
            lost = _lost(error, connection)
            if isinstance(error, asyncpg.PostgresError) and not lost:
                self._give(held)  # the server's own answer (a bad statement): it is fine
                raise
            # Lost, or a statement timeout (asyncpg has asked the server to cancel it), a
            # cancelled request, a fault: what the connection is in the middle of is unknown.
            self._discard(held)
            if lost:
                self._expire()
                raise _Dropped from error
            raise
        self._give(held)
        return row

    async def _take(self) -> _Held:
        while self._idle:
            held = self._idle.pop()
            if not held[0].is_closed():
                return held
            self._discard(held)  # the server closed it while it was idle
        if self._slots < self.size:
            self._slots += 1
            return await self._open()
        # Every connection is busy: wait for one, at most the pool timeout, once a request.
        if waited_out():
            raise TimeoutError("no read connection free, and this request waited for one")
        waiter: asyncio.Future[_Held | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._wait):
                given = await waiter
        except BaseException as error:
            if isinstance(error, TimeoutError):
                mark_waited_out()
            if waiter.done() and not waiter.cancelled():
                # Given a connection or a slot just as the wait ended: passed on.
                if (late := waiter.result()) is not None:
                    self._give(late)
                else:
                    self._free_slot()
            elif waiter in self._waiters:  # (a read giving one back may have passed it by)
                self._waiters.remove(waiter)
            raise
        return given if given is not None else await self._open()

    async def _open(self) -> _Held:
        """A new connection, in a slot already counted."""
        try:
            connection = await asyncpg.connect(**self._connect)
        except BaseException:
            self._free_slot()
            raise
        return connection, self._generation

    def _give(self, held: _Held) -> None:
        if held[1] != self._generation or held[0].is_closed():
            self._discard(held)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)
                return
        self._idle.append(held)

    def _discard(self, held: _Held) -> None:
        held[0].terminate()
        self._free_slot()

    def _free_slot(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to it
                return
        self._slots -= 1

    def _expire(self) -> None:
        """Every connection opened so far is closed instead of reused: the idle ones now, the
        busy ones when their reads end."""
        self._generation += 1
        idle, self._idle = self._idle, []
        for held in idle:
            self._discard(held)

    async def close(self) -> None:
        """Closes every idle connection (a busy one is closed when its read ends); a read after
        this opens new ones."""
        self._generation += 1
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            try:
                await connection.close(timeout=2)
            except Exception:
                connection.terminate()
            finally:
                self._free_slot()
