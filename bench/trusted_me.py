"""`me` in-process: the prepared path of a trusted document against the general path.

Run on its own, never from the test suite::

    .venv/bin/python bench/trusted_me.py [--requests 2000] [--database-url URL | --postgres]

It builds the app in this process (no server, no network: httpx's ASGI transport), on a fresh
SQLite file unless ``--database-url`` names another (empty) database or ``--postgres`` asks for
a fresh one on the tests' PostgreSQL, registers one customer, trusts the `me` document the API
tests use, and then sends, in alternating rounds of 100, ``--requests`` requests by the
document's text (the general path: Strawberry parses, validates and executes it) and as many by
its ``documentId`` (the prepared path: one statement, orjson). It prints each path's median and
p90 per request and the ratio of the medians. The figures are of this machine at this moment:
quote them with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import close_dependencies, create_app
from api.settings import Settings
from domain.documents import use_cases
from domain.documents.model import document_hash
from persistence.migrate import upgrade
from tests.api.documents import ME, REGISTER
from tests.factories import registration

ROUND = 100


async def bench(requests: int, database_url: str) -> None:
    await upgrade(database_url)
    settings = Settings(
        database_url=database_url,
        argon2_memory_kib=8,  # the one registration is setup, not what is measured
        argon2_time_cost=1,
        rate_limits_in_memory=True,
    )
    app = create_app(settings)
    deps = app.state.deps
    digest = document_hash(ME)
    await use_cases.trust_documents(deps, [(digest, ME, "Me")])
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        registered = await http.post(
            "/graphql", json={"query": REGISTER, "variables": {"input": registration()}}
        )
        token = registered.json()["data"]["register"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        bodies = {"general": {"query": ME}, "prepared": {"documentId": f"sha256:{digest}"}}
        answers = {}
        for name, body in bodies.items():  # warm up: caches, pool, the first lookup
            for _ in range(50):
                response = await http.post("/graphql", json=body, headers=headers)
            answers[name] = response.json()
        assert answers["general"] == answers["prepared"], answers
        timings: dict[str, list[float]] = {name: [] for name in bodies}
        for _ in range(max(1, requests // ROUND)):
            for name, body in bodies.items():
                for _ in range(ROUND):
                    start = time.perf_counter()
                    response = await http.post("/graphql", json=body, headers=headers)
                    timings[name].append(time.perf_counter() - start)
                    assert response.status_code == 200
    await close_dependencies(deps)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    backend = database_url.split(":")[0]
    print(f"me, {len(timings['general'])} requests per path, in-process ({backend})")
    for name, values in timings.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"  {name:<9} median {medians[name] * 1e3:7.3f} ms   p90 {p90 * 1e3:7.3f} ms")
    print(f"  general / prepared: {medians['general'] / medians['prepared']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a fresh database on the tests' PostgreSQL (DATARIGHTS_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    if args.postgres:
        from tests import backends

        name = asyncio.run(backends.create_postgres_database())
        try:
            asyncio.run(bench(args.requests, backends.postgres_url(name)))
        finally:
            asyncio.run(backends.drop_postgres_database(name))
        return
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
        asyncio.run(bench(args.requests, url))


if __name__ == "__main__":
    main()
