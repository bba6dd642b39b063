"""What taking and giving back a connection costs: asyncpg's pool against the read pool.

Run on its own, never from the test suite::

    .venv/bin/python bench/read_pool_cpu.py [--reads 3000] [--repeats 7] [--concurrency 1]

The same one-row SELECT, read ``--reads`` times, ``--concurrency`` at a time, through: a bare
asyncpg connection (no pool: the floor of it), asyncpg's pool told there is nothing to reset
(as ``persistence/read_pool.py`` used it until row 26 of docs/performance.md), and the read pool
of ``persistence/read_pool.py``. Each repeat measures every path in turn; the figure is this
process's CPU time per read (``time.process_time``), median of the repeats, so the server's
work is left out. With one read at a time every hand-over costs a turn of the event loop of its
own; under load the turns are shared, so the differences shrink (compare ``asgi_cpu.py`` and a
wrk run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from persistence.database import Timeouts, create_engine
from persistence.read_pool import ReadPool

SQL = "SELECT $1::int AS n, now() AS at"


async def _nothing(_connection: asyncpg.Connection) -> None:
    return None


async def main(args: argparse.Namespace) -> None:
    timeouts = Timeouts(connect=5.0, statement=5.0, pool=5.0)
    engine = create_engine(args.url.replace("postgresql://", "postgresql+asyncpg://"))
    ours = ReadPool(engine, args.size, timeouts)
    theirs = await asyncpg.create_pool(args.url, min_size=0, max_size=args.size, reset=_nothing)
    bare = [await asyncpg.connect(args.url) for _ in range(args.concurrency)]

    async def via_bare(n: int) -> Any:
        connection = bare[n % len(bare)]
        return await connection.fetchrow(SQL, 1)

    async def via_asyncpg_pool(_n: int) -> Any:
        connection = await theirs.acquire()
        try:
            return await connection.fetchrow(SQL, 1)
        finally:
            await theirs.release(connection)

    async def via_read_pool(_n: int) -> Any:
        return await ours.fetchrow(SQL, 1)

    paths: dict[str, Callable[[int], Awaitable[Any]]] = {
        "bare connection": via_bare,
        "asyncpg pool": via_asyncpg_pool,
        "read pool": via_read_pool,
    }

    async def run(path: Callable[[int], Awaitable[Any]], reads: int) -> float:
        async def lane(k: int) -> None:
            for _ in range(reads // args.concurrency):
                await path(k)

        began = time.process_time()
        await asyncio.gather(*(lane(k) for k in range(args.concurrency)))
        return (time.process_time() - began) / reads * 1e6

    for path in paths.values():
        await run(path, 200)  # warm: connections open, statements prepared
    results: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, path in paths.items():
            results[name].append(await run(path, args.reads))
    print(
        f"CPU per read of this process, {args.reads} reads {args.concurrency} at a time, "
        f"median of {args.repeats}:"
    )
    floor = statistics.median(results["bare connection"])
    for name, runs in results.items():
        median = statistics.median(runs)
        print(
            f"  {name:<16} {median:7.1f} us  (+{median - floor:5.1f} over a bare connection; "
            f"min {min(runs):.1f}, max {max(runs):.1f})"
        )
    await ours.close()
    await theirs.close()
    for connection in bare:
        await connection.close()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--size", type=int, default=5, help="the pools' size")
    asyncio.run(main(parser.parse_args()))
