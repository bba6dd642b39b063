"""Data export benchmark: the time and the server's memory of one customer's streamed copy.

Run on its own, never from the test suite::

    .venv/bin/python bench/export.py [--entries 10000 100000] [--downloads 10]

It creates a fresh PostgreSQL database on 127.0.0.1:5432 and starts ``datarights serve
--workers 1`` on it (which migrates it). For each ``--entries`` size it registers one customer
through the ``register`` mutation (a real password hash and session), signs in a few times,
corrects a few profile fields, changes two choices and asks for two earlier exports, all through
the API. It then adds ledger entries until the customer has exactly that many: the first
``--through-append`` through the application's ``SqlConsentRepository.append``, the rest with
COPY as the same rows, each flipping one optional choice, and moves ``consent_states`` with them.
``datarights consent verify`` must then find the stored state equal to the ledger's.

For each size, smallest first: ``requestDataExport``, then 1 warm-up and ``--downloads`` timed
downloads of ``GET /exports/{id}`` (bearer token) on one keep-alive connection; fewer (at least
3) if the next would end past ``--seconds-per-size``. Every download is
timed (to the response's headers, its first body byte and its last byte) while a thread reads
the serving process's VmRSS from /proc/<pid>/status every ``--poll-ms`` milliseconds. The
document is checked: the warm-up's is parsed, counted against the database and replayed against
its own preferences, and the smallest size's is validated against docs/export.schema.json.

It prints a table, writes the results as JSON to ``bench/results/export-<timestamp>.json`` and
the server's output next to it, then stops the server and drops the database, also on failure.
See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import asyncpg
import harness
import httpx
import jsonschema
from consent_states import (
    CONTEXT_COLUMNS,
    LEDGER_COLUMNS,
    SELF_SERVICE_IP,
    SELF_SERVICE_USER_AGENT,
    context_record,
    ledger_record,
    run_datarights,
    state_record,
)

SCHEMA_PATH = harness.ROOT / "docs" / "export.schema.json"
WORKERS = 1  # one serving process, whose memory is watched
WARM_UP_DOWNLOADS = 1
MIN_DOWNLOADS = 3  # timed downloads per size, whatever the time budget
LOGINS = 3  # under the production limit of 5 per account per 15 minutes
EARLIER_EXPORTS = 2
MIB = 1024 * 1024
PASSWORD = "correct horse battery staple"
# One profile correction per mutation, so one profile_changes row each.
PROFILE_CORRECTIONS: list[dict[str, Any]] = [
    {"title": "Countess"},
    {"department": "Research"},
    {"fax": "+44 20 7946 0000"},
    {"industry": "Computing machinery"},
    {"employeeCount": 42},
]

# The documents a front end sends (the shapes of tests/api/documents.py, copied, not imported).
REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { token customer { id email } errors { field code message } }
}
"""
LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token errors { field code message } }
}
"""
UPDATE_PROFILE = """
mutation UpdateProfile($input: UpdateProfileInput!) {
  updateProfile(input: $input) { customer { id version } errors { field code message } }
}
"""
SET_SHARING = """
mutation Share($input: SetSharingPreferencesInput!) {
  setSharingPreferences(input: $input) {
    sharingPreferences { purpose granted updatedAt } errors { field code message }
  }
}
"""
SET_COMMUNICATION = """
mutation Topics($input: SetCommunicationPreferencesInput!) {
  setCommunicationPreferences(input: $input) {
    communicationPreferences { topic subscribed updatedAt } errors { field code message }
  }
}
"""
REQUEST_EXPORT = """
mutation {
  requestDataExport {
    export { id expiresAt downloadUrl }
    request { id type status }
    errors { code message }
  }
}
"""


def registration(email: str) -> dict[str, Any]:
    """A complete registration input (the shape of tests/factories.py) for ``email``."""
    address = {
        "line1": "12 St James's Square",
        "city": "London",
        "postalCode": "SW1Y 4JH",
        "country": "GB",
    }
    return {
        "email": email,
        "password": PASSWORD,
        "name": "Ada Lovelace",
        "companyName": "Analytical Engines Ltd",
        "address": address,
        "phone": "+44 20 7946 0958",
        "billing": {
            "name": "Analytical Engines Ltd",
            "address": {**address, "line2": "Accounts"},
            "organizationUsers": 12,
            "card": {
                "number": "4242 4242 4242 4242",
                "expMonth": 12,
                "expYear": 2031,
                "cvc": "123",
            },
        },
    }


# --------------------------------------------------------------------------- memory


def memory_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM and RssAnon of ``pid`` in bytes, from /proc/<pid>/status (Linux)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon"):
            found[name] = int(value.split()[0]) * 1024  # "123456 kB"
    return found


def vm_rss(pid: int) -> int:
    """VmRSS of ``pid`` in bytes (the only line the poller needs)."""
    with open(f"/proc/{pid}/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class RssPoller(threading.Thread):
    """Reads the VmRSS of ``pid`` every ``interval`` seconds until ``stop()``; keeps the largest."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.polls = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            self.peak = max(self.peak, vm_rss(self.pid))
            self.polls += 1
            if self._stop_event.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, vm_rss(self.pid))  # and once more at the very end
        self.polls += 1


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def serving_pid(server_pid: int) -> tuple[int, str]:
    """The pid of the process that serves the requests, and how it was found. With one worker,
    uvicorn serves in its own process; with a supervisor, the worker is its only child."""
    below = children(server_pid)
    if not below:
        return server_pid, "the uvicorn process itself: with --workers 1 it serves in-process"
    if len(below) == 1:
        return below[0], f"the only child of the uvicorn process {server_pid}"
    raise RuntimeError(f"the server {server_pid} has {len(below)} children: {below}")


