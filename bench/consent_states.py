"""consentStates benchmark: a partner asks for the consent of 1,000 customers at once.

Run on its own, never from the test suite::

    .venv/bin/python bench/consent_states.py [--workers 2] [--requests 200] [--concurrency 4]

It creates a fresh PostgreSQL database on 127.0.0.1:5432, migrates it with ``datarights migrate``,
seeds ``--customers`` customers (10,000) directly (no argon2: a fixed placeholder hash) with the
default ledger entries and consent state the application writes at registration, plus a history
of self-service changes for about half of them, and registers a partner for the three
per-customer purposes. Then:

(a) in-process (``create_app`` + ``httpx.ASGITransport``): the SQL statements of one call with
    1 id and with 1,000 ids, and where the time of a 1,000-id call goes (the SQL alone, replayed
    on asyncpg; the use case without GraphQL; the whole GraphQL request; a cProfile summary);
(b) ``datarights serve --workers N``: ``--requests`` sequential calls of ``consentStates`` with
    1,000 ids (a fresh random sample each time, a few unknown among them) and all three purposes,
    3,000 answers each, after a warm-up; then ``--concurrency`` loops for ``--seconds``;
(c) the answers for a few customers against their ``consent_states`` rows.

It prints a table, says whether the goal "p99 under 50 ms on this machine at light load" is met,
writes the results as JSON to ``bench/results/consent-states-<timestamp>.json`` and the server's
output next to it, then stops the server and drops the database, also on failure. See
``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import harness
import httpx
import strawberry

T = TypeVar("T")
R = TypeVar("R")

PURPOSES = ["PARTNER_OFFERS", "INTEGRATION_PARTNERS", "ANALYTICS_COOKIES"]
PARTNER_NAME = "bench"
GOAL_P99_MS = 50.0
IDS_PER_CALL = 1_000  # the API's limit (MAX_IDS_PER_CALL)
WARM_UP_CALLS = 10
CONCURRENT_WARM_UP_S = 1.0
ANATOMY_CALLS = 20
PROFILED_CALLS = 10
CHECKED_CUSTOMERS = 10  # with history, and as many without, in (c)
LEDGER_BATCH_CUSTOMERS = 250  # 2,250 ledger rows per INSERT: under asyncpg's 32,767 parameters
MAX_REQUESTS_PER_LOOP = 100_000  # every loop also stops at its deadline
# Not a hash of anything: nobody signs in as a seeded customer.
PLACEHOLDER_HASH = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzZWVk$YmVuY2hwbGFjZWhvbGRlcm5vdGFoYXNo"

# As in tests/api/test_partners.py (copied, not imported).
STATES = """
query States($ids: [ID!]!, $purposes: [SharingPurpose!]) {
  consentStates(customerIds: $ids, purposes: $purposes) { customerId purpose granted updatedAt }
}
"""


# --------------------------------------------------------------------------- measurements


@dataclass
class CallSamples(harness.Samples):
    """``harness.Samples``, and the answers of the calls that succeeded: all, and granted."""

    answers: int = 0
    granted: int = 0

    def merge(self, other: CallSamples) -> None:
        super().merge(other)
        self.answers += other.answers
        self.granted += other.granted

    def counts(self) -> dict[str, Any]:
        return super().counts() | {"answers": self.answers, "granted_answers": self.granted}


def call_ids(rng: random.Random, known: Sequence[str], unknown: int) -> list[str]:
    """``IDS_PER_CALL`` ids: a random sample of the seeded ones and ``unknown`` made-up ones."""
    ids = rng.sample(known, IDS_PER_CALL - unknown) + [str(uuid.uuid4()) for _ in range(unknown)]
    rng.shuffle(ids)
    return ids


def states_body(ids: list[str]) -> dict[str, Any]:
    return {"query": STATES, "variables": {"ids": ids, "purposes": PURPOSES}}


def check_states(response: httpx.Response, expected: int) -> tuple[str | None, list[Any]]:
    """None and the answers when ``response`` carries ``expected`` answers, else a failure kind."""
    problem, data = harness.graphql_data(response)
    if problem is not None:
        return problem, []
    answers = data.get("consentStates")
    if not isinstance(answers, list):
        return "no consentStates in data", []
    if len(answers) != expected:
        return f"{len(answers)} answers instead of {expected}", []
    return None, answers


async def states_call(
    http: httpx.AsyncClient, ids: list[str], samples: CallSamples
) -> tuple[str | None, list[Any]]:
    """One consentStates call, timed into ``samples``."""
    start = time.perf_counter()
    try:
        response = await http.post("/graphql", json=states_body(ids))
    except httpx.HTTPError as failure:  # timeouts, refused and reset connections
        samples.record(time.perf_counter() - start, f"transport: {type(failure).__name__}")
        return "transport", []
    elapsed = time.perf_counter() - start  # the body has been read; parsing is not counted
    problem, answers = check_states(response, len(ids) * len(PURPOSES))
    samples.record(elapsed, problem)
    if problem is None:
        samples.answers += len(answers)
        samples.granted += sum(1 for a in answers if a["granted"])
    return problem, answers


def client(base_url: str, key: str, *, keep_alive: bool = True) -> httpx.AsyncClient:
    """An HTTP client that sends the partner's key and uses no proxy.

    Without ``keep_alive`` every request opens its own connection, as requests from different
    clients would, so the kernel hands them to whichever worker accepts first.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=harness.REQUEST_TIMEOUT_S,
        trust_env=False,  # only ever 127.0.0.1
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=16 if keep_alive else 0),
    )


# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    customer_ids: list[str]
    with_history: list[str]
    without_history: list[str]
    facts: dict[str, Any]


def customer_row(i: int, created: datetime, rng: random.Random) -> dict[str, Any]:
    """A customers row that looks like what registration stores (no card number, ever)."""
    address = {
        "line1": f"{rng.randint(1, 300)} Example Street",
        "line2": None,
        "city": rng.choice(["London", "Leeds", "Bristol", "Dublin", "Paris", "Berlin"]),
        "region": None,
        "postal_code": f"EX{rng.randint(1, 99)} {rng.randint(1, 9)}AB",
        "country": rng.choice(["GB", "IE", "FR", "DE"]),
    }
    return {
        "id": uuid.uuid4(),
        "email": f"customer-{i:05d}@example.com",
        "email_verified_at": created + timedelta(minutes=5) if rng.random() < 0.8 else None,
        "password_hash": PLACEHOLDER_HASH,
        "name": f"Customer {i:05d}",
        "company_name": f"Company {i % 1000:03d} Ltd",
        **{f"address_{k}": v for k, v in address.items()},
        "phone": f"+44 20 7946 {i % 10000:04d}",
        "billing_name": f"Company {i % 1000:03d} Ltd",
        **{f"billing_address_{k}": v for k, v in address.items()},
        "billing_organization_users": rng.randint(1, 500),
        "card_vault_token": "card_" + secrets.token_urlsafe(24),
        "card_brand": rng.choice(["VISA", "MASTERCARD", "AMEX"]),
        "card_last4": f"{rng.randint(0, 9999):04d}",
        "card_exp_month": rng.randint(1, 12),
        "card_exp_year": rng.randint(2027, 2034),
        "title": None,
        "department": None,
        "fax": None,
        "annual_revenue_amount": None,
        "annual_revenue_currency": None,
        "employee_count": None,
        "industry": None,
        "created_at": created,
        "updated_at": created,
        "version": 1,
    }


