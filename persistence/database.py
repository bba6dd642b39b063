"""Engines for PostgreSQL (asyncpg) and the embedded SQLite default (aiosqlite), and how to tell
a database that cannot be reached from a fault of ours."""

from __future__ import annotations

import socket
import sqlite3
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


@dataclass(frozen=True)
class Timeouts:
    """How long PostgreSQL may take before a request gives up on it, in seconds: to open a
    connection, to answer one statement (None: no limit), to free a connection from the pool."""

    connect: float = 3.0
    statement: float | None = 10.0
    pool: float = 5.0


# asyncpg's own default waits a minute for a connection: for migrations, which run alone.
UNHURRIED = Timeouts(connect=60.0, statement=None, pool=30.0)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, timeouts: Timeouts = UNHURRIED
) -> AsyncEngine:
    """An engine with the settings each backend needs to behave like the other."""
    if is_sqlite(url):
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}
        )
        _tune_sqlite(engine)
        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        # Parameters are personal data (and password hashes): keep them out of error messages.
        hide_parameters=True,
        # A fixed number of connections per process, opened as needed and then kept: a request
        # that finds them all busy waits (at most the pool timeout) rather than opening one
        # more, which under load meant connecting and closing connections all the time (TLS
        # negotiation and authentication included), and made the connections a deployment
        # needs (processes times pool size) a ceiling one can plan PostgreSQL and PgBouncer by.
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        pool_timeout=timeouts.pool,
        connect_args={"timeout": timeouts.connect, "command_timeout": timeouts.statement},
    )
    _ping_after_idle(engine)
    return engine


# A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Pings a connection on checkout only when it has been idle a while.

    A connection that a restart of the server broke must be found and replaced before a request
    uses it, so that the service recovers without a restart of its own. SQLAlchemy's
    ``pool_pre_ping`` pings on every checkout, and with asyncpg a ping is three round trips
    (BEGIN, an empty statement, ROLLBACK): more than the single statement of a hot read. A
    connection given back within the last second was working a moment ago; if the server went
    away meanwhile, the statement fails as a disconnect, and SQLAlchemy then invalidates that
    connection and every other one opened before it, so the pool still starts afresh."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkin")
    def _given_back(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool discards this connection and hands out another (a new one if need be).
            raise exc.DisconnectionError("a pooled connection failed its ping") from error


def create_unpooled_engine(url: str, timeouts: Timeouts) -> AsyncEngine:
    """An engine that opens a connection for each use and closes it after: for a probe, which
    must neither wait behind requests for a pooled connection nor keep one from them."""
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            hide_parameters=True,
            poolclass=NullPool,
            connect_args={"timeout": timeouts.connect},
        )
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        hide_parameters=True,
        poolclass=NullPool,
        connect_args={"timeout": timeouts.connect, "command_timeout": timeouts.statement},
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# SQLSTATEs of a server that is not there for us: connection exceptions (class 08), shutting
# down or starting up (57P01-57P03), and no connection slot left (53300).
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# SQLite's "database is locked": another writer held it for longer than the busy timeout.
_SQLITE_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


# A request waits for a free connection at most once, its pool's timeout: a wait that ran out
# marks the request, and a later wait in it is refused at once with the same error. The
# prepared path (api/documents/router.py) gives way to the general one after a fault, and the
# general path reads again: without the mark, a request that met a full pool would wait twice
# its timeout before it is refused. The HTTP edge opens the scope for each request (each a task
# of its own); outside one (the worker's long-lived loops) every wait is a wait of its own.
_WAITED_OUT: ContextVar[bool | None] = ContextVar("datarights_waited_out", default=None)


def request_waits() -> Token[bool | None]:
    """Opens the scope of one request for the rule above; give the token to
    :func:`request_waits_end` when the request is done."""
    return _WAITED_OUT.set(False)


def request_waits_end(token: Token[bool | None]) -> None:
    _WAITED_OUT.reset(token)


def waited_out() -> bool:
    """Whether this request already waited a pool's timeout for a connection in vain."""
    return _WAITED_OUT.get() is True


def mark_waited_out() -> None:
    if _WAITED_OUT.get() is not None:
        _WAITED_OUT.set(True)


def is_unavailable(error: BaseException | None) -> bool:
    """True when ``error`` (or what caused it) says the database could not be reached or did
    not answer in time, so that the same request may succeed shortly, rather than a fault."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _says_unavailable(error):
            return True
        orig = getattr(error, "orig", None) if isinstance(error, exc.DBAPIError) else None
        error = orig or error.__cause__ or error.__context__
    return False


def _says_unavailable(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    # The pool had no connection to give within its timeout, or a pre-ping found it dead.
    if isinstance(error, exc.TimeoutError | exc.DisconnectionError):
        return True
    # Refused, reset, unreachable, a name that does not resolve, or no answer in time. A
    # plain OSError is what asyncio raises when every address of the host failed.
    if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if type(error) is OSError:
        return True
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_STATES):
        return True
    code = getattr(error, "sqlite_errorcode", None)
    # Extended result codes keep the primary code in their low byte.
    return isinstance(code, int) and code & 0xFF in _SQLITE_BUSY