# --------------------------------------------------------------------------- API steps


def graphql(http: httpx.Client, query: str, variables: Any = None, token: str | None = None) -> Any:
    """The ``data`` of a GraphQL call that must succeed with no user error."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    problem, data = harness.graphql_data(response)
    if problem is not None:
        raise RuntimeError(f"GraphQL call failed: {problem}: {response.text[:500]}")
    payload = next(iter(data.values()))
    if payload.get("errors"):
        raise RuntimeError(f"user errors: {payload['errors']}")
    return payload


def client(base_url: str) -> httpx.Client:
    """An HTTP client that keeps no cookies (only the bearer token counts) and uses no proxy."""
    return httpx.Client(
        base_url=base_url,
        timeout=harness.REQUEST_TIMEOUT_S,
        trust_env=False,  # only ever 127.0.0.1
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


@dataclass
class Customer:
    entries: int  # the ledger entries it is to have
    email: str
    id: str = ""
    token: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


def through_the_api(base_url: str, customer: Customer) -> float:
    """Registers the customer and gives it a little of everything else, through the API: sign-ins,
    profile corrections, two changed choices, earlier exports (ACCESS requests). Returns the
    seconds it took."""
    start = time.perf_counter()
    with client(base_url) as http:
        registered = graphql(http, REGISTER, {"input": registration(customer.email)})
        customer.id, customer.token = registered["customer"]["id"], registered["token"]
        for _ in range(LOGINS):
            credentials = {"email": customer.email, "password": PASSWORD}
            graphql(http, LOGIN, {"input": credentials})
        for correction in PROFILE_CORRECTIONS:
            graphql(http, UPDATE_PROFILE, {"input": correction}, customer.token)
        share = {"preferences": [{"purpose": "PARTNER_OFFERS", "granted": True}]}
        graphql(http, SET_SHARING, {"input": share}, customer.token)
        topics = {"preferences": [{"topic": "NEWSLETTER", "subscribed": True}]}
        graphql(http, SET_COMMUNICATION, {"input": topics}, customer.token)
        for _ in range(EARLIER_EXPORTS):
            graphql(http, REQUEST_EXPORT, token=customer.token)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- ledger


async def plan_entries(dsn: str, customer: Customer, rng: random.Random) -> tuple[list[Any], int]:
    """The entries that bring the customer's ledger to ``customer.entries``, oldest first: each
    flips one optional choice (any topic but account mail, any sharing purpose), with the actor,
    source and policy version of the last self-service entry the API wrote, at even steps from
    that entry to now. Also returns the entries the API wrote."""
    from domain.consent.model import (
        OPTIONAL_TOPICS,
        Actor,
        ConsentEntry,
        SharingPurpose,
        Source,
        subject_from,
    )

    connection = await asyncpg.connect(dsn)
    try:
        written = int(
            await connection.fetchval(
                "SELECT count(*) FROM consent_ledger WHERE customer_id = $1",
                uuid.UUID(customer.id),
            )
        )
        template = await connection.fetchrow(
            "SELECT * FROM consent_ledger WHERE customer_id = $1 AND source = 'SELF_SERVICE' "
            "ORDER BY id DESC LIMIT 1",
            uuid.UUID(customer.id),
        )
        states = await connection.fetch(
            "SELECT kind, subject, granted FROM consent_states WHERE customer_id = $1",
            uuid.UUID(customer.id),
        )
    finally:
        await connection.close()
    if template is None:
        raise RuntimeError("the API wrote no self-service ledger entry")
    granted = {subject_from(r["kind"], r["subject"]): r["granted"] for r in states}
    flippable = [*OPTIONAL_TOPICS, *SharingPurpose]
    count = customer.entries - written
    if count < 0:
        raise RuntimeError(f"the API already wrote {written} entries, more than {customer.entries}")
    first, last = template["occurred_at"], datetime.now(UTC)
    step = (last - first) / (count + 1)
    entries = []
    for i in range(count):
        subject = rng.choice(flippable)
        before = granted[subject]
        entries.append(
            ConsentEntry(
                template["customer_id"],
                subject,
                not before,
                before,
                first + step * (i + 1),
                Actor(template["actor"]),
                Source(template["source"]),
                policy_version=template["policy_version"],
                informed_of_gpc=False,
            )
        )
        granted[subject] = not before
    return entries, written


async def append_entries(database_url: str, entries: list[Any]) -> list[int]:
    """Writes ``entries`` through SqlConsentRepository.append, in one transaction, in as few calls
    as its upsert allows (no subject twice in one call). Returns the ids it gave them."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from domain.identity.model import ClientInfo
    from persistence.repositories.consent import SqlConsentRepository

    browser = ClientInfo(ip=SELF_SERVICE_IP, user_agent=SELF_SERVICE_USER_AGENT)
    ids: list[int] = []
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            repository = SqlConsentRepository(conn)
            batch: list[Any] = []
            for entry in [*entries, None]:
                if entry is None or entry.subject in {e.subject for e in batch}:
                    for appended in await repository.append(batch, browser):
                        assert appended.id is not None  # append returns the entries with ids
                        ids.append(appended.id)
                    batch = []
                if entry is not None:
                    batch.append(entry)
    finally:
        await engine.dispose()
    return ids