# The rows SqlConsentRepository.append writes for an entry, mirrored for COPY. seed() checks the
# mirror against rows that append itself wrote, so a change to append cannot go unnoticed.
LEDGER_COLUMNS = (
    "id",
    "tx",
    "customer_id",
    "kind",
    "subject",
    "granted",
    "previous",
    "occurred_at",
    "actor",
    "source",
    "policy_version",
    "informed_of_gpc",
)
STATE_COLUMNS = (
    "customer_id",
    "subject",
    "kind",
    "granted",
    "updated_at",
    "informed_of_gpc",
    "last_entry_id",
)
CONTEXT_COLUMNS = ("entry_id", "ip", "user_agent")
SELF_SERVICE_IP = "203.0.113.7"
SELF_SERVICE_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) bench"


def ledger_record(entry: Any, entry_id: int, tx: int) -> tuple[Any, ...]:
    """The consent_ledger row of ``entry`` (a ConsentEntry), as append writes it."""
    from domain.consent.model import subject_kind

    return (
        entry_id,
        tx,
        entry.customer_id,
        subject_kind(entry.subject),
        entry.subject.value,
        entry.granted,
        entry.previous,
        entry.occurred_at,
        entry.actor.value,
        entry.source.value,
        entry.policy_version,
        entry.informed_of_gpc,
    )


def state_record(entry: Any, entry_id: int) -> tuple[Any, ...]:
    """The consent_states row ``entry`` leaves, as append's upsert writes it."""
    from domain.consent.model import Source, subject_kind

    return (
        entry.customer_id,
        entry.subject.value,
        subject_kind(entry.subject),
        entry.granted,
        None if entry.source is Source.DEFAULT else entry.occurred_at,
        entry.informed_of_gpc,
        entry_id,
    )


def context_record(entry_id: int) -> tuple[Any, ...]:
    return (entry_id, SELF_SERVICE_IP, SELF_SERVICE_USER_AGENT[:512] or None)


@dataclass
class Plan:
    """Every customer of the seed and every ledger entry, in the order they are written: all the
    default entries, then history round 1, round 2, ... (round r changes one sharing purpose of
    every customer with at least r changes, so no (customer, subject) appears twice in a round:
    append's upsert forbids that)."""

    rows: list[dict[str, Any]]
    defaults: list[list[Any]]  # per customer, ConsentEntry
    rounds: list[list[tuple[int, Any]]]  # (customer index, ConsentEntry)
    granted_partner_purposes: int


def plan_seed(count: int, rng: random.Random) -> Plan:
    from domain.consent.model import (
        Actor,
        ConsentDefaults,
        ConsentEntry,
        SharingPurpose,
        Source,
    )

    defaults = ConsentDefaults().states()  # the defaults of api/settings.py
    now = datetime.now(UTC)
    # Created 370 to 400 days ago; at most 5 changes at most 60 days apart stay in the past.
    created = [
        now - timedelta(days=400) + timedelta(seconds=rng.uniform(0, 30 * 86400))
        for _ in range(count)
    ]
    rows = [customer_row(i, created[i], rng) for i in range(count)]
    default_entries = [
        [
            ConsentEntry(row["id"], subject, granted, None, when, Actor.SYSTEM, Source.DEFAULT)
            for subject, granted in defaults.items()
        ]
        for row, when in zip(rows, created, strict=True)
    ]
    sharing = list(SharingPurpose)
    changes = {i: rng.randint(1, 5) for i in range(count) if rng.random() < 0.5}
    state = {i: {p: defaults[p] for p in sharing} for i in changes}
    when = {i: created[i] for i in changes}
    rounds: list[list[tuple[int, Any]]] = []
    for r in range(1, 6):
        entries = []
        for i in (i for i, n in changes.items() if n >= r):
            purpose = rng.choice(sharing)
            before = state[i][purpose]
            when[i] += timedelta(seconds=rng.uniform(3600, 60 * 86400))
            entry = ConsentEntry(
                rows[i]["id"],
                purpose,
                not before,
                before,
                when[i],
                Actor.CUSTOMER,
                Source.SELF_SERVICE,
                policy_version="2026-11-26",
            )
            entries.append((i, entry))
            state[i][purpose] = not before
        rounds.append(entries)
    granted = sum(1 for i in state for p in PURPOSES if state[i][SharingPurpose(p)])
    return Plan(rows, default_entries, rounds, granted)


async def seed_through_append(database_url: str, plan: Plan, customers: int) -> None:
    """The customers and, for the first ``customers`` of them, every ledger entry through the
    application's own SqlConsentRepository.append, in batches, one transaction each."""
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from domain.identity.model import ClientInfo
    from persistence.repositories.consent import SqlConsentRepository
    from persistence.tables import customers as customers_table

    browser = ClientInfo(ip=SELF_SERVICE_IP, user_agent=SELF_SERVICE_USER_AGENT)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            for i in range(0, len(plan.rows), 2000):
                await conn.execute(insert(customers_table), plan.rows[i : i + 2000])
        for i in range(0, customers, LEDGER_BATCH_CUSTOMERS):
            end = min(i + LEDGER_BATCH_CUSTOMERS, customers)
            batch = [e for entries in plan.defaults[i:end] for e in entries]
            async with engine.begin() as conn:
                await SqlConsentRepository(conn).append(batch, None)
        for entries in plan.rounds:
            mine = [entry for i, entry in entries if i < customers]
            for j in range(0, len(mine), 2000):
                async with engine.begin() as conn:
                    await SqlConsentRepository(conn).append(mine[j : j + 2000], browser)
    finally:
        await engine.dispose()


