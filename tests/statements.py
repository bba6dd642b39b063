"""Counting the statements a request runs: through SQLAlchemy, and those that go straight to
asyncpg (persistence/driver.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_DATA = ("SELECT", "INSERT", "UPDATE", "DELETE")


@contextmanager
def counted_statements(engine: AsyncEngine, *, data_only: bool = False) -> Iterator[list[str]]:
    """The statements run meanwhile; with ``data_only``, without BEGIN, COMMIT and the like."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not data_only or statement.lstrip().upper().startswith(_DATA):
            seen.append(statement)

    def counting(method: Any) -> Any:
        async def counted(self: asyncpg.Connection, query: str, *args: Any) -> Any:
            count(None, None, query)
            return await method(self, query, *args)

        return counted

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(asyncpg.Connection, "fetch", counting(asyncpg.Connection.fetch))
            patch.setattr(asyncpg.Connection, "fetchrow", counting(asyncpg.Connection.fetchrow))
            yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
