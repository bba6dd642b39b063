"""Policy notice benchmark: the time of publishing a privacy-policy version, which queues one
outbox e-mail per customer in the same transaction.

Run on its own, never from the test suite::

    .venv/bin/python bench/policy_notices.py [--customers 1000 10000 50000] [--publishes 5]

It creates a fresh PostgreSQL database on 127.0.0.1:5432 and migrates it in this process
(``persistence.migrate.upgrade``); no server is started. It seeds customers with one set-based
``INSERT … SELECT generate_series`` (every NOT NULL column of ``customers`` filled, unique e-mail
addresses), smallest size first and growing to the next. The application's dependencies are built
in this process (``api.app.build_dependencies``), and ``publish_policy_version`` is called
directly: it pages through the customers 1,000 at a time and writes their notices to
``outbox_messages`` as multi-row INSERTs, all in one transaction.

For each size, one untimed warm-up publish comes first (its time is reported: the first one of
the run also compiles SQLAlchemy's statements). Then the outbox is emptied (TRUNCATE, then
ANALYZE), and ``--publishes`` versions are published one after another, each with a new name and
an effective date a year ahead; every publish is timed, wall and this process's CPU, and its SQL
statements are counted. Then the notices are counted per version in the database: each version
must have exactly one per customer.

It prints a table, writes the results as JSON to ``bench/results/policy-notices-<timestamp>.json``
and drops the database, also on failure. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import harness
from sqlalchemy import event

from api.app import build_dependencies, close_dependencies
from api.settings import Settings
from domain.dependencies import Dependencies
from domain.policies.notice import earliest_effective_at
from domain.policies.use_cases import NOTICE_BATCH, NOTICE_KIND, publish_policy_version
from persistence.migrate import upgrade
from persistence.tables import customers as customers_table

MIN_PUBLISHES = 3  # timed publishes per size, whatever the time budget
EFFECTIVE_AFTER = timedelta(days=365)
SUMMARY = (
    "We now keep sign-in records for 60 days instead of 90, name the two processors that host "
    "our e-mail, and explain how to object to product-update mail. Nothing changes in what you "
    "share with partners: your choices stay as they are."
)
URL = "https://example.com/privacy/{version}"

# The seeded customers: a SQL expression of the row number n for every column written. Every
# NOT NULL column without a server default must be here (checked against persistence/tables.py).
SEED_COLUMNS = {
    "id": "gen_random_uuid()",
    "email": "'notice-' || n || '@example.com'",
    "password_hash": "'$argon2id$v=19$m=19456,t=2,p=1$YmVuY2g$bm90LWEtcmVhbC1oYXNo'",
    "name": "'Customer ' || n",
    "company_name": "'Company ' || n || ' Ltd'",
    "address_line1": "n || ' High Street'",
    "address_city": "'London'",
    "address_postal_code": "'SW1Y 4JH'",
    "address_country": "'GB'",
    "phone": "'+44 20 7946 0958'",
    "billing_name": "'Company ' || n || ' Ltd'",
    "billing_address_line1": "n || ' High Street'",
    "billing_address_city": "'London'",
    "billing_address_postal_code": "'SW1Y 4JH'",
    "billing_address_country": "'GB'",
    "billing_organization_users": "1 + n % 500",
    "card_vault_token": "'bench-vault-' || n",
    "card_brand": "'visa'",
    "card_last4": "'4242'",
    "card_exp_month": "12",
    "card_exp_year": "2031",
    "created_at": "now() - interval '400 days'",
    "updated_at": "now() - interval '400 days'",
    "version": "1",
}


def check_seed_columns() -> None:
    """Raises if ``SEED_COLUMNS`` misses a NOT NULL column of ``customers`` or names one that
    no longer exists."""
    columns = {c.name: c for c in customers_table.columns}
    required = {n for n, c in columns.items() if not c.nullable and c.server_default is None}
    missing = sorted(required - SEED_COLUMNS.keys())
    unknown = sorted(SEED_COLUMNS.keys() - columns.keys())
    if missing or unknown:
        raise RuntimeError(
            f"SEED_COLUMNS is out of date with persistence/tables.py: missing {missing}, "
            f"unknown {unknown}"
        )


async def seed_customers(dsn: str, first: int, last: int) -> float:
    """Customers number ``first`` to ``last`` (inclusive), in one statement; then VACUUM ANALYZE.
    Returns the seconds it took."""
    names = ", ".join(SEED_COLUMNS)
    values = ", ".join(SEED_COLUMNS.values())
    start = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            f"INSERT INTO customers ({names}) "  # noqa: S608
            f"SELECT {values} FROM generate_series($1::int, $2::int) AS n",
            first,
            last,
        )
        await connection.execute("VACUUM ANALYZE customers")
    finally:
        await connection.close()
    return time.perf_counter() - start


async def empty_outbox(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("TRUNCATE outbox_messages")
        await connection.execute("ANALYZE outbox_messages")
    finally:
        await connection.close()


async def database_facts(dsn: str) -> dict[str, Any]:
    """Customers, notices per version (count and distinct customers) and the outbox's size."""
    connection = await asyncpg.connect(dsn)
    try:
        customers = int(await connection.fetchval("SELECT count(*) FROM customers"))
        rows = await connection.fetch(
            "SELECT reference, count(*) AS notices, count(DISTINCT customer_id) AS customers "
            "FROM outbox_messages WHERE kind = $1 GROUP BY reference ORDER BY reference",
            NOTICE_KIND,
        )
        size = int(await connection.fetchval("SELECT pg_total_relation_size('outbox_messages')"))
    finally:
        await connection.close()
    return {
        "customers": customers,
        "notices": {r["reference"]: (int(r["notices"]), int(r["customers"])) for r in rows},
        "outbox_bytes": size,
    }