async def seed_by_copy(dsn: str, plan: Plan, first: int) -> None:
    """Every ledger entry of the customers from index ``first`` on, with COPY, in one
    transaction: the same rows append would write (ledger, context, state)."""
    ordered = [e for entries in plan.defaults[first:] for e in entries]
    with_context = len(ordered)
    ordered += [entry for entries in plan.rounds for i, entry in entries if i >= first]
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            tx = int(await connection.fetchval("SELECT pg_current_xact_id()::text::bigint"))
            ids = [
                int(r[0])
                for r in await connection.fetch(
                    "SELECT nextval(pg_get_serial_sequence('consent_ledger', 'id')) "
                    "FROM generate_series(1, $1)",
                    len(ordered),
                )
            ]
            states: dict[tuple[Any, str], tuple[Any, ...]] = {}
            for entry, entry_id in zip(ordered, ids, strict=True):
                states[entry.customer_id, entry.subject.value] = state_record(entry, entry_id)
            await connection.copy_records_to_table(
                "consent_ledger",
                records=[ledger_record(e, i, tx) for e, i in zip(ordered, ids, strict=True)],
                columns=LEDGER_COLUMNS,
            )
            await connection.copy_records_to_table(
                "consent_ledger_context",
                records=[context_record(i) for i in ids[with_context:]],
                columns=CONTEXT_COLUMNS,
            )
            await connection.copy_records_to_table(
                "consent_states", records=list(states.values()), columns=STATE_COLUMNS
            )
    finally:
        await connection.close()


async def check_mirror(dsn: str, plan: Plan, customers: int) -> int:
    """Compares what append wrote for the first ``customers`` customers with what the COPY
    mirror would have written for the same entries; returns the rows compared, raises on any
    difference."""
    ordered = [e for entries in plan.defaults[:customers] for e in entries]
    with_context = len(ordered)
    ordered += [entry for entries in plan.rounds for i, entry in entries if i < customers]
    ids = [row["id"] for row in plan.rows[:customers]]
    connection = await asyncpg.connect(dsn)
    try:
        ledger = await connection.fetch(
            f"SELECT {', '.join(LEDGER_COLUMNS)} FROM consent_ledger "  # noqa: S608
            "WHERE customer_id = ANY($1::uuid[]) ORDER BY id",
            ids,
        )
        context = await connection.fetch(
            f"SELECT {', '.join(CONTEXT_COLUMNS)} FROM consent_ledger_context c "  # noqa: S608
            "JOIN consent_ledger l ON l.id = c.entry_id "
            "WHERE l.customer_id = ANY($1::uuid[]) ORDER BY c.entry_id",
            ids,
        )
        stored_states = await connection.fetch(
            f"SELECT {', '.join(STATE_COLUMNS)} FROM consent_states "  # noqa: S608
            "WHERE customer_id = ANY($1::uuid[])",
            ids,
        )
    finally:
        await connection.close()
    problems = []
    if len(ledger) != len(ordered):
        problems.append(f"{len(ledger)} ledger rows written by append, {len(ordered)} planned")
    states: dict[tuple[Any, str], tuple[Any, ...]] = {}
    for row, entry in zip(ledger, ordered, strict=False):
        mirrored = ledger_record(entry, row["id"], row["tx"])
        if tuple(row) != mirrored or row["tx"] <= 0:
            problems.append(f"ledger: append wrote {tuple(row)}, the mirror {mirrored}")
        states[entry.customer_id, entry.subject.value] = state_record(entry, row["id"])
    mirrored_context = [context_record(row["id"]) for row in ledger[with_context:]]
    if [tuple(row) for row in context] != mirrored_context:
        problems.append("consent_ledger_context: append and the mirror differ")
    if {tuple(row) for row in stored_states} != set(states.values()):
        problems.append("consent_states: append and the mirror differ")
    if problems:
        raise RuntimeError(
            "the COPY mirror no longer writes what SqlConsentRepository.append writes:\n  "
            + "\n  ".join(problems[:5])
        )
    return len(ledger) + len(context) + len(stored_states)


async def seed(
    database_url: str, dsn: str, count: int, through_append: int, rng: random.Random
) -> Seeded:
    """``count`` customers with the default ledger entries and state that registration writes,
    and, for about half of them, 1 to 5 self-service changes of sharing purposes, later in time,
    each flipping a choice. The entries of the first ``through_append`` customers go through the
    application's SqlConsentRepository.append (at about 6 ms of SQLAlchemy compilation per
    customer, too slow for all); the others are written with COPY as the same rows, a mirror
    that is checked against what append wrote."""
    through_append = min(through_append, count)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    plan = plan_seed(count, rng)
    timings["plan_s"] = time.perf_counter() - start

    start = time.perf_counter()
    await seed_through_append(database_url, plan, through_append)
    timings["through_append_s"] = time.perf_counter() - start

    start = time.perf_counter()
    if through_append < count:
        await seed_by_copy(dsn, plan, through_append)
    timings["by_copy_s"] = time.perf_counter() - start

    start = time.perf_counter()
    compared = await check_mirror(dsn, plan, through_append) if through_append else 0
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    timings["check_and_vacuum_analyze_s"] = time.perf_counter() - start

    changed = {i for entries in plan.rounds for i, _ in entries}
    ids = [str(row["id"]) for row in plan.rows]
    history = sum(len(entries) for entries in plan.rounds)
    return Seeded(
        customer_ids=ids,
        with_history=[ids[i] for i in sorted(changed)],
        without_history=[ids[i] for i in range(count) if i not in changed],
        facts={
            "customers": count,
            "customers_with_history": len(changed),
            "default_entries": sum(len(entries) for entries in plan.defaults),
            "history_entries": history,
            "granted_partner_purposes": plan.granted_partner_purposes,
            "customers_through_append": through_append,
            "append_vs_copy_rows_compared": compared,
            "seconds": {k: round(v, 2) for k, v in timings.items()}
            | {"total": round(sum(timings.values()), 2)},
        },
    )


async def check_seed(dsn: str) -> dict[str, Any]:
    """Row counts, and whether every consent_states row is what the ledger's last entry says."""
    connection = await asyncpg.connect(dsn)
    try:
        counts = {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in ("customers", "consent_ledger", "consent_ledger_context", "consent_states")
        }
        differing = await connection.fetchval(
            """
            SELECT count(*) FROM consent_states s
            JOIN LATERAL (
              SELECT id, granted, occurred_at, source FROM consent_ledger l
              WHERE l.customer_id = s.customer_id AND l.subject = s.subject
              ORDER BY l.id DESC LIMIT 1
            ) l ON true
            WHERE l.id <> s.last_entry_id OR l.granted <> s.granted
               OR s.updated_at IS DISTINCT FROM
                  CASE WHEN l.source = 'DEFAULT' THEN NULL ELSE l.occurred_at END
            """
        )
        size = await connection.fetchval(
            "SELECT pg_size_pretty(pg_total_relation_size('consent_states'))"
        )
    finally:
        await connection.close()
    return counts | {
        "states_differing_from_ledger": int(differing),
        "consent_states_size": str(size),
    }


