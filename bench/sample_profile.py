"""Where a served operation spends its CPU: py-spy samples one worker under wrk load.

Run on its own, never from the test suite::

    .venv/bin/pip install py-spy              # the sampler (not a dependency of the product)
    .venv/bin/python bench/sample_profile.py [--operation "me (ad hoc)"] [--duration 10] [--top 40]

It seeds a fresh database as ``versus_floor.py`` does (fewer customers by default), serves the
product with ``datarights serve --workers 1``, loads it with ``wrk -t1 -c16`` for ``--duration``
seconds while ``py-spy record`` samples the worker (idle frames off; C frames only with
``--native``, which pauses the worker at each sample and so slows it down a lot), and prints,
from the collapsed stacks, the functions with the largest inclusive and own share of the samples.
The raw stacks go to ``bench/results/profile-<stamp>.txt`` (feed them to any flamegraph tool,
e.g. speedscope.app). py-spy needs ptrace: run as root or with ``CAP_SYS_PTRACE``.
``--no-sampler`` runs no sampler and prints req/s and the server's CPU per request instead.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import versus_floor as vf


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operation", default="me (ad hoc)", help="a name of versus_floor's")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--no-sampler",
        action="store_true",
        help="only measure (req/s, server CPU per request), for a quick before/after",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--native", action="store_true", help="py-spy also samples C frames")
    vf.add_set_argument(parser)
    return parser.parse_args(argv)


def shares(stacks: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Samples in all, and per function its inclusive and own samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        frames_text, _, count_text = line.rpartition(" ")
        if not frames_text:
            continue
        count = int(count_text)
        frames = frames_text.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    return total, inclusive, own


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not args.no_sampler and not Path(spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    harness.stop_on_sigterm()
    run = harness.Run("profile")
    rng = random.Random(1)
    run.create_database()
    stacks = harness.RESULTS / f"profile-{run.stamp}.txt"
    with run.scope() as cwd:
        ops, tokens, key = vf.seed_small(
            run, cwd, args.customers, args.sessions, rng, vf.overrides(args.set)
        )
        target, bodies, _, _, auth = ops[args.operation]
        script = cwd / "load.lua"
        auth_tokens = tokens if auth == "sessions" else [key] if auth == "key" else []
        vf.write_script(script, target, bodies, auth_tokens)
        run.start_server(args.workers, cwd, vf.RATE_LIMITS_RAISED | vf.overrides(args.set))
        vf.check_once(run.base_url, target, bodies[0], vf.auth_token(auth, tokens, key))
        vf.run_wrk(run.base_url, script, args.connections, 2)  # warm-up
        vf.wait_idle(run.pid)
        meter = harness.CpuMeter(run.pid, run.database)
        asyncio.run(meter.start())
        if args.no_sampler:
            result = vf.run_wrk(run.base_url, script, args.connections, args.duration)
            cpu = asyncio.run(meter.stop())
            ms = 1000 * cpu["server_cores"] * result["seconds"] / max(result["requests"], 1)
            print(
                f"\n{args.operation}: {result['req_s']} req/s, p50 {result['p50_ms']} ms, "
                f"p99 {result['p99_ms']} ms ({args.workers} worker(s), wrk -c{args.connections}); "
                f"server {cpu['server_cores']:.2f} cores = {ms:.2f} ms CPU per request, "
                f"PostgreSQL {cpu['database_backends_cores']:.2f} cores, "
                f"other {cpu['other_cores']:.2f}; RSS MiB {vf.rss_per_process(run.pid)}"
            )
            return 0
        sampler = subprocess.Popen(
            [
                *(spy, "record", "--pid", str(run.pid), "--subprocesses", "--format", "raw"),
                *("--rate", str(args.rate), "--duration", str(args.duration + 1)),
                *("--output", str(stacks)),
                # C frames need the process paused at each sample (slow, but it shows the GC)
                *(["--native"] if args.native else ["--nonblocking"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = vf.run_wrk(run.base_url, script, args.connections, args.duration)
        sampler.wait(timeout=60)
    total, inclusive, own = shares(stacks)
    print(
        f"\n{args.operation}: {result['req_s']} req/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms (1 worker, wrk -c{args.connections}); {total} samples"
    )
    for title, counter in (("inclusive", inclusive), ("own", own)):
        print(f"\n  top {args.top} by {title} share")
        for frame, count in counter.most_common(args.top):
            print(f"  {100 * count / total:5.1f}%  {frame[:150]}")
    print(f"\n  stacks written to {stacks.relative_to(harness.ROOT)}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
