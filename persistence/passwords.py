"""Password hashes: argon2id through passlib (the maintained ``libpass`` fork), computed in a
bounded thread pool so that a sign-in never stalls the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from passlib.context import CryptContext

# passlib refuses passwords over 4096 bytes; anything this long is wrong, whoever sends it.
_LONGEST_CHECKED = 1024


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """OWASP's recommendation by default: 19 MiB, two passes, one lane."""

    memory_kib: int = 19_456
    time_cost: int = 2
    parallelism: int = 1


class Argon2PasswordHasher:
    def __init__(self, parameters: Argon2Parameters, max_concurrent: int = 2) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__memory_cost=parameters.memory_kib,
            argon2__rounds=parameters.time_cost,
            argon2__parallelism=parameters.parallelism,
        )
        # argon2 releases the GIL, so these threads hash in parallel, at most this many at once.
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="argon2")
        # Compared against when the account does not exist, so both cases take as long.
        self._decoy = self._context.hash("decoy password that matches nothing")

    async def hash(self, password: str) -> str:
        return await self._run(self._context.hash, password)

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
        self._pool.shutdown(wait=False)

    async def _run(self, fn: object, *args: str) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)  # type: ignore[arg-type]