async def copy_entries(dsn: str, entries: list[Any]) -> None:
    """Writes ``entries`` with COPY, in one transaction, as the rows append would write (ledger,
    context), and moves ``consent_states`` to each subject's last entry."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            tx = int(await connection.fetchval("SELECT pg_current_xact_id()::text::bigint"))
            ids = [
                int(r[0])
                for r in await connection.fetch(
                    "SELECT nextval(pg_get_serial_sequence('consent_ledger', 'id')) "
                    "FROM generate_series(1, $1)",
                    len(entries),
                )
            ]
            await connection.copy_records_to_table(
                "consent_ledger",
                records=[ledger_record(e, i, tx) for e, i in zip(entries, ids, strict=True)],
                columns=LEDGER_COLUMNS,
            )
            await connection.copy_records_to_table(
                "consent_ledger_context",
                records=[context_record(i) for i in ids],
                columns=CONTEXT_COLUMNS,
            )
            last = {e.subject: state_record(e, i) for e, i in zip(entries, ids, strict=True)}
            await connection.executemany(
                "UPDATE consent_states SET granted = $4, updated_at = $5, informed_of_gpc = $6, "
                "last_entry_id = $7 WHERE customer_id = $1 AND subject = $2 AND kind = $3",
                list(last.values()),
            )
    finally:
        await connection.close()


async def check_appended(dsn: str, entries: list[Any], ids: list[int]) -> int:
    """Compares the rows append wrote with what the COPY mirror writes for the same entries;
    returns the rows compared, raises on any difference."""
    connection = await asyncpg.connect(dsn)
    try:
        ledger = await connection.fetch(
            f"SELECT {', '.join(LEDGER_COLUMNS)} FROM consent_ledger "  # noqa: S608
            "WHERE id = ANY($1::bigint[]) ORDER BY id",
            ids,
        )
        context = await connection.fetch(
            f"SELECT {', '.join(CONTEXT_COLUMNS)} FROM consent_ledger_context "  # noqa: S608
            "WHERE entry_id = ANY($1::bigint[]) ORDER BY entry_id",
            ids,
        )
    finally:
        await connection.close()
    mirrored = [ledger_record(e, r["id"], r["tx"]) for e, r in zip(entries, ledger, strict=False)]
    if len(ledger) != len(entries) or [tuple(r) for r in ledger] != mirrored:
        raise RuntimeError("the COPY mirror no longer writes the ledger rows append writes")
    if [tuple(r) for r in context] != [context_record(i) for i in ids]:
        raise RuntimeError("the COPY mirror no longer writes the context rows append writes")
    return len(ledger) + len(context)


async def counts_of(dsn: str, customer_id: str) -> dict[str, int]:
    """What the database holds of the customer, section by section."""
    queries = {
        "consent_ledger": "SELECT count(*) FROM consent_ledger WHERE customer_id = $1",
        "sign_in_events": "SELECT count(*) FROM sign_in_events WHERE customer_id = $1",
        "profile_changes": "SELECT count(*) FROM profile_changes WHERE customer_id = $1",
        "requests": "SELECT count(*) FROM data_subject_requests WHERE customer_id = $1",
        "consent_states": "SELECT count(*) FROM consent_states WHERE customer_id = $1",
    }
    connection = await asyncpg.connect(dsn)
    try:
        return {
            name: int(await connection.fetchval(sql, uuid.UUID(customer_id)))
            for name, sql in queries.items()
        }
    finally:
        await connection.close()


async def vacuum_analyze(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def seed_ledger(
    run: harness.Run, customer: Customer, through_append: int, rng: random.Random
) -> dict[str, Any]:
    """Brings the customer's ledger to ``customer.entries`` entries (see ``plan_entries``)."""
    start = time.perf_counter()
    entries, by_api = asyncio.run(plan_entries(run.dsn, customer, rng))
    head, rest = entries[:through_append], entries[through_append:]
    appended = time.perf_counter()
    ids = asyncio.run(append_entries(run.url, head)) if head else []
    copied = time.perf_counter()
    if rest:
        asyncio.run(copy_entries(run.dsn, rest))
    done = time.perf_counter()
    compared = asyncio.run(check_appended(run.dsn, head, ids)) if head else 0
    return {
        "entries_written_by_the_api": by_api,
        "entries_through_append": len(head),
        "entries_by_copy": len(rest),
        "append_vs_copy_rows_compared": compared,
        "plan_s": round(appended - start, 2),
        "append_s": round(copied - appended, 2),
        "copy_s": round(done - copied, 2),
    }


