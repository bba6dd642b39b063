"""Keeping client addresses only "to help diagnose technical problems": for a while."""

from __future__ import annotations

from datetime import timedelta

from domain.dependencies import Dependencies
from domain.ports import Purged


async def purge(deps: Dependencies, keep_client_data: timedelta) -> Purged:
    """Remove sign-in and consent-change IPs and user agents older than ``keep_client_data``,
    expired sessions and expired single-use tokens, in one transaction. Safe to run again."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        purged = await uow.retention.purge(now - keep_client_data, now)
        await uow.commit()
    return purged