# --------------------------------------------------------------------------- partner


def run_datarights(args: list[str], database: str, cwd: Path) -> str:
    """Runs ``datarights ARGS`` in the clean environment (in an empty directory, so that no .env
    is read); returns its output, raises if it fails."""
    done = subprocess.run(
        [harness.datarights_command(), *args],
        cwd=cwd,
        env=harness.clean_environment(database),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"datarights {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def create_partner(database: str, cwd: Path) -> str:
    """Registers the partner with ``datarights partners create``; returns its API key."""
    output = run_datarights(
        ["partners", "create", "--name", PARTNER_NAME, "--purposes", ",".join(PURPOSES)],
        database,
        cwd,
    )
    found = re.search(r"^(drp_\S+)$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no API key in the output of partners create:\n{output}")
    return found.group(1)


# --------------------------------------------------------------------------- in-process


@contextmanager
def counted_statements(engine: Any) -> Iterator[list[tuple[str, Any, str]]]:
    """Every statement sent through ``engine`` inside the block, or straight to asyncpg, with its
    parameters and whether SQLAlchemy took its compiled form from its cache ("cached since ...")
    or compiled it ("generated in <seconds>")."""
    from sqlalchemy import event

    statements: list[tuple[str, Any, str]] = []

    def count(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, *_: Any
    ) -> None:
        try:
            cache = str(context._get_cache_stats())
        except Exception:  # a private helper of SQLAlchemy; only informative
            cache = "unknown"
        statements.append((statement, parameters, cache))

    # The hottest reads skip SQLAlchemy and go straight to asyncpg (persistence/driver.py).
    from persistence import driver

    straight = driver._run

    async def run_straight(conn: Any, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        statements.append((sql, args, "straight to asyncpg"))
        return await straight(conn, method, sql, args)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    driver._run = run_straight
    try:
        yield statements
    finally:
        driver._run = straight
        event.remove(engine.sync_engine, "before_cursor_execute", count)


def statement_kind(statement: str) -> str:
    """A short name for a statement of the consentStates call."""
    flat = " ".join(statement.split())
    if flat.startswith("SELECT") and " consent_states " in flat:
        return "SELECT consent_states"
    match = re.match(r"(INSERT INTO|UPDATE|DELETE FROM) (\w+)", flat)
    if match:
        return f"{match.group(1).split()[0]} {match.group(2)}"
    match = re.search(r"FROM (\w+)", flat)
    return f"SELECT {match.group(1)}" if match else flat[:40]


def plan_summary(explained: str) -> dict[str, Any]:
    """The shape, rows and times of an ``EXPLAIN (ANALYZE, FORMAT JSON)`` result."""
    top = json.loads(explained)[0]
    shape = []
    node = top["Plan"]
    while True:
        name = node["Node Type"]
        if node.get("Index Name"):
            name += f" using {node['Index Name']}"
        shape.append(name)
        children = node.get("Plans") or []
        if not children:
            break
        node = children[0]
    return {
        "shape": " <- ".join(shape),
        "rows": top["Plan"]["Actual Rows"],
        "shared_buffers_hit": top["Plan"].get("Shared Hit Blocks"),
        "planning_ms": top["Planning Time"],
        "execution_ms": top["Execution Time"],
    }


def package_of(filename: str) -> str:
    """The package a profiled function belongs to: a site-packages distribution, a directory of
    this repository, the standard library, or C code (builtins and extension methods)."""
    if filename.startswith("~") or filename.startswith("<"):
        return "C code (builtins, extension methods)"
    site = re.search(r"site-packages/([^/]+)", filename)
    if site:
        return site.group(1).removesuffix(".py").split(".")[0]
    path = Path(filename)
    if path.is_relative_to(harness.ROOT):
        return f"datarights: {path.relative_to(harness.ROOT).parts[0]}"
    return "stdlib: " + path.stem if "python3" in filename else path.name


def profile_summary(profiler: cProfile.Profile, calls: int) -> dict[str, Any]:
    """Own time per package and the functions with the most own time, per call. cProfile
    measures wall time, so waiting for PostgreSQL shows as the ``poll`` of ``select.epoll``."""
    stats = pstats.Stats(profiler)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    by_package: Counter[str] = Counter()
    for (filename, _line, _name), entry in table.items():
        by_package[package_of(filename)] += entry[2]
    top = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:15]
    return {
        "calls": calls,
        "profiled_ms_per_call": round(total / calls * 1000, 2),
        "own_time_by_package": [
            {
                "package": name,
                "ms_per_call": round(t / calls * 1000, 2),
                "share": round(t / total, 3),
            }
            for name, t in by_package.most_common(12)
        ],
        "top_functions_by_own_time": [
            {
                "function": f"{Path(filename).name}:{line} {name}",
                "package": package_of(filename),
                "calls_per_call": round(entry[1] / calls, 1),
                "own_ms_per_call": round(entry[2] / calls * 1000, 2),
                "cumulative_ms_per_call": round(entry[3] / calls * 1000, 2),
            }
            for (filename, line, name), entry in top
        ],
    }


async def timed_calls(
    inputs: Sequence[T],
    call: Callable[[T], Awaitable[R]],
    check: Callable[[T, R], None] | None = None,
) -> dict[str, float]:
    """Wall-time summary of ``call`` over ``inputs``, and the CPU time this process spent per
    call (in-process, that is all the Python work; it is not inflated by other processes).
    ``check`` looks at each result after its call is timed."""
    wall, cpu = [], []
    for item in inputs:
        c0, t0 = time.process_time(), time.perf_counter()
        result = await call(item)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if check is not None:
            check(item, result)
    return harness.summary_ms(wall) | {"cpu_ms_per_call": round(statistics.fmean(cpu) * 1000, 2)}


def cache_status(stats: str) -> str:
    """SQLAlchemy's compiled-cache status of a statement, in words."""
    if stats.startswith("cached"):
        return "compiled form from the cache"
    if stats.startswith("generated"):
        return "compiled (a cache miss)"
    if stats.startswith("no key"):
        return "compiled on every call (the statement has no cache key)"
    return stats


@strawberry.type
class BareAnswer:
    customer_id: strawberry.ID
    purpose: str
    granted: bool
    updated_at: datetime | None


BARE_ANSWERS: list[BareAnswer] = []


@strawberry.type
class BareQuery:
    @strawberry.field
    async def states(self, ids: list[strawberry.ID]) -> list[BareAnswer]:
        return BARE_ANSWERS


async def strawberry_alone(calls: int) -> dict[str, float]:
    """A bare Strawberry schema returning 3,000 ready objects of 4 fields: no database, no HTTP,
    no application code. The floor under GraphQL's share of a call."""
    now = datetime.now(UTC)
    BARE_ANSWERS[:] = [
        BareAnswer(
            customer_id=strawberry.ID(str(uuid.uuid4())),
            purpose=PURPOSES[i % 3],
            granted=i % 2 == 0,
            updated_at=now if i % 2 == 0 else None,
        )
        for i in range(IDS_PER_CALL * len(PURPOSES))
    ]
    schema = strawberry.Schema(query=BareQuery)
    document = "query($ids: [ID!]!) { states(ids: $ids) { customerId purpose granted updatedAt } }"
    ids = [str(uuid.uuid4()) for _ in range(IDS_PER_CALL)]

    async def run(_: int) -> None:
        result = await schema.execute(document, variable_values={"ids": ids})
        if result.errors:
            raise RuntimeError(f"the bare schema failed: {result.errors}")

    await timed_calls(range(3), run)
    return await timed_calls(range(calls), run)


async def in_process(
    database: str, key: str, known: list[str], unknown: int, rng: random.Random
) -> dict[str, Any]:
    """(a): the statements of one call, and where the time of a 1,000-id call goes."""
    from api.app import close_dependencies, create_app
    from api.settings import Settings
    from domain.consent.model import SharingPurpose
    from domain.partners import use_cases

    url = harness.database_url(database)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    app = create_app(settings)
    deps = app.state.deps
    engine = deps.unit_of_work.engine
    purposes = [SharingPurpose(p) for p in PURPOSES]
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench.invalid",
            headers={"Authorization": f"Bearer {key}"},
            timeout=harness.REQUEST_TIMEOUT_S,
        ) as http:

            async def graphql(ids: list[str]) -> httpx.Response:
                return await http.post("/graphql", json=states_body(ids))

            def answered(ids: list[str], response: httpx.Response) -> None:
                error, _ = check_states(response, len(ids) * len(PURPOSES))
                if error is not None:
                    raise RuntimeError(f"an in-process call failed: {error}")

            await timed_calls([call_ids(rng, known, unknown) for _ in range(3)], graphql, answered)

            # The statements of one call with 1 id and with 1,000 ids.
            counts: dict[str, Any] = {}
            captured: list[tuple[str, Any, str]] = []
            for label, ids in (("1_id", [known[0]]), ("1000_ids", call_ids(rng, known, unknown))):
                with counted_statements(engine) as statements:
                    answered(ids, await graphql(ids))
                counts[label] = {
                    "statements": len(statements),
                    "reading_consent_states": sum(
                        1 for s, _, _ in statements if statement_kind(s) == "SELECT consent_states"
                    ),
                    "kinds": [statement_kind(s) for s, _, _ in statements],
                    "bind_parameters": [len(p) if p else 0 for _, p, _ in statements],
                    "sqlalchemy_compiled_cache": [cache_status(c) for _, _, c in statements],
                }
                captured = statements
            out["statements"] = counts
            out["sql_alone"] = await sql_alone(database, captured, known, unknown, rng)

            # The parts of the call, each timed on its own. Reads and logs are rolled back.
            def batches() -> list[list[str]]:
                return [call_ids(rng, known, unknown) for _ in range(ANATOMY_CALLS)]

            async def read(ids: list[str]) -> None:
                async with deps.unit_of_work() as uow:
                    await uow.consent_reads.states_of([uuid.UUID(i) for i in ids], purposes)

            partner = await use_cases.authenticate_partner(deps, key)
            assert partner is not None
            seeded = set(known)

            async def log(ids: list[str]) -> None:
                customers = sorted((uuid.UUID(i) for i in ids if i in seeded), key=str)
                async with deps.unit_of_work() as uow:
                    await uow.partners.record_read(
                        partner.id, "consentStates", purposes, customers, deps.clock.now()
                    )

            async def use_case(ids: list[str]) -> None:
                await use_cases.consent_states(deps, partner, ids, purposes)

            async def authenticate(_: int) -> None:
                await use_cases.authenticate_partner(deps, key)

            out["parts"] = {
                "states_of": await timed_calls(batches(), read),
                "record_read": await timed_calls(batches(), log),
                "use_case": await timed_calls(batches(), use_case),
                "authenticate_partner": await timed_calls(range(ANATOMY_CALLS), authenticate),
                "graphql_1_id": await timed_calls(
                    [rng.sample(known, 1) for _ in range(ANATOMY_CALLS)], graphql, answered
                ),
                "graphql_1000_ids": await timed_calls(batches(), graphql, answered),
                "strawberry_alone": await strawberry_alone(ANATOMY_CALLS),
            }
            body = await http.post("/graphql", json=states_body(call_ids(rng, known, unknown)))
            out["response_bytes"] = len(body.content)

            # Where the time of a whole request goes, by package (cProfile slows Python code
            # down and cannot follow SQLAlchemy's greenlets: read the shares of own time).
            inputs = batches()[:PROFILED_CALLS]
            responses = []
            profiler = cProfile.Profile()
            profiler.enable()
            for ids in inputs:
                responses.append(await graphql(ids))
            profiler.disable()
            for ids, response in zip(inputs, responses, strict=True):
                answered(ids, response)
            out["profile"] = profile_summary(profiler, len(inputs))
    finally:
        await close_dependencies(deps)
    return out


