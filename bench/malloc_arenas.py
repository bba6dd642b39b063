"""What a worker keeps after password hashes, with glibc's default arenas and with one.

Run on its own (Linux, glibc)::

    .venv/bin/python bench/malloc_arenas.py            # default: an arena per thread
    .venv/bin/python bench/malloc_arenas.py --one      # as one_malloc_arena() sets it

Two single-thread pools hash in turn, as the idle-priority and the normal-priority pools of
``persistence.passwords.Argon2PasswordHasher`` do, then together; the process's RSS and the
median time of a hash are printed after each phase. With an arena per thread each pool's thread
keeps its own 19 MiB block; with one arena they reuse one (and a block freed at the top of the
main heap beyond the trim threshold is given back).
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from argon2 import PasswordHasher

M_ARENA_MAX = -8


def rss_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", action="store_true", help="mallopt(M_ARENA_MAX, 1) first")
    args = parser.parse_args()
    if args.one:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    hasher = PasswordHasher(memory_cost=19_456, time_cost=2, parallelism=1)
    hasher.hash("decoy")  # the app hashes its decoy on the main thread at start-up
    idle, normal = ThreadPoolExecutor(1), ThreadPoolExecutor(1)

    def timed() -> float:
        began = time.perf_counter()
        hasher.hash("correct horse battery staple")
        return time.perf_counter() - began

    def report(phase: str, times: list[float]) -> None:
        median = f"{1000 * statistics.median(times):.1f} ms a hash" if times else ""
        print(f"{phase:<34} RSS {rss_mib():>4} MiB  {median}")

    print(f"arenas: {'one' if args.one else 'glibc default (one per thread)'}")
    report("start", [])
    report("10 hashes on pool A", [idle.submit(timed).result() for _ in range(10)])
    report("then 10 on pool B", [normal.submit(timed).result() for _ in range(10)])
    both: list[float] = []
    for _ in range(5):
        a, b = idle.submit(timed), normal.submit(timed)
        both += [a.result(), b.result()]
    report("5 times on both at once", both)
    report("then 10 on pool A", [idle.submit(timed).result() for _ in range(10)])


if __name__ == "__main__":
    main()
