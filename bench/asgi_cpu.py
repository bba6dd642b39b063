"""The product's own CPU per request, and the floor's, measured in one process without a server.

Run on its own, never from the test suite::

    .venv/bin/python bench/asgi_cpu.py [--operation "me (trusted)"] [--requests 2000] [--repeats 7]

It seeds a fresh database as ``sample_profile.py`` does, builds the product's ASGI app as
``datarights serve`` does (same settings, logging to a file) and the floor's (bench/floor.py), and
calls each directly, one request at a time, on uvloop: no uvicorn, no wrk, no other process. Each
repeat times ``--requests`` requests with the process's CPU clock, which does not count the wait
for PostgreSQL, so what is left is the work of the app and of the driver in this process. It
prints, per side, the median and the spread of the repeats in microseconds per request, and the
ratio of the two medians. The sides alternate repeat by repeat.

Under wrk the same figure has a server around it (HTTP parsing, the event loop's transport) that
both sides pay alike, and several requests in flight; this one moves by a few per cent between
runs where a wrk run moves by ten, so it can tell a small change from noise (docs/performance.md).
``--set DATARIGHTS_NAME=VALUE`` gives the product a setting, as in ``sample_profile.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import versus_floor as vf

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operation", default="me (trusted)", help="a name of versus_floor's")
    parser.add_argument("--requests", type=int, default=2_000, help="requests per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="after the repeats, run cProfile over the product's requests and print its top N",
    )
    vf.add_set_argument(parser)
    return parser.parse_args(argv)


def scope_of(path: str, body: bytes, token: str | None) -> dict[str, Any]:
    headers = [
        (b"host", harness.HOST.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": (harness.HOST, 8000),
        "state": {},
    }


async def call(app: Asgi, path: str, body: bytes, token: str | None) -> tuple[int, bytes]:
    """One request through the ASGI app: its status and body."""
    sent = False
    answer: dict[str, Any] = {"status": 0, "body": []}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays: nothing more arrives
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"].append(message.get("body", b""))

    await app(scope_of(path, body, token), receive, send)
    return answer["status"], b"".join(answer["body"])


async def cpu_per_request(
    app: Asgi, path: str, bodies: list[bytes], tokens: list[str | None], count: int
) -> float:
    """Microseconds of this process's CPU per request, over ``count`` requests."""
    began = time.process_time()
    for i in range(count):
        await call(app, path, bodies[i % len(bodies)], tokens[i % len(tokens)])
    return 1e6 * (time.process_time() - began) / count


async def check(app: Asgi, path: str, body: bytes, token: str | None, side: str) -> None:
    status, answer = await call(app, path, body, token)
    payload = json.loads(answer)
    if status != 200 or payload.get("errors") or not payload.get("data"):
        raise RuntimeError(f"{side} {path}: {status} {answer[:300]!r}")


async def measure(
    args: argparse.Namespace, database: str, ops: dict[str, Any], tokens: list[str], key: str
) -> dict[str, list[float]]:
    target, bodies, floor_target, floor_bodies, auth = ops[args.operation]
    auth_tokens: list[str | None] = (
        list(tokens) if auth == "sessions" else [key] if auth == "key" else [None]
    )
    env = harness.clean_environment(database, vf.RATE_LIMITS_RAISED | vf.overrides(args.set))
    os.environ.clear()
    os.environ.update(env | {"FLOOR_DSN": harness.database_dsn(database)})
    import floor

    from api.app import app_from_environment

    product = app_from_environment()
    sides: dict[str, tuple[Asgi, str, list[bytes]]] = {
        "product": (product, target, [b.encode() for b in bodies]),
        "floor": (floor.app, floor_target, [b.encode() for b in floor_bodies]),
    }
    times: dict[str, list[float]] = {"product": [], "floor": []}
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(product.router.lifespan_context(product))
        await stack.enter_async_context(floor.app.router.lifespan_context(floor.app))
        for side, (app, path, encoded) in sides.items():
            await check(app, path, encoded[0], auth_tokens[0], side)
            await cpu_per_request(app, path, encoded, auth_tokens, args.requests // 2)  # warm-up
        for _ in range(args.repeats):
            for side, (app, path, encoded) in sides.items():
                times[side].append(
                    await cpu_per_request(app, path, encoded, auth_tokens, args.requests)
                )
        if args.profile:
            app, path, encoded = sides["product"]
            profiler = cProfile.Profile()
            profiler.enable()
            await cpu_per_request(app, path, encoded, auth_tokens, args.requests)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            for order in ("tottime", "cumulative"):
                stats.sort_stats(order).print_stats(args.profile)
            print(out.getvalue(), file=sys.__stdout__)
    return times


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.stop_on_sigterm()
    run = harness.Run("asgi-cpu")
    rng = random.Random(1)
    run.create_database()
    log = harness.RESULTS / f"asgi-cpu-{run.stamp}.log"
    with run.scope() as cwd:
        ops, tokens, key = vf.seed_small(
            run, cwd, args.customers, args.sessions, rng, vf.overrides(args.set)
        )
        environment = dict(os.environ)
        # The product logs as a served worker does, to its own file instead of a terminal.
        with log.open("w") as out, contextlib.redirect_stderr(out):
            try:
                times = uvloop.run(measure(args, run.database, ops, tokens, key))
            finally:
                os.environ.clear()
                os.environ.update(environment)
    print(
        f"\n{args.operation}: CPU per request in one process, {args.repeats} repeats of "
        f"{args.requests} requests (log: {log.relative_to(harness.ROOT)})"
    )
    medians = {}
    for side, values in times.items():
        medians[side] = statistics.median(values)
        print(
            f"  {side:8} median {medians[side]:7.1f} us  "
            f"(min {min(values):.1f}, max {max(values):.1f})"
        )
    print(f"  floor / product: {medians['floor'] / medians['product']:.3f}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