# --------------------------------------------------------------------------- downloads


@dataclass
class Download:
    seconds: float
    headers_s: float
    first_byte_s: float
    size: int
    rss_before: int
    rss_peak: int
    rss_after: int
    polls: int
    body: bytes | None

    def facts(self) -> dict[str, Any]:
        return {
            "ms": round(self.seconds * 1000, 2),
            "headers_ms": round(self.headers_s * 1000, 2),
            "first_byte_ms": round(self.first_byte_s * 1000, 2),
            "bytes": self.size,
            "rss_before": self.rss_before,
            "rss_peak": self.rss_peak,
            "rss_after": self.rss_after,
            "rss_peak_increase": self.rss_peak - self.rss_before,
            "polls": self.polls,
        }


def download(http: httpx.Client, url: str, pid: int, poll_s: float, *, keep: bool) -> Download:
    """One GET of the export, timed, while the serving process's VmRSS is polled."""
    rss_before = vm_rss(pid)
    poller = RssPoller(pid, poll_s)
    poller.start()
    chunks: list[bytes] = []
    size = 0
    first_byte = 0.0
    start = time.perf_counter()
    try:
        with http.stream("GET", url) as response:
            headers = time.perf_counter() - start
            if response.status_code != 200:
                response.read()
                raise RuntimeError(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
            if not response.headers["content-type"].startswith("application/json"):
                raise RuntimeError(f"GET {url}: {response.headers['content-type']}")
            for chunk in response.iter_bytes():
                if not size:
                    first_byte = time.perf_counter() - start
                size += len(chunk)
                if keep:
                    chunks.append(chunk)
        elapsed = time.perf_counter() - start
    finally:
        poller.stop()
    return Download(
        seconds=elapsed,
        headers_s=headers,
        first_byte_s=first_byte,
        size=size,
        rss_before=rss_before,
        rss_peak=poller.peak,
        rss_after=vm_rss(pid),
        polls=poller.polls,
        body=b"".join(chunks) if keep else None,
    )


def replayed_preferences(document: dict[str, Any]) -> dict[str, bool]:
    """Each subject's choice after the document's own ledger, oldest first."""
    granted: dict[str, bool] = {}
    for entry in document["consentLedger"]:
        granted[entry["subject"]] = entry["granted"]
    return granted


def check_document(
    body: bytes, customer: Customer, counts: dict[str, int], *, validate: bool
) -> dict[str, Any]:
    """Parses the document, compares its sections with the database and its preferences with its
    own ledger replayed, and (``validate``) validates it against docs/export.schema.json."""
    start = time.perf_counter()
    document = json.loads(body)
    parsed = time.perf_counter() - start
    sections = {
        "consentLedger": len(document["consentLedger"]),
        "signIns": len(document["signIns"]),
        "profileChanges": len(document["profileChanges"]),
        "requests": len(document["requests"]),
        "preferences": len(document["preferences"]),
    }
    expected = {
        "consentLedger": counts["consent_ledger"],
        "signIns": counts["sign_in_events"],
        "profileChanges": counts["profile_changes"],
        "requests": counts["requests"],
        "preferences": counts["consent_states"],
    }
    problems = [
        f"{name}: {sections[name]} in the document, {expected[name]} in the database"
        for name in sections
        if sections[name] != expected[name]
    ]
    if sections["consentLedger"] != customer.entries:
        problems.append(f"{sections['consentLedger']} ledger entries, not {customer.entries}")
    if document["customerId"] != customer.id:
        problems.append(f"customerId {document['customerId']}, not {customer.id}")
    stated = {p["subject"]: p["granted"] for p in document["preferences"]}
    if replayed_preferences(document) != stated:
        problems.append("the preferences are not what the document's ledger replays to")
    facts: dict[str, Any] = {
        "sections": sections,
        "parse_s": round(parsed, 2),
        "problems": problems,
        "schema": None,
    }
    if validate:
        schema = json.loads(SCHEMA_PATH.read_text())
        start = time.perf_counter()
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker()
        )
        errors = [
            f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(document)
        ]
        facts["schema"] = {
            "path": str(SCHEMA_PATH.relative_to(harness.ROOT)),
            "errors": len(errors),
            "first_errors": errors[:5],
            "seconds": round(time.perf_counter() - start, 2),
        }
        problems += [f"schema: {e}" for e in errors[:5]]
    return facts


