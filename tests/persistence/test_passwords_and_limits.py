"""argon2id with production parameters off the event loop, and rate limits in Redis."""

from __future__ import annotations

import asyncio
import threading
import uuid

from domain.ports import Throttle
from persistence.passwords import Argon2Parameters, Argon2PasswordHasher
from persistence.rate_limits import WindowRateLimiter
from tests import backends


async def test_hashes_are_argon2id_with_owasp_parameters() -> None:
    hasher = Argon2PasswordHasher(Argon2Parameters())
    try:
        hashed = await hasher.hash("correct horse battery staple")
        assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert await hasher.verify("correct horse battery staple", hashed)
        assert not await hasher.verify("wrong horse battery staple", hashed)
        assert not await hasher.verify("anything", None)
        assert not hasher.needs_rehash(hashed)
        cheap = Argon2PasswordHasher(Argon2Parameters(memory_kib=8, time_cost=1))
        assert hasher.needs_rehash(await cheap.hash("x" * 12))
        cheap.close()
    finally:
        hasher.close()


async def test_hashing_runs_off_the_event_loop_in_its_bounded_pool() -> None:
    hasher = Argon2PasswordHasher(Argon2Parameters(), max_concurrent=2)
    threads: list[str] = []
    real_hash = hasher._context.hash

    def recording_hash(secret: str) -> str:
        threads.append(threading.current_thread().name)
        return str(real_hash(secret))

    hasher._context.hash = recording_hash  # type: ignore[method-assign]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(hasher.hash(f"password number {i}") for i in range(4)))
    finally:
        task.cancel()
        hasher.close()
    # every hash ran on one of the pool's threads, and the loop kept turning meanwhile
    assert len(threads) == 4
    assert all(name.startswith("argon2") for name in threads)
    assert ticks > 4


async def test_rate_limits_are_shared_through_redis() -> None:
    if not backends.reachable(backends.REDIS_URL, 6379):
        backends.unavailable("Redis")
    rules = {throttle: "3 per minute" for throttle in Throttle}
    one = WindowRateLimiter(rules, backends.REDIS_URL)
    other = WindowRateLimiter(rules, backends.REDIS_URL)
    key = f"test-{uuid.uuid4()}"
    assert await one.hit(Throttle.LOGIN_ACCOUNT, key)
    assert await other.hit(Throttle.LOGIN_ACCOUNT, key)
    assert not await one.exhausted(Throttle.LOGIN_ACCOUNT, key)
    assert await other.hit(Throttle.LOGIN_ACCOUNT, key)
    assert await one.exhausted(Throttle.LOGIN_ACCOUNT, key)  # the other replica's hits count
    assert not await one.hit(Throttle.LOGIN_ACCOUNT, key)
    await other.clear(Throttle.LOGIN_ACCOUNT, key)
    assert not await one.exhausted(Throttle.LOGIN_ACCOUNT, key)
    await one.close()
    await other.close()