class StatementCounter:
    """Counts the statements the engine sends (each page of a multi-row INSERT is one)."""

    def __init__(self, deps: Dependencies) -> None:
        self.count = 0
        engine = deps.unit_of_work.engine
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


async def publish(
    deps: Dependencies, counter: StatementCounter, version: str, customers: int
) -> dict[str, Any]:
    """One timed publish of ``version``; checks that it queued ``customers`` notices."""
    now = datetime.now(UTC)
    effective = max(now + EFFECTIVE_AFTER, earliest_effective_at(now, deps.policy_calendar))
    statements = counter.count
    cpu = time.process_time()
    start = time.perf_counter()
    published = await publish_policy_version(
        deps, uuid.uuid4(), version, SUMMARY, URL.format(version=version), effective
    )
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if published.notices_queued != customers:
        raise RuntimeError(
            f"{version}: {published.notices_queued} notices queued for {customers} customers"
        )
    return {
        "version": version,
        "seconds": seconds,
        "process_cpu_s": cpu,
        "statements": counter.count - statements,
    }


def _rounded(publish: dict[str, Any]) -> dict[str, Any]:
    return publish | {
        "seconds": round(publish["seconds"], 4),
        "process_cpu_s": round(publish["process_cpu_s"], 4),
    }


async def measure_size(
    deps: Dependencies,
    counter: StatementCounter,
    run: harness.Run,
    customers: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """``--publishes`` timed publishes (fewer, at least ``MIN_PUBLISHES``, if the next would end
    past ``--seconds-per-size``), the CPU they used, and the notices counted in the database."""
    await empty_outbox(run.dsn)
    meter = harness.CpuMeter(os.getpid(), run.database)
    await meter.start()
    timed: list[dict[str, Any]] = []
    began = time.perf_counter()
    while len(timed) < args.publishes:
        spent = time.perf_counter() - began
        expected = statistics.fmean(p["seconds"] for p in timed) if timed else 0.0
        if len(timed) >= MIN_PUBLISHES and spent + expected > args.seconds_per_size:
            break  # the next publish would end past the budget
        version = f"bench-{customers}-{len(timed) + 1}"
        timed.append(await publish(deps, counter, version, customers))
        print(f"                {version}: {timed[-1]['seconds'] * 1000:,.0f} ms")
        sys.stdout.flush()
    cpu = await meter.stop()
    facts = await database_facts(run.dsn)
    problems = [
        f"{p['version']}: {facts['notices'].get(p['version'])} (notices, distinct customers) "
        f"in the outbox, {customers} expected"
        for p in timed
        if facts["notices"].get(p["version"]) != (customers, customers)
    ]
    if facts["customers"] != customers:
        problems.append(f"{facts['customers']} customers in the database, {customers} expected")
    seconds = [p["seconds"] for p in timed]
    median = statistics.median(seconds)
    # This process's CPU is counted by CpuMeter as both "server" (its own pid) and "load
    # generator"; other work is what the machine used beyond this process and the backends.
    other = max(
        0.0,
        cpu["machine_busy_cores"] - cpu["load_generator_cores"] - cpu["database_backends_cores"],
    )
    return {
        "customers": customers,
        "publishes": len(timed),
        "trimmed_by_budget": len(timed) < args.publishes,
        "time": harness.summary_ms(seconds),
        "notices_per_s_median": round(customers / median),
        "notices_per_s_best": round(customers / min(seconds)),
        "process_cpu_ms_median": round(statistics.median(p["process_cpu_s"] for p in timed) * 1000),
        "backend_cpu_ms_per_publish": round(
            cpu["database_backends_cores"] * cpu["wall_s"] / len(timed) * 1000
        ),
        "statements_per_publish": sorted({p["statements"] for p in timed}),
        "outbox_bytes_after": facts["outbox_bytes"],
        "cpu": {
            "wall_s": cpu["wall_s"],
            "this_process_cores": cpu["load_generator_cores"],
            "database_backends_cores": cpu["database_backends_cores"],
            "machine_busy_cores": cpu["machine_busy_cores"],
            "other_cores": round(other, 2),
        },
        "problems": problems,
        "runs": [_rounded(p) for p in timed],
    }


async def measure(run: harness.Run, args: argparse.Namespace) -> dict[str, Any]:
    """Migrates, then per size: seeds up to it, measures it."""
    check_seed_columns()
    start = time.perf_counter()
    await upgrade(run.url)
    print(f"  migrated      in {time.perf_counter() - start:.1f} s")
    # No .env, no DATARIGHTS_* variable: the application's defaults and this database only.
    for name in [k for k in os.environ if k.startswith("DATARIGHTS_")]:
        del os.environ[name]
    settings = Settings(_env_file=None, database_url=run.url, database_pool_size=2)
    deps = build_dependencies(settings)
    out: dict[str, Any] = {"seed": [], "sizes": []}
    try:
        counter = StatementCounter(deps)
        seeded = 0
        for customers in args.customers:
            seconds = await seed_customers(run.dsn, seeded + 1, customers)
            out["seed"].append(
                {"customers": customers, "added": customers - seeded, "s": round(seconds, 2)}
            )
            print(
                f"  seeded        {customers - seeded:,} customers ({customers:,} in all) in "
                f"{seconds:.1f} s"
            )
            seeded = customers
            warm = await publish(deps, counter, f"bench-{customers}-warm-up", customers)
            print(
                f"  warm-up       1 publish to {customers:,} customers: "
                f"{warm['seconds'] * 1000:,.0f} ms (not counted)"
            )
            print(f"  measuring     {customers:,} customers")
            sys.stdout.flush()
            size = await measure_size(deps, counter, run, customers, args)
            out["sizes"].append(size | {"warm_up": _rounded(warm)})
    finally:
        await close_dependencies(deps)
    return out


# --------------------------------------------------------------------------- report


def report(results: dict[str, Any]) -> str:
    cfg = results["config"]
    sizes = results["sizes"]
    lines = [
        "",
        f"  publish_policy_version, in this process; outbox emptied before each size; "
        f"{cfg['publishes']} publishes per size, each a new version:",
        "",
        f"  {'customers':>9} {'publishes':>9} {'median ms':>10} {'min ms':>9} {'max ms':>9} "
        f"{'notices/s':>10} {'(best)':>8} {'CPU ms py':>10} {'CPU ms pg':>10} "
        f"{'statements':>10} {'warm-up ms':>10}",
    ]
    for s in sizes:
        t = s["time"]
        lines.append(
            f"  {s['customers']:>9,} {s['publishes']:>9} {t['median_ms']:>10,.1f} "
            f"{t['min_ms']:>9,.1f} {t['max_ms']:>9,.1f} {s['notices_per_s_median']:>10,} "
            f"{s['notices_per_s_best']:>8,} {s['process_cpu_ms_median']:>10,} "
            f"{s['backend_cpu_ms_per_publish']:>10,} "
            f"{'/'.join(str(n) for n in s['statements_per_publish']):>10} "
            f"{s['warm_up']['seconds'] * 1000:>10,.1f}"
        )
    lines += [
        f"  NOTE: {s['customers']:,} customers: {s['publishes']} publishes, not "
        f"{cfg['publishes']}: the next would have ended past the budget of "
        f"{cfg['seconds_per_size']:g} s per size (--seconds-per-size)"
        for s in sizes
        if s["trimmed_by_budget"]
    ]
    lines += [
        "  (notices/s: customers / median time, (best): / min time; CPU ms py: this process's "
        "CPU per publish, median;",
        "  CPU ms pg: the database's backends per publish, mean; statements: SQL statements per "
        f"publish, each page of {NOTICE_BATCH:,}",
        "  rows of the multi-row INSERT counted as one; warm-up: the untimed publish before them, "
        "the first of the run also compiling the statements)",
        "",
    ]
    for s in sizes:
        c = s["cpu"]
        lines.append(
            f"  {s['customers']:>9,} customers: {s['publishes']} versions with one notice per "
            f"customer each ({'checked' if not s['problems'] else 'PROBLEMS'}); outbox "
            f"{s['outbox_bytes_after'] / 1024 / 1024:,.1f} MiB after; cores: this process "
            f"{c['this_process_cores']:.2f}, PostgreSQL backends {c['database_backends_cores']:.2f}"
            f", other {c['other_cores']:.2f}"
        )
        lines += [f"      {p}" for p in s["problems"]]
    lines += harness.noise_warnings(
        [(f"the {s['customers']:,}-customer publishes", s["cpu"]) for s in sizes]
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers",
        type=int,
        nargs="+",
        default=[1_000, 10_000, 50_000],
        help="customers, one measurement per size, smallest first (default 1000 10000 50000)",
    )
    parser.add_argument(
        "--publishes", type=int, default=5, help="timed publishes per size (default 5)"
    )
    parser.add_argument(
        "--seconds-per-size",
        type=float,
        default=120.0,
        help="time budget of one size's publishes: no publish is started that would end past "
        f"it, once {MIN_PUBLISHES} are done (default 120)",
    )
    args = parser.parse_args(argv)
    args.customers = sorted(set(args.customers))
    if not all(1 <= n <= 1_000_000 for n in args.customers):
        parser.error("--customers must be between 1 and 1000000")
    if not 1 <= args.publishes <= 100:
        parser.error("--publishes must be between 1 and 100")
    if not 1 <= args.seconds_per_size <= 3600:
        parser.error("--seconds-per-size must be between 1 and 3600")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.stop_on_sigterm()
    machine = harness.machine_facts()
    run = harness.Run("policy-notices")
    sizes = ", ".join(f"{n:,}" for n in args.customers)

    print("datarights policy notice benchmark", *harness.machine_lines(machine), sep="\n")
    print(
        f"  load          publish_policy_version in this process, {args.publishes} publishes "
        f"per size ({sizes} customers), one outbox notice per customer each"
    )
    sys.stdout.flush()

    version = run.create_database()
    results: dict[str, Any] = {
        "machine": machine,
        "config": {
            "customers": args.customers,
            "publishes": args.publishes,
            "seconds_per_size": args.seconds_per_size,
            "min_publishes": MIN_PUBLISHES,
            "notice_batch": NOTICE_BATCH,
            "postgres_version": version,
            "timestamp": run.stamp,
        },
    }
    with run.scope():
        results |= asyncio.run(measure(run, args))

    run.finish(results, report)
    problems = [p for s in results["sizes"] for p in s["problems"]]
    if problems:
        print(f"\n  {len(problems)} problem(s) with the notices", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    harness.run_main(main)