def measure(
    base_url: str,
    customer: Customer,
    counts: dict[str, int],
    pid: int,
    database: str,
    args: argparse.Namespace,
    validate: bool,
) -> dict[str, Any]:
    """requestDataExport, 1 warm-up download (kept and checked) and ``--downloads`` timed ones."""
    poll_s = args.poll_ms / 1000
    hwm_start = memory_status(pid)
    with client(base_url) as http:
        http.headers["Authorization"] = f"Bearer {customer.token}"
        opened = graphql(http, REQUEST_EXPORT)
        url = opened["export"]["downloadUrl"]
        counts = counts | {"requests": counts["requests"] + 1}  # this export's own request
        warm = [download(http, url, pid, poll_s, keep=i == 0) for i in range(WARM_UP_DOWNLOADS)]
        hwm_before = memory_status(pid)
        meter = harness.CpuMeter(pid, database)
        asyncio.run(meter.start())
        timed: list[Download] = []
        began = time.perf_counter()
        while len(timed) < args.downloads:
            spent = time.perf_counter() - began
            expected = statistics.fmean(d.seconds for d in timed) if timed else 0.0
            if len(timed) >= MIN_DOWNLOADS and spent + expected > args.seconds_per_size:
                break  # the next download would end past the budget
            timed.append(download(http, url, pid, poll_s, keep=False))
        cpu = asyncio.run(meter.stop())
        hwm_after = memory_status(pid)
    body = warm[0].body
    assert body is not None
    sizes = {d.size for d in warm + timed}
    if max(sizes) - min(sizes) > 64:  # only generatedAt may differ in length
        raise RuntimeError(f"downloads of different sizes: {sorted(sizes)}")
    increases = [d.rss_peak - d.rss_before for d in timed]
    return {
        "entries": customer.entries,
        "customer_id": customer.id,
        "export_url": url,
        "bytes": warm[0].size,
        "document": check_document(body, customer, counts, validate=validate),
        "timed_downloads": len(timed),
        "trimmed_by_budget": len(timed) < args.downloads,
        "server_cpu_ms_per_download": round(
            cpu["server_cores"] * cpu["wall_s"] / len(timed) * 1000, 1
        ),
        "time": harness.summary_ms([d.seconds for d in timed]),
        "headers": harness.summary_ms([d.headers_s for d in timed]),
        "first_byte": harness.summary_ms([d.first_byte_s for d in timed]),
        "mib_per_s_median": round(
            warm[0].size / MIB / statistics.median(d.seconds for d in timed), 1
        ),
        "memory": {
            "status_at_start": hwm_start,
            "status_after_warm_up": hwm_before,
            "status_after_timed": hwm_after,
            "rss_before_median": int(statistics.median(d.rss_before for d in timed)),
            "rss_peak_max": max(d.rss_peak for d in timed),
            "rss_peak_increase_median": int(statistics.median(increases)),
            "rss_peak_increase_max": max(increases),
            "warm_up_rss_peak_increase": max(d.rss_peak - d.rss_before for d in warm),
            "polls_per_download_median": int(statistics.median(d.polls for d in timed)),
        },
        "warm_up": [d.facts() for d in warm],
        "downloads": [d.facts() for d in timed],
        "cpu": cpu,
    }


