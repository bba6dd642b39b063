"""Counters of attempts, in Redis when configured (shared by every replica) or in memory."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from domain.ports import Throttle

if TYPE_CHECKING:
    import redis.asyncio


class WindowRateLimiter:
    """A sliding window per throttle and key (an address, an account id, an IP), counted in
    Redis (``redis://``, ``rediss://``) when a URL is given, else in this process's memory.

    The sliding-window counter (two fixed windows, weighted) rather than the exact moving window:
    it costs two counters instead of a list of events, and the `limits` moving window in memory
    races its own expiry task when a key is cleared (a KeyError in that task).
    """

    def __init__(self, rules: Mapping[Throttle, str], redis_url: str | None = None) -> None:
        self._pool: redis.asyncio.ConnectionPool | None = None
        if redis_url:
            # Imported only when used: it takes some 6 MiB a process that counts in memory
            # need not hold. We own the pool, so that shutting down closes its sockets.
            import redis.asyncio

            self._pool = redis.asyncio.ConnectionPool.from_url(redis_url)
        self._storage: Storage = (
            RedisStorage(
                "async+" + str(redis_url),
                implementation="redispy",
                key_prefix="datarights",
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
            if redis_url
            else MemoryStorage()
        )
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._items = {throttle: limits.parse(rule) for throttle, rule in rules.items()}

    async def hit(self, throttle: Throttle, key: str) -> bool:
        return await self._limiter.hit(self._items[throttle], throttle.value, key)

    async def exhausted(self, throttle: Throttle, key: str) -> bool:
        return not await self._limiter.test(self._items[throttle], throttle.value, key)

    async def clear(self, throttle: Throttle, key: str) -> None:
        await self._limiter.clear(self._items[throttle], throttle.value, key)

    async def retry_after(self, throttle: Throttle, key: str) -> int:
        # `limits` gives the moment the weighted count next drops, which is when a slot frees.
        stats = await self._limiter.get_window_stats(self._items[throttle], throttle.value, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        """Forget every counter (tests, and an operator after an incident)."""
        await self._storage.reset()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