async def sql_alone(
    database: str,
    captured: list[tuple[str, Any, str]],
    known: list[str],
    unknown: int,
    rng: random.Random,
) -> dict[str, Any]:
    """The statements of a 1,000-id call replayed on a bare asyncpg connection (prepared once,
    as SQLAlchemy's asyncpg dialect does), each replay in its own transaction, rolled back; the
    read written with one array parameter instead of 1,000; and both reads' plans."""
    connection = await asyncpg.connect(harness.database_dsn(database))
    try:
        prepared = [(await connection.prepare(s), tuple(p or ())) for s, p, _ in captured]
        # The read log's row was committed by the call: each replay gets its own id.
        read_ids = {p[0] for s, p, _ in captured if statement_kind(s) == "INSERT partner_reads"}
        per_statement: list[list[float]] = [[] for _ in prepared]
        whole: list[float] = []
        for _ in range(ANATOMY_CALLS):
            fresh = uuid.uuid4()
            replays = [
                (
                    statement,
                    [fresh if not isinstance(v, list) and v in read_ids else v for v in parameters],
                )
                for statement, parameters in prepared
            ]
            transaction = connection.transaction()
            await transaction.start()
            start = time.perf_counter()
            for i, (statement, parameters) in enumerate(replays):
                t0 = time.perf_counter()
                await statement.fetch(*parameters)
                per_statement[i].append(time.perf_counter() - t0)
            whole.append(time.perf_counter() - start)
            await transaction.rollback()

        array_sql = (
            "SELECT customer_id, subject, granted, updated_at FROM consent_states "
            "WHERE customer_id = ANY($1::uuid[]) AND subject = ANY($2::varchar[])"
        )
        array_read = await connection.prepare(array_sql)
        array_times = []
        for _ in range(ANATOMY_CALLS):
            ids = [uuid.UUID(i) for i in call_ids(rng, known, unknown)]
            t0 = time.perf_counter()
            await array_read.fetch(ids, PURPOSES)
            array_times.append(time.perf_counter() - t0)
        explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
        array_plan = await connection.fetchval(explain + array_sql, ids, PURPOSES)
        read, read_parameters, _ = next(
            c for c in captured if statement_kind(c[0]) == "SELECT consent_states"
        )
        app_plan = await connection.fetchval(explain + read, *read_parameters)
    finally:
        await connection.close()
    return {
        "whole_call": harness.summary_ms(whole),
        "by_statement": [
            {"kind": statement_kind(s), "median_ms": harness.summary_ms(t)["median_ms"]}
            for (s, _, _), t in zip(captured, per_statement, strict=True)
        ],
        "read_with_one_array_parameter": harness.summary_ms(array_times),
        "read_plan": plan_summary(app_plan),
        "read_plan_with_one_array_parameter": plan_summary(array_plan),
    }


