"""Password hashes: argon2id through passlib (the maintained ``libpass`` fork), computed in
bounded pools of threads (idle priority first) so that a sign-in stalls neither the event loop
nor, on a busy machine, the requests beside it."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from passlib.context import CryptContext

log = logging.getLogger("datarights.passwords")
T = TypeVar("T")

# passlib refuses passwords over 4096 bytes; anything this long is wrong, whoever sends it.
_LONGEST_CHECKED = 1024


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """OWASP's minimum by default: 7 MiB, five passes, one lane. Its cheat sheet gives five
    settings of equal defence that trade memory for passes (19 MiB and two passes is another);
    this one costs a sign-in a fifth less CPU and the cores' shared cache far less, so logins
    slow the requests beside them less (docs/performance.md). A hash made with other
    parameters is replaced at the customer's next sign-in."""

    memory_kib: int = 7_168
    time_cost: int = 5
    parallelism: int = 1


# Linux only: a thread of the SCHED_IDLE policy runs when a CPU has nothing else to do and gives
# way at once when a request's thread wakes up.
CAN_RUN_IDLE = hasattr(os, "SCHED_IDLE")


def run_this_thread_idle() -> None:
    """Puts the calling thread in the SCHED_IDLE policy (Linux: the policy is a thread's own).
    Not reversible without privileges, so these threads stay idle for their whole life."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as error:  # a sandbox that forbids it: hash at the same priority
        log.warning("could not give the password hashing thread idle priority: %s", error)


def _then_give_back_memory(fn: Callable[..., T], *args: str) -> T:
    """Runs ``fn``, then hands glibc's free memory back to the system (``malloc_trim``). Only
    after a hash that had to run at normal priority beside one at idle priority (an overload):
    the two blocks of argon2 memory would otherwise stay with the process (bench/malloc_arenas.py;
    with one arena for every thread, one_malloc_arena, the usual case keeps one)."""
    try:
        return fn(*args)
    finally:
        if _malloc_trim is not None:
            _malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc (on Linux), for its allocator's knobs."""
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_libc = _glibc()
_malloc_trim: Callable[[int], int] | None = _libc.malloc_trim if _libc is not None else None
# glibc's mallopt parameter for the most arenas (malloc.h).
_M_ARENA_MAX = -8


def one_malloc_arena() -> bool:
    """Makes every thread of this process allocate from glibc's main arena (as
    ``MALLOC_ARENA_MAX=1``); True when it could. By default each thread that allocates gets an
    arena of its own, which keeps its largest freed block for reuse: every thread that has
    computed a password hash keeps its argon2 memory (7 MiB by default). With one arena the hashing
    threads reuse one block (docs/performance.md). Python's own small objects do not come from
    these arenas, and only the hashing threads allocate much beside the event loop. Call it
    before the hashing threads start (api.app.app_from_environment does)."""
    return _libc is not None and bool(_libc.mallopt(_M_ARENA_MAX, 1))


# After this long without a hash, the memory the last one left for the next is given back.
QUIET_BEFORE_TRIM_SECONDS = 2.0


class Argon2PasswordHasher:
    """Hashes first on threads of idle priority, so that on a busy machine a sign-in's hash
    takes only the CPU time no request wants: the requests it would otherwise share the cores
    with keep their latency. A hash that has waited ``idle_seconds`` without finishing (the
    CPUs are saturated) is computed again on threads of normal priority, whichever finishes
    first answering, so that sign-ins are slowed by at most that much, never starved. With
    ``idle_seconds`` 0 (or off Linux) every hash runs at normal priority."""

    def __init__(
        self, parameters: Argon2Parameters, max_concurrent: int = 1, idle_seconds: float = 0.0
    ) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__memory_cost=parameters.memory_kib,
            argon2__rounds=parameters.time_cost,
            argon2__parallelism=parameters.parallelism,
        )
        # argon2 releases the GIL, so these threads hash in parallel, at most this many at once
        # in each pool. Each thread keeps its hash's memory for the next one (glibc's arena):
        # handing it back costs a third more CPU per hash in page faults (docs/performance.md).
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="argon2")
        self._idle_seconds = idle_seconds
        self._idle_pool = (
            ThreadPoolExecutor(
                max_workers=max_concurrent,
                thread_name_prefix="argon2-idle",
                initializer=run_this_thread_idle,
            )
            if idle_seconds > 0 and CAN_RUN_IDLE
            else None
        )
        # Compared against when the account does not exist, so both cases take as long.
        self._decoy = self._context.hash("decoy password that matches nothing")
        self._trim: asyncio.TimerHandle | None = None

    async def hash(self, password: str) -> str:
        return str(await self._run(self._context.hash, password))

    async def verify(self, password: str, password_hash: str | None) -> bool:
        if len(password) > _LONGEST_CHECKED:
            return False  # no account has one: the rules allow at most 128 characters
        if password_hash is None:
            await self._run(self._context.verify, password, self._decoy)
            return False
        return bool(await self._run(self._context.verify, password, password_hash))

    def needs_rehash(self, password_hash: str) -> bool:
        return bool(self._context.needs_update(password_hash))

    def close(self) -> None:
        if self._trim is not None:
            self._trim.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._idle_pool is not None:
            self._idle_pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        try:
            return await self._hashed(fn, *args)
        finally:
            self._trim_when_quiet()

    def _trim_when_quiet(self) -> None:
        """Gives the argon2 memory kept for the next hash (7 MiB a hashing thread that ran at
        once, and what a busy moment left free in glibc's heap) back to the system once no
        hash has run for QUIET_BEFORE_TRIM_SECONDS: while sign-ins keep coming it is reused
        (faulting it in again would cost a hash a third more CPU, docs/performance.md); when
        they stop, the worker shrinks back. The trim runs on the normal-priority hashing thread,
        never on the event loop, nor at idle priority: it holds the allocator's lock while it
        works, and an idle thread preempted meanwhile would make every thread that allocates
        wait for the CPU to fall idle."""
        if _malloc_trim is None:
            return
        if self._trim is not None:
            self._trim.cancel()
        self._trim = asyncio.get_running_loop().call_later(
            QUIET_BEFORE_TRIM_SECONDS, self._pool.submit, _malloc_trim, 0
        )

    async def _hashed(self, fn: Callable[..., T], *args: str) -> T:
        if self._idle_pool is None:
            return await asyncio.wrap_future(self._pool.submit(fn, *args))
        idle = asyncio.wrap_future(self._idle_pool.submit(fn, *args))
        urgent: asyncio.Future[T] | None = None
        try:
            done, _ = await asyncio.wait({idle}, timeout=self._idle_seconds)
            if not done:
                # No idle CPU came for it: at normal priority too, and the first answer wins.
                # (A hash still queued is withdrawn; one already begun is left to finish.)
                urgent = asyncio.wrap_future(self._pool.submit(_then_give_back_memory, fn, *args))
                done, _ = await asyncio.wait({idle, urgent}, return_when=asyncio.FIRST_COMPLETED)
            return done.pop().result()
        finally:
            idle.cancel()
            if urgent is not None:
                urgent.cancel()
