"""argon2id with production parameters off the event loop, and rate limits in Redis."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest

from domain.ports import Throttle
from persistence import passwords
from persistence.passwords import CAN_RUN_IDLE, Argon2Parameters, Argon2PasswordHasher
from persistence.rate_limits import WindowRateLimiter
from tests import backends


async def test_hashes_are_argon2id_with_owasp_parameters() -> None:
    hasher = Argon2PasswordHasher(Argon2Parameters())
    try:
        hashed = await hasher.hash("correct horse battery staple")
        assert hashed.startswith("$argon2id$v=19$m=7168,t=5,p=1$")
        assert await hasher.verify("correct horse battery staple", hashed)
        assert not await hasher.verify("wrong horse battery staple", hashed)
        assert not await hasher.verify("anything", None)
        assert not hasher.needs_rehash(hashed)
        cheap = Argon2PasswordHasher(Argon2Parameters(memory_kib=8, time_cost=1))
        assert hasher.needs_rehash(await cheap.hash("x" * 12))
        cheap.close()
    finally:
        hasher.close()


def threads_that_hash(hasher: Argon2PasswordHasher) -> list[str]:
    """The names of the threads the hasher's hashes run on, as they run."""
    threads: list[str] = []
    real_hash = hasher._context.hash

    def recording_hash(secret: str) -> str:
        threads.append(threading.current_thread().name)
        return str(real_hash(secret))

    hasher._context.hash = recording_hash  # type: ignore[method-assign]
    return threads


async def test_hashing_runs_off_the_event_loop_in_its_bounded_pool() -> None:
    hasher = Argon2PasswordHasher(Argon2Parameters(), max_concurrent=2)
    threads = threads_that_hash(hasher)
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


@pytest.mark.skipif(not CAN_RUN_IDLE, reason="SCHED_IDLE is Linux's")
async def test_hashes_run_first_on_threads_of_idle_priority() -> None:
    hasher = Argon2PasswordHasher(Argon2Parameters(), idle_seconds=5.0)
    policies: list[tuple[str, int]] = []
    real_hash = hasher._context.hash

    def recording_hash(secret: str) -> str:
        policies.append((threading.current_thread().name, os.sched_getscheduler(0)))
        return str(real_hash(secret))

    hasher._context.hash = recording_hash  # type: ignore[method-assign]
    try:
        hashed = await hasher.hash("correct horse battery staple")
        assert await hasher.verify("correct horse battery staple", hashed)
    finally:
        hasher.close()
    assert policies == [("argon2-idle_0", os.SCHED_IDLE)]
    # the event loop's own thread is untouched
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


@pytest.mark.skipif(not CAN_RUN_IDLE, reason="SCHED_IDLE is Linux's")
async def test_a_hash_that_finds_no_idle_time_is_computed_at_normal_priority_too() -> None:
    hasher = Argon2PasswordHasher(Argon2Parameters(), idle_seconds=0.05)
    hashed = await hasher.hash("correct horse battery staple")
    release = threading.Event()
    ran: list[str] = []
    real_verify = hasher._context.verify

    def verify(secret: str, stored: str) -> bool:
        name = threading.current_thread().name
        ran.append(name)
        if name.startswith("argon2-idle"):
            release.wait(10)  # as if the CPUs never had a moment to spare
        return bool(real_verify(secret, stored))

    hasher._context.verify = verify  # type: ignore[method-assign]
    try:
        # the first holds the only idle thread; the second waits behind it, queued
        first = asyncio.create_task(hasher.verify("correct horse battery staple", hashed))
        second = asyncio.create_task(hasher.verify("wrong horse battery staple", hashed))
        assert await asyncio.wait_for(first, 5) is True
        assert await asyncio.wait_for(second, 5) is False
        release.set()
    finally:
        release.set()
        hasher.close()
    # the first was computed again at normal priority and that answer came back; the second,
    # still queued for the idle thread, was withdrawn from it and computed only once
    assert sorted(ran) == ["argon2-idle_0", "argon2_0", "argon2_0"]


async def test_with_no_idle_wait_every_hash_runs_at_normal_priority() -> None:
    hasher = Argon2PasswordHasher(Argon2Parameters(memory_kib=8, time_cost=1), idle_seconds=0)
    threads = threads_that_hash(hasher)
    try:
        await hasher.hash("x" * 12)
    finally:
        hasher.close()
    assert threads == ["argon2_0"]


@pytest.mark.parametrize("idle_seconds", [0.0, 5.0])
async def test_the_memory_kept_for_the_next_hash_is_given_back_once_hashes_stop(
    monkeypatch: pytest.MonkeyPatch, idle_seconds: float
) -> None:
    # given a hasher that trims glibc's heap 0.2 s after its last hash
    trims: list[str] = []

    def recording_trim(pad: int) -> int:
        trims.append(threading.current_thread().name)
        return 1

    monkeypatch.setattr(passwords, "_malloc_trim", recording_trim)
    monkeypatch.setattr(passwords, "QUIET_BEFORE_TRIM_SECONDS", 0.2)
    hasher = Argon2PasswordHasher(
        Argon2Parameters(memory_kib=8, time_cost=1), idle_seconds=idle_seconds
    )
    try:
        # when sign-ins come closer together than that
        for _ in range(4):
            await hasher.hash("x" * 12)
            await asyncio.sleep(0.05)
        # then nothing is given back while they come
        assert trims == []
        # and once they stop, it is, once, on the normal-priority hashing thread (not the event
        # loop; not an idle-priority thread, which could hold the allocator's lock while it
        # waits for the CPU)
        await asyncio.sleep(0.4)
        assert trims == ["argon2_0"]
    finally:
        hasher.close()


async def test_a_closed_hasher_gives_nothing_back_later(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(passwords, "_malloc_trim", trims.append)
    monkeypatch.setattr(passwords, "QUIET_BEFORE_TRIM_SECONDS", 0.1)
    hasher = Argon2PasswordHasher(Argon2Parameters(memory_kib=8, time_cost=1))
    await hasher.hash("x" * 12)
    hasher.close()
    await asyncio.sleep(0.2)
    assert trims == []