# --------------------------------------------------------------------------- over HTTP


async def sequential(
    base_url: str, key: str, known: list[str], args: argparse.Namespace, pid: int, database: str
) -> dict[str, Any]:
    """(b) one client, one call at a time on one keep-alive connection, after a warm-up."""
    rng = random.Random(args.seed + 1)
    samples = CallSamples()
    async with client(base_url, key) as http:
        warm = CallSamples()
        for _ in range(WARM_UP_CALLS):
            await states_call(http, call_ids(rng, known, args.unknown), warm)
        if warm.errors:
            raise RuntimeError(f"the warm-up calls failed: {dict(warm.errors)}")
        meter = harness.CpuMeter(pid, database)
        await meter.start()
        start = time.perf_counter()
        for _ in range(args.requests):
            await states_call(http, call_ids(rng, known, args.unknown), samples)
        elapsed = time.perf_counter() - start
        cpu = await meter.stop()
    return {
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(samples.requests / elapsed, 2),
        "warm_up_calls": WARM_UP_CALLS,
        "calls": samples.summary(),
        "cpu": cpu,
    }


async def loop(
    http: httpx.AsyncClient, known: list[str], unknown: int, until: float, seed: int
) -> CallSamples:
    rng = random.Random(seed)
    samples = CallSamples()
    for _ in range(MAX_REQUESTS_PER_LOOP):
        if time.perf_counter() >= until:
            break
        await states_call(http, call_ids(rng, known, unknown), samples)
    return samples


async def concurrent(
    base_url: str, key: str, known: list[str], args: argparse.Namespace, pid: int, database: str
) -> dict[str, Any]:
    """(b) ``args.concurrency`` loops for ``args.seconds``, after a short untimed burst that
    warms up every worker."""
    keep_alive = args.connections == "keep-alive"
    async with client(base_url, key, keep_alive=keep_alive) as http:
        until = time.perf_counter() + CONCURRENT_WARM_UP_S
        await asyncio.gather(
            *(loop(http, known, args.unknown, until, 1000 + i) for i in range(args.concurrency))
        )
        meter = harness.CpuMeter(pid, database)
        await meter.start()
        start = time.perf_counter()
        until = start + args.seconds
        loops = await asyncio.gather(
            *(
                loop(http, known, args.unknown, until, args.seed + 100 + i)
                for i in range(args.concurrency)
            )
        )
        elapsed = time.perf_counter() - start
        cpu = await meter.stop()
    samples = CallSamples()
    for one in loops:
        samples.merge(one)
    return {
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(len(samples.latencies) / elapsed, 2),
        "calls": samples.summary(),
        "cpu": cpu,
    }


async def check_answers(base_url: str, key: str, dsn: str, seeded: Seeded) -> dict[str, Any]:
    """(c) the answers for a few customers, with and without history, and for unknown ids,
    against their consent_states rows."""
    rng = random.Random(7)
    ids = (
        rng.sample(seeded.with_history, CHECKED_CUSTOMERS)
        + rng.sample(seeded.without_history, CHECKED_CUSTOMERS)
        + [str(uuid.uuid4()), str(uuid.uuid4())]
    )
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT customer_id, subject, granted, updated_at FROM consent_states "
            "WHERE customer_id = ANY($1::uuid[]) AND subject = ANY($2::varchar[])",
            [uuid.UUID(i) for i in ids],
            PURPOSES,
        )
    finally:
        await connection.close()
    stored = {(str(r["customer_id"]), r["subject"]): r for r in rows}
    async with client(base_url, key) as http:
        samples = CallSamples()
        error, answers = await states_call(http, ids, samples)
    if error is not None:
        return {"checked_answers": 0, "mismatches": [f"the call failed: {error}"]}
    mismatches = []
    for answer in answers:
        row = stored.get((answer["customerId"], answer["purpose"]))
        want_granted = bool(row["granted"]) if row else False
        want_updated = row["updated_at"] if row else None
        got_updated = datetime.fromisoformat(answer["updatedAt"]) if answer["updatedAt"] else None
        if answer["granted"] != want_granted or got_updated != want_updated:
            mismatches.append(
                f"{answer['customerId']} {answer['purpose']}: answered "
                f"{answer['granted']}/{answer['updatedAt']}, stored {want_granted}/{want_updated}"
            )
    return {
        "customers_with_history": CHECKED_CUSTOMERS,
        "customers_without_history": CHECKED_CUSTOMERS,
        "unknown_ids": 2,
        "checked_answers": len(answers),
        "granted_answers": sum(1 for a in answers if a["granted"]),
        "mismatches": mismatches,
    }


async def read_log_rows(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in ("partner_reads", "partner_read_customers")
        }
    finally:
        await connection.close()