# --------------------------------------------------------------------------- report


def mib(value: int) -> str:
    return f"{value / MIB:.1f}"


def report(results: dict[str, Any]) -> str:
    cfg = results["config"]
    sizes = results["sizes"]
    lines = ["", "  the customers (one per size), as the database holds them:"]
    for s in sizes:
        c, seed = s["counts"], s["seed"]
        lines.append(
            f"    {s['entries']:>9,} entries: {c['consent_ledger']:,} ledger entries "
            f"({seed['entries_written_by_the_api']} by the API, "
            f"{seed['entries_through_append']:,} through append, {seed['entries_by_copy']:,} by "
            f"COPY), {c['sign_in_events']} sign-ins, {c['profile_changes']} profile changes, "
            f"{c['requests']} requests before the measured export; API steps "
            f"{s['api_s']:.1f} s, append {seed['append_s']:.1f} s, COPY {seed['copy_s']:.1f} s"
        )
    compared = sum(s["seed"]["append_vs_copy_rows_compared"] for s in sizes)
    lines += [
        f"    {compared:,} rows written by append compared with what the COPY mirror writes: "
        "identical"
        if compared
        else "    the COPY mirror was not compared with append",
        f"    datarights consent verify: {results['consent_verify']}",
        "",
        f"  {'GET /exports/{id}, after 1 warm-up':<34} {'bytes':>11} {'timed':>5} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'min ms':>8} {'max ms':>8} {'TTFB p50':>8} "
        f"{'TTFB p90':>8} {'MiB/s':>6} {'server CPU ms':>13}",
    ]
    for s in sizes:
        t, f = s["time"], s["first_byte"]
        lines.append(
            f"  {s['entries']:>9,} ledger entries{'':<10} {s['bytes']:>11,} "
            f"{s['timed_downloads']:>5} {harness.ms(t, 'median_ms'):>8} "
            f"{harness.ms(t, 'p90_ms'):>8} {harness.ms(t, 'min_ms'):>8} "
            f"{harness.ms(t, 'max_ms'):>8} {harness.ms(f, 'median_ms'):>8} "
            f"{harness.ms(f, 'p90_ms'):>8} {s['mib_per_s_median']:>6.1f} "
            f"{s['server_cpu_ms_per_download']:>13,.0f}"
        )
    lines += [
        f"  NOTE: {s['entries']:,} entries: {s['timed_downloads']} timed downloads, not "
        f"{cfg['downloads']}: the next would have ended past the budget of "
        f"{cfg['seconds_per_size']:g} s per size (--seconds-per-size); its p90 is its maximum"
        for s in sizes
        if s["trimmed_by_budget"]
    ]
    lines += [
        "  (TTFB: to the first body byte, the document's '{', which the server sends once the "
        "session is checked and a database connection is open, before any section is read;",
        "  server CPU: the serving process's CPU time per timed download, from /proc)",
        "",
        f"  memory of the serving process, pid {results['server']['serving_pid']} "
        f"({results['server']['serving_pid_is']}), MiB; VmRSS polled every "
        f"{cfg['poll_ms']:g} ms during each download:",
        f"  {'':<24} {'RSS before':>10} {'peak RSS':>9} {'peak - before':>14} "
        f"{'warm-up':>8} {'VmHWM':>7} {'VmHWM':>7} {'VmHWM':>7}",
        f"  {'':<24} {'(median)':>10} {'(max)':>9} {'median':>7} {'max':>6} "
        f"{'peak-bef':>8} {'start':>7} {'warm':>7} {'end':>7}",
    ]
    for s in sizes:
        m = s["memory"]
        lines.append(
            f"  {s['entries']:>9,} ledger entries {mib(m['rss_before_median']):>10} "
            f"{mib(m['rss_peak_max']):>9} {mib(m['rss_peak_increase_median']):>7} "
            f"{mib(m['rss_peak_increase_max']):>6} {mib(m['warm_up_rss_peak_increase']):>8} "
            f"{mib(m['status_at_start']['VmHWM']):>7} {mib(m['status_after_warm_up']['VmHWM']):>7} "
            f"{mib(m['status_after_timed']['VmHWM']):>7}"
        )
    idle = results["server"]["memory_idle"]
    lines += [
        f"  idle after start (before any customer): VmRSS {mib(idle['VmRSS'])}, VmHWM "
        f"{mib(idle['VmHWM'])}; {sizes[0]['memory']['polls_per_download_median']} polls per "
        f"download of the smallest size (median)",
        f"  {results['flat']['verdict']}",
        "",
        "  the documents (the warm-up download of each size):",
    ]
    for s in sizes:
        d = s["document"]
        schema = d["schema"]
        checked = (
            f"; {schema['path']}: "
            + ("valid" if not schema["errors"] else f"{schema['errors']} ERRORS")
            + f" (jsonschema Draft 2020-12 with format checks, {schema['seconds']:.1f} s)"
            if schema
            else "; not validated against the schema (see --validate)"
        )
        lines.append(
            f"    {s['entries']:>9,} entries: {d['sections']}; "
            + ("all match the database" if not d["problems"] else "PROBLEMS")
            + ", preferences = the document's ledger replayed"
            + checked
        )
        lines += [f"      {p}" for p in d["problems"]]
    lines += [
        "",
        *harness.cpu_lines(
            results["machine"]["nproc"],
            [(f"{s['entries']:,} entries", s["cpu"]) for s in sizes],
            name_width=16,
        ),
        *harness.noise_warnings(
            [(f"the {s['entries']:,}-entry downloads", s["cpu"]) for s in sizes]
        ),
    ]
    server = results.get("server_log")
    if server:
        lines += harness.server_log_lines(server)
    return "\n".join(lines)


