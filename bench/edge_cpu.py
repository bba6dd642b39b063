"""What each layer of the HTTP edge costs a request, in microseconds of CPU, without a database.

Run on its own, never from the test suite::

    .venv/bin/python bench/edge_cpu.py [--requests 20000] [--repeats 5]

The edge (api/http_edge.py) is built as api/app.py builds it, around a stub app that reads the
body and answers two bytes of JSON, and called directly on uvloop, one request at a time, with
a POST /graphql as a front end sends it. Each line adds one layer or feature to the line before
it; the figure is the least over the repeats of the process's CPU time per request (as timeit
reports: what the machine added is never negative), and the
difference from the line before is what that layer costs. The layers alternate within each
repeat, so a slower moment of the machine touches them all alike. Without a database, a server
or a load generator the figures move by a few per cent at most between runs, where a wrk run
moves by ten: small changes to the edge are measured here (docs/performance.md).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.http_edge import BodyLimit, CorsPolicy, HttpEdge
from api.logs import handler
from api.metrics import Metrics

Asgi = Callable[..., Any]
FRONT_END = "https://app.example.com"
CORS = {
    "allow_origins": [FRONT_END],
    "allow_credentials": True,
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["Content-Type", "Authorization"],
    "max_age": 600,
}
BODY = b'{"documentId":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}'
HEADERS = [
    (b"host", b"api.example.com"),
    (b"content-type", b"application/json"),
    (b"accept", b"application/graphql-response+json, application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"authorization", b"Bearer 0123456789abcdef0123456789abcdef"),
]


async def stub(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


def edge(*, cors: bool, metrics: Metrics | None) -> Asgi:
    return HttpEdge(
        BodyLimit(stub, max_bytes=1_048_576),
        graphql_path="/graphql",
        metrics=metrics,
        hsts=False,
        ide_path="/graphql",
        ide_policy="default-src 'none'",
        cors=CorsPolicy(**CORS) if cors else None,
    )


async def call(app: Asgi, origin: bool) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    headers = [*HEADERS, (b"origin", FRONT_END.encode())] if origin else HEADERS
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}
    await app(scope, receive, send)


def access_log(json_lines: bool | None, stream: io.TextIOBase) -> None:
    """The access event at INFO into ``stream`` in our format (None: logging off)."""
    root = logging.getLogger()
    root.handlers.clear()
    if json_lines is None:
        root.setLevel(logging.WARNING)
        return
    root.addHandler(handler(json_lines, stream))
    root.setLevel(logging.INFO)


async def measure(args: argparse.Namespace, log_file: io.TextIOBase) -> dict[str, list[float]]:
    metrics = Metrics(engine=None, multiprocess_dir=None)
    # (name, app, access log: None off / False text / True JSON, request with an Origin);
    # each step adds one thing to the step before it, but for the last one, which is "+ CORS"
    # with an Origin that it allows
    steps: list[tuple[str, Asgi, bool | None, bool]] = [
        ("the stub app alone", stub, None, False),
        ("+ body limit", BodyLimit(stub, max_bytes=1_048_576), None, False),
        ("+ HttpEdge (id, headers)", edge(cors=False, metrics=None), None, False),
        ("+ CORS", edge(cors=True, metrics=None), None, False),
        ("+ metrics", edge(cors=True, metrics=metrics), None, False),
        ("+ access log (text)", edge(cors=True, metrics=metrics), False, False),
        ("+ access log (JSON, not text)", edge(cors=True, metrics=metrics), True, False),
        ("+ CORS, an allowed Origin", edge(cors=True, metrics=None), None, True),
    ]
    times: dict[str, list[float]] = {name: [] for name, *_ in steps}
    for _ in range(args.repeats):
        for name, app, json_lines, origin in steps:
            access_log(json_lines, log_file)
            for _ in range(args.requests // 10):
                await call(app, origin)  # warm-up
            began = time.process_time()
            for _ in range(args.requests):
                await call(app, origin)
            times[name].append(1e6 * (time.process_time() - began) / args.requests)
    access_log(None, log_file)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    # Lines go to /dev/null: a write costs a system call as to a file or a pipe, without the
    # disk's or the reader's pace.
    with open(os.devnull, "w") as log_file:
        times = uvloop.run(measure(args, log_file))
    print(f"CPU per request, the least of {args.repeats} repeats of {args.requests} requests")
    medians = {name: min(values) for name, values in times.items()}
    bases = {
        "+ access log (JSON, not text)": "+ metrics",
        "+ CORS, an allowed Origin": "+ CORS",
    }
    before = None
    for name, median in medians.items():
        base = medians[bases[name]] if name in bases else before
        added = "" if base is None else f"  ({median - base:+.2f})"
        print(f"  {name:32} {median:6.2f} us{added}")
        before = median
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
