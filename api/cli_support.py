"""What the `datarights` commands share: settings that fail with a message, and running one
use case with the adapters the settings ask for."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from api.settings import Settings
from domain.errors import DomainError

if TYPE_CHECKING:
    from domain.dependencies import Dependencies

T = TypeVar("T")


def settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        messages = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise SystemExit(f"datarights: {messages}") from None
    except SettingsError as error:
        raise SystemExit(f"datarights: {error}") from None


def with_dependencies(work: Callable[[Dependencies], Awaitable[T]]) -> T:
    """Run one use case with the adapters the settings ask for, then release them. The
    database must be at the latest schema: development brings it there, production says to."""
    from api.app import build_dependencies, close_dependencies
    from persistence.migrate import pending, upgrade

    settings = settings_or_exit()

    async def run() -> T:
        if await pending(settings.database_url):
            if settings.production:
                raise SystemExit(
                    "datarights: the database schema is not up to date; "
                    "run `datarights migrate` first."
                )
            await upgrade(settings.database_url)
        deps = build_dependencies(settings)
        try:
            return await work(deps)
        finally:
            await close_dependencies(deps)

    return asyncio.run(run())


def refused(error: DomainError) -> int:
    for problem in error.problems:
        print(f"datarights: {problem.message}", file=sys.stderr)
    return 2