def flat_verdict(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the peak increase stays flat while the document grows: the largest size's median
    peak increase may exceed the smallest's by at most 10% of the difference in document size
    (holding the document, or the ledger, would cost more than its size in Python objects)."""
    small, large = sizes[0], sizes[-1]
    growth = (
        large["memory"]["rss_peak_increase_median"] - small["memory"]["rss_peak_increase_median"]
    )
    allowed = 0.10 * (large["bytes"] - small["bytes"])
    if len(sizes) < 2:
        return {"flat": None, "verdict": "one size only: run two to compare memory"}
    flat = growth <= allowed
    return {
        "flat": flat,
        "peak_increase_growth": growth,
        "allowed": int(allowed),
        "verdict": (
            f"{'FLAT' if flat else 'NOT FLAT'}: the document grows "
            f"{large['bytes'] / small['bytes']:.1f}x ({mib(small['bytes'])} -> "
            f"{mib(large['bytes'])} MiB); the median peak increase of RSS goes "
            f"{mib(small['memory']['rss_peak_increase_median'])} -> "
            f"{mib(large['memory']['rss_peak_increase_median'])} MiB ({growth / MIB:+.1f}; "
            f"allowed: 10% of the growth of the document, {allowed / MIB:.1f})"
        ),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--entries",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="ledger entries of the customer, one customer per size (default 10000 100000)",
    )
    parser.add_argument(
        "--downloads", type=int, default=10, help="timed downloads per size (default 10)"
    )
    parser.add_argument(
        "--seconds-per-size",
        type=float,
        default=90.0,
        help="time budget of the timed downloads of one size: no download is started that would "
        f"end past it, once {MIN_DOWNLOADS} are done (default 90)",
    )
    parser.add_argument(
        "--poll-ms", type=float, default=5.0, help="VmRSS polling interval (default 5)"
    )
    parser.add_argument(
        "--through-append",
        type=int,
        default=200,
        help="entries per customer written through SqlConsentRepository.append (default 200)",
    )
    parser.add_argument(
        "--validate",
        choices=["smallest", "all"],
        default="smallest",
        help="which sizes' documents to validate against the schema (default smallest)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    args.entries = sorted(set(args.entries))
    if not all(100 <= n <= 2_000_000 for n in args.entries):
        parser.error("--entries must be between 100 and 2000000")
    if not 1 <= args.downloads <= 1000:
        parser.error("--downloads must be between 1 and 1000")
    if not 1 <= args.seconds_per_size <= 3600:
        parser.error("--seconds-per-size must be between 1 and 3600")
    if not 1 <= args.poll_ms <= 1000:
        parser.error("--poll-ms must be between 1 and 1000")
    if args.through_append < 0:
        parser.error("--through-append must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.stop_on_sigterm()
    machine = harness.machine_facts()
    run = harness.Run("export")
    rng = random.Random(args.seed)
    sizes = ", ".join(f"{n:,}" for n in args.entries)

    print("datarights data export benchmark", *harness.machine_lines(machine), sep="\n")
    print(
        f"  load          one customer's export per size ({sizes} ledger entries): "
        f"requestDataExport, then GET /exports/{{id}} with its bearer token, "
        f"{WARM_UP_DOWNLOADS} warm-up + {args.downloads} timed downloads on one keep-alive "
        f"connection; VmRSS of the serving process polled every {args.poll_ms:g} ms"
    )
    sys.stdout.flush()

    version = run.create_database()
    results: dict[str, Any] = {
        "machine": machine,
        "config": {
            "workers": WORKERS,
            "entries": args.entries,
            "downloads": args.downloads,
            "seconds_per_size": args.seconds_per_size,
            "min_downloads": MIN_DOWNLOADS,
            "warm_up_downloads": WARM_UP_DOWNLOADS,
            "poll_ms": args.poll_ms,
            "through_append": args.through_append,
            "validate": args.validate,
            "seed": args.seed,
            "postgres_version": version,
            "timestamp": run.stamp,
        },
    }
    with run.scope() as cwd:
        started = run.start_server(WORKERS, cwd)
        pid, how = serving_pid(run.pid)
        idle = memory_status(pid)
        results["server"] = {
            "started_s": round(started, 2),
            "serving_pid": pid,
            "serving_pid_is": how,
            "memory_idle": idle,
        }
        print(f"                answering /healthz after {started:.1f} s")
        print(f"  watching      pid {pid}: {how}; VmRSS {mib(idle['VmRSS'])} MiB")
        sys.stdout.flush()

        tag = run.database.rsplit("_", 1)[-1]
        customers = [Customer(n, f"export-{n}-{tag}@example.com") for n in args.entries]
        per_size: list[dict[str, Any]] = []
        for customer in customers:
            api_s = through_the_api(run.base_url, customer)
            seed = seed_ledger(run, customer, args.through_append, rng)
            per_size.append({"entries": customer.entries, "api_s": round(api_s, 2), "seed": seed})
            print(
                f"  seeded        {customer.entries:,} ledger entries for {customer.email} "
                f"(API {api_s:.1f} s, append {seed['append_s']:.1f} s, COPY {seed['copy_s']:.1f} s)"
            )
            sys.stdout.flush()
        verified = run_datarights(["consent", "verify"], run.database, cwd).strip()
        results["consent_verify"] = verified.splitlines()[-1]
        asyncio.run(vacuum_analyze(run.dsn))
        print(f"  verified      {results['consent_verify']}; VACUUM ANALYZE")
        sys.stdout.flush()

        for customer, facts in zip(customers, per_size, strict=True):
            counts = asyncio.run(counts_of(run.dsn, customer.id))
            validate = args.validate == "all" or customer is customers[0]
            facts["counts"] = counts
            facts |= measure(run.base_url, customer, counts, pid, run.database, args, validate)
            print(
                f"  measured      {customer.entries:,} entries: {facts['bytes']:,} bytes, "
                f"median {facts['time']['median_ms']:.0f} ms"
            )
            sys.stdout.flush()
        results["sizes"] = per_size
        results["flat"] = flat_verdict(per_size)

    problems = [p for s in results["sizes"] for p in s["document"]["problems"]]
    run.finish(results, report)
    if problems:
        print(f"\n  {len(problems)} problem(s) with the documents", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    harness.run_main(main)