async def run_server_phases(
    base_url: str, key: str, seeded: Seeded, args: argparse.Namespace, pid: int, database: str
) -> dict[str, Any]:
    dsn = harness.database_dsn(database)
    known = seeded.customer_ids
    return {
        "sequential": await sequential(base_url, key, known, args, pid, database),
        "concurrent": await concurrent(base_url, key, known, args, pid, database),
        "correctness": await check_answers(base_url, key, dsn, seeded),
        "read_log_rows_at_end": await read_log_rows(dsn),
    }


# --------------------------------------------------------------------------- report


def table_row(name: str, summary: dict[str, Any], rate: str) -> str:
    keys = ("median_ms", "p90_ms", "p99_ms", "min_ms", "max_ms")
    times = " ".join(f"{harness.ms(summary, key):>7}" for key in keys)
    return f"  {name:<40} {summary['requests']:>6} {summary['errors']:>6} {rate:>6} {times}"


def part_row(name: str, summary: dict[str, Any]) -> str:
    times = " ".join(f"{harness.ms(summary, key):>7}" for key in ("median_ms", "p90_ms", "p99_ms"))
    return f"  {name:<40} {times} {harness.ms(summary, 'cpu_ms_per_call'):>12}"


def report(results: dict[str, Any]) -> str:
    cfg, seeded = results["config"], results["seed"]
    local, phases = results["in_process"], results["phases"]
    seq, conc = phases["sequential"], phases["concurrent"]
    secs = seeded["seconds"]
    check = results["seed_check"]
    n = cfg["ids_per_call"]
    lines = [
        "",
        f"  seeded {seeded['customers']:,} customers, {seeded['default_entries']:,} default "
        f"entries, {seeded['history_entries']:,} self-service changes of "
        f"{seeded['customers_with_history']:,} customers, in {secs['total']:.1f} s: through "
        f"SqlConsentRepository.append for {seeded['customers_through_append']:,} customers "
        f"{secs['through_append_s']:.1f} s (customers rows included), COPY for the others "
        f"{secs['by_copy_s']:.1f} s; "
        + (
            f"{seeded['append_vs_copy_rows_compared']:,} rows written by append compared with "
            "what the COPY mirror writes: identical"
            if seeded["append_vs_copy_rows_compared"]
            else "the COPY mirror was not compared with append (--through-append 0)"
        ),
        f"  rows: {check['customers']:,} customers, {check['consent_ledger']:,} ledger entries, "
        f"{check['consent_states']:,} consent_states ({check['consent_states_size']}); "
        f"states differing from the ledger's last entry: {check['states_differing_from_ledger']}",
        "",
        "  statements per consentStates call (in-process, before_cursor_execute):",
    ]
    for label, counts in local["statements"].items():
        lines.append(
            f"    {label.replace('_', ' ')}: {counts['statements']} statements, "
            f"{counts['reading_consent_states']} reading consent_states:"
        )
        lines += [
            f"      {k:<32} {p:>5} bind parameters; SQLAlchemy: {c}"
            for k, p, c in zip(
                counts["kinds"],
                counts["bind_parameters"],
                counts["sqlalchemy_compiled_cache"],
                strict=True,
            )
        ]
    sql, parts = local["sql_alone"], local["parts"]
    known = n - cfg["unknown"]
    lines += [
        "",
        f"  one call: {n:,} ids ({cfg['unknown']} unknown) x {len(PURPOSES)} purposes = "
        f"{n * len(PURPOSES):,} answers, {local['response_bytes']:,} bytes of JSON",
        "",
        f"  {'over HTTP, datarights serve --workers ' + str(cfg['workers']):<40} {'reqs':>6} "
        f"{'errors':>6} {'ok/s':>6} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'min ms':>7} "
        f"{'max ms':>7}",
        table_row(
            f"(b) sequential, one client, x{cfg['requests']}",
            seq["calls"],
            f"{seq['requests_per_s']:.1f}",
        ),
        table_row(
            f"(b) {cfg['concurrency']} loops, {cfg['seconds']:g} s",
            conc["calls"],
            f"{conc['requests_per_s']:.1f}",
        ),
        "",
        f"  {'in-process, one part at a time, x' + str(cfg['anatomy_calls']):<40} {'p50 ms':>7} "
        f"{'p90 ms':>7} {'p99 ms':>7} {'cpu ms/call':>12}",
        part_row("GraphQL request, 1,000 ids (ASGI)", parts["graphql_1000_ids"]),
        part_row("  use case consent_states", parts["use_case"]),
        part_row("    states_of: the read", parts["states_of"]),
        part_row(f"    record_read: the log, {known} rows", parts["record_read"]),
        part_row("  authenticate_partner", parts["authenticate_partner"]),
        part_row("GraphQL request, 1 id (ASGI)", parts["graphql_1_id"]),
        part_row("bare Strawberry, 3,000 x 4 fields", parts["strawberry_alone"]),
        part_row("SQL alone, replayed on asyncpg", sql["whole_call"]),
        *(f"    {s['kind']:<38} {s['median_ms']:>7.1f}" for s in sql["by_statement"]),
        part_row("  the read with one array parameter", sql["read_with_one_array_parameter"]),
        "",
        *(
            f"  {name}: {plan['shape']}, {plan['rows']} rows, planning "
            f"{plan['planning_ms']:.2f} ms, execution {plan['execution_ms']:.2f} ms"
            for name, plan in (
                ("plan of the read as sent", sql["read_plan"]),
                ("with one array parameter", sql["read_plan_with_one_array_parameter"]),
            )
        ),
        "",
        f"  cProfile of {local['profile']['calls']} GraphQL requests with 1,000 ids "
        f"({local['profile']['profiled_ms_per_call']:.1f} ms each under the profiler; "
        "waiting for PostgreSQL is the epoll poll), own time by package:",
        *(
            f"    {p['package']:<40} {p['ms_per_call']:>7.1f} ms  {p['share']:>6.1%}"
            for p in local["profile"]["own_time_by_package"][:8]
        ),
        "  the functions with the most own time, per request:",
        *(
            f"    {f['own_ms_per_call']:>6.1f} ms  {f['calls_per_call']:>8g} calls  "
            f"{f['function'][:60]} ({f['package']})"
            for f in local["profile"]["top_functions_by_own_time"][:10]
        ),
        "",
        *harness.cpu_lines(
            results["machine"]["nproc"],
            [("(b) sequential", seq["cpu"]), ("(b) concurrent", conc["cpu"])],
            name_width=14,
        ),
    ]
    lines += harness.noise_warnings(
        [("the sequential phase", seq["cpu"]), ("the concurrent phase", conc["cpu"])]
    )
    for name, summary in (("sequential", seq["calls"]), ("concurrent", conc["calls"])):
        if summary["error_kinds"]:
            lines.append(f"  errors in the {name} phase: {summary['error_kinds']}")
    correct = phases["correctness"]
    lines += [
        "",
        f"  correctness: {correct['checked_answers']} answers for "
        f"{correct.get('customers_with_history', 0)} customers with history, "
        f"{correct.get('customers_without_history', 0)} without and "
        f"{correct.get('unknown_ids', 0)} unknown ids compared with consent_states: "
        + (
            "all match" if not correct["mismatches"] else f"{len(correct['mismatches'])} MISMATCHES"
        ),
        *(f"    {m}" for m in correct["mismatches"][:10]),
        f"  read log at the end: {phases['read_log_rows_at_end']['partner_reads']:,} "
        f"partner_reads, {phases['read_log_rows_at_end']['partner_read_customers']:,} "
        "partner_read_customers rows",
    ]
    server = results.get("server_log")
    if server:
        lines += harness.server_log_lines(server)
    goal = results["goal"]

    def verdict(p99: float | None) -> str:
        if p99 is None:
            return "no successful call"
        return f"p99 {p99:.1f} ms, " + ("under" if p99 < GOAL_P99_MS else "OVER")

    lines += [
        "",
        f"  goal: p99 under {GOAL_P99_MS:g} ms on this machine at light load: "
        + ("MET" if goal["met"] else "NOT MET"),
        f"    one client, sequential:       {verdict(goal['sequential_p99_ms'])}",
        f"    {cfg['concurrency']} concurrent loops:{'':<11}{verdict(goal['concurrent_p99_ms'])}",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument(
        "--requests", type=int, default=200, help="sequential calls measured (default 200)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent loops (default 4)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of the concurrent phase (default 10)"
    )
    parser.add_argument(
        "--customers", type=int, default=10_000, help="customers seeded (default 10000)"
    )
    parser.add_argument(
        "--unknown",
        type=int,
        default=5,
        help="made-up ids among the 1,000 of each call (default 5)",
    )
    parser.add_argument(
        "--connections",
        choices=["fresh", "keep-alive"],
        default="fresh",
        help="in the concurrent phase, a new connection per call, as from several clients "
        "(default), or keep-alive connections, which tend to land on a single worker",
    )
    parser.add_argument(
        "--through-append",
        type=int,
        default=200,
        help="customers whose ledger entries are written through SqlConsentRepository.append "
        "(about 6 ms each); the others' are written with COPY as the same rows (default 200)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")
    if not 1 <= args.requests <= 10_000:
        parser.error("--requests must be between 1 and 10000")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be between 1 and 64")
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    if not 2 * IDS_PER_CALL <= args.customers <= 1_000_000:
        parser.error("--customers must be between 2000 and 1000000")
    if not 0 <= args.unknown <= IDS_PER_CALL - 1:
        parser.error("--unknown must be between 0 and 999")
    if args.through_append < 0:
        parser.error("--through-append must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The in-process app, like the server, gets no DATARIGHTS_* setting but the database's.
    for name in [name for name in os.environ if name.startswith("DATARIGHTS_")]:
        del os.environ[name]
    harness.stop_on_sigterm()
    machine = harness.machine_facts()
    run = harness.Run("consent-states")
    database = run.database
    rng = random.Random(args.seed)

    print("datarights consentStates benchmark", *harness.machine_lines(machine), sep="\n")
    print(
        f"  load          consentStates with {IDS_PER_CALL:,} ids ({args.unknown} unknown, the "
        f"rest a fresh random sample of the seeded customers) x {len(PURPOSES)} purposes per call; "
        f"{args.requests} sequential calls on one keep-alive connection after {WARM_UP_CALLS} "
        f"warm-up; then {args.concurrency} loops ({args.connections} connections) for "
        f"{args.seconds:g} s after {CONCURRENT_WARM_UP_S:g} s of warm-up"
    )
    print(
        "  note          the load generator (this process) runs on the same "
        f"{machine['nproc']} cores as the server and PostgreSQL; see CPU use below"
    )
    sys.stdout.flush()

    version = run.create_database()
    results: dict[str, Any] = {
        "machine": machine,
        "config": {
            "workers": args.workers,
            "requests": args.requests,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "customers": args.customers,
            "ids_per_call": IDS_PER_CALL,
            "unknown": args.unknown,
            "anatomy_calls": ANATOMY_CALLS,
            "purposes": PURPOSES,
            "connections": args.connections,
            "seed": args.seed,
            "postgres_version": version,
            "timestamp": run.stamp,
        },
    }
    with run.scope() as cwd:
        run_datarights(["migrate"], database, cwd)
        print("  migrated      datarights migrate")
        sys.stdout.flush()
        seeded = asyncio.run(seed(run.url, run.dsn, args.customers, args.through_append, rng))
        results["seed"] = seeded.facts
        results["seed_check"] = asyncio.run(check_seed(run.dsn))
        print(
            f"  seeded        {args.customers:,} customers "
            f"({seeded.facts['customers_with_history']:,} with history) in "
            f"{seeded.facts['seconds']['total']:.1f} s"
        )
        key = create_partner(database, cwd)
        print(f"  partner       {PARTNER_NAME!r} for {','.join(PURPOSES)} (key {key[:8]}…)")
        sys.stdout.flush()
        results["in_process"] = asyncio.run(
            asyncio.wait_for(in_process(database, key, seeded.customer_ids, args.unknown, rng), 300)
        )
        print("  in-process    statements counted, time of one call broken down")
        started = run.start_server(args.workers, cwd)
        print(f"                answering /healthz after {started:.1f} s")
        sys.stdout.flush()
        budget = args.requests * 2 + 2 * args.seconds + 300
        results["phases"] = asyncio.run(
            asyncio.wait_for(
                run_server_phases(run.base_url, key, seeded, args, run.pid, database), budget
            )
        )

    seq_p99 = results["phases"]["sequential"]["calls"].get("p99_ms")
    conc_p99 = results["phases"]["concurrent"]["calls"].get("p99_ms")
    results["goal"] = {
        "p99_under_ms": GOAL_P99_MS,
        "sequential_p99_ms": seq_p99,
        "concurrent_p99_ms": conc_p99,
        "met": seq_p99 is not None
        and conc_p99 is not None
        and max(seq_p99, conc_p99) < GOAL_P99_MS,
    }
    run.finish(results, report)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
