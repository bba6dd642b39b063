"""The product against its floor, in one run: `me` (ad hoc and trusted) and `consentStates`.

Run on its own, never from the test suite::

    .venv/bin/python bench/versus_floor.py [--workers 2] [--duration 10] [--rounds 2]

It creates a fresh PostgreSQL database (``harness.Run``), migrates it with ``datarights
migrate``, seeds ``--customers`` customers with their consent states and ledger
(``consent_states.seed``, by COPY), one session per customer for the first ``--sessions`` of
them (random tokens; the table keeps their sha256 hex, as ``secret_hash`` does), a partner
(``datarights partners create``) and the trusted `me` document (``datarights documents load
bench/persisted-documents.json``). Then, ``--rounds`` times, it serves the product
(``datarights serve --workers N``) and the floor (``bench/floor.py``, with the same workers
served the same way: api/serving.py) side by side, and measures each operation with ``wrk -t1
-c32 -d<duration>s`` from a separate process on one, then at once on the other (the product
first in odd rounds, the floor first in even ones; the idle server uses no CPU meanwhile): the
machine's speed drifts over minutes, and the two phases of a ratio are seconds apart. Then both
are stopped and the login stall is measured on a server of its own. Each operation's
``ratio_to_floor`` is the product's req/s over its floor's, both summed over the rounds.
``consentStates`` is also measured at light load (``wrk -c1``: one request at a time). Before
any load, one response of each operation is checked; during the load a Lua ``response`` hook
counts non-200 answers and answers that carry a non-empty ``errors`` list (top-level, or a
mutation payload's user errors).

It writes ``bench/results/latest.json``, ``bench/results/latest.md`` (and ``latest.png`` if
matplotlib is installed), and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from argon2 import PasswordHasher

sys.path.insert(0, str(Path(__file__).resolve().parent))

import consent_states as cs
import harness

from domain.partners.use_cases import encode_feed_cursor
from domain.ports import FeedPosition

BENCH = Path(__file__).resolve().parent
MANIFEST = BENCH / "persisted-documents.json"
ID_SETS = 8  # distinct 1,000-id bodies rotated by the consentStates scripts


def trusted_document(operation: str) -> tuple[str, str]:
    """The document of the manifest whose operation is named ``operation``, and its hash."""
    manifest = json.loads(MANIFEST.read_text())
    for digest, text in manifest.items():
        digest = digest.removeprefix("sha256:")
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            raise RuntimeError(f"{MANIFEST}: a hash is not its document's")
        if text.split("(")[0].split("{")[0].split() == ["query", operation]:
            return digest, text
    raise RuntimeError(f"{MANIFEST}: no operation named {operation}")


def me_document() -> tuple[str, str]:
    """The `me` document of the manifest, and its hash."""
    return trusted_document("Me")


# --------------------------------------------------------------------------- seeding


async def seed_sessions(dsn: str, customer_ids: list[str], count: int) -> list[str]:
    """One session for each of the first ``count`` customers; returns their tokens."""
    now = datetime.now(UTC)
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    records = [
        (
            uuid.uuid4(),
            hashlib.sha256(token.encode()).hexdigest(),
            uuid.UUID(customer_id),
            now,
            now,
            now + timedelta(days=7),
            False,
        )
        for token, customer_id in zip(tokens, customer_ids, strict=False)
    ]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "sessions",
            records=records,
            columns=[
                "id",
                "token_hash",
                "customer_id",
                "created_at",
                "last_seen_at",
                "expires_at",
                "gpc_signal",
            ],
        )
        await connection.execute("ANALYZE sessions")
    finally:
        await connection.close()
    return tokens


# The login measurements sign the same 200 accounts in again and again, from one address.
RATE_LIMITS_RAISED = {
    "DATARIGHTS_LOGIN_ATTEMPTS_PER_ACCOUNT": "1000000 per minute",
    "DATARIGHTS_LOGIN_ATTEMPTS_PER_IP": "1000000 per minute",
}
LOGIN_ACCOUNTS = 200  # customers given a real argon2id hash, for the login measurement
LOGIN_PASSWORD = "correct horse battery staple 7"


async def seed_logins(
    dsn: str, customer_ids: list[str], settings: dict[str, str] | None = None
) -> list[str]:
    """A real argon2id hash of LOGIN_PASSWORD for the first LOGIN_ACCOUNTS customers, with the
    product's default parameters or those ``settings`` (``--set``) give the server, so that a
    sign-in verifies with them and has nothing to rehash; returns their e-mail addresses."""
    given = settings or {}
    hashed = PasswordHasher(
        time_cost=int(given.get("DATARIGHTS_ARGON2_TIME_COST", 5)),
        memory_cost=int(given.get("DATARIGHTS_ARGON2_MEMORY_KIB", 7_168)),
        parallelism=int(given.get("DATARIGHTS_ARGON2_PARALLELISM", 1)),
    ).hash(LOGIN_PASSWORD)
    ids = [uuid.UUID(i) for i in customer_ids[:LOGIN_ACCOUNTS]]
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "UPDATE customers SET password_hash = $1 WHERE id = ANY($2::uuid[]) RETURNING email",
            hashed,
            ids,
        )
    finally:
        await connection.close()
    return sorted(row["email"] for row in rows)


async def feed_positions(dsn: str, purposes: list[str], pages: int) -> list[tuple[int, int]]:
    """Where each of the first ``pages`` pages of 100 sharing changes starts, as (tx, id)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT tx, id FROM consent_ledger WHERE kind = 'SHARING' AND "
            "subject = ANY($1::text[]) AND source <> 'DEFAULT' ORDER BY tx, id",
            purposes,
        )
    finally:
        await connection.close()
    return [(rows[100 * k - 1]["tx"], rows[100 * k - 1]["id"]) for k in range(1, pages)]


# --------------------------------------------------------------------------- wrk scripts

LUA_COMMON = """
bad = 0
errors = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1
  elseif string.find(body, '"errors":[{', 1, true) or string.find(body, '"errors": [{', 1, true)
  then errors = errors + 1 end
end
function done(summary, latency, requests)
  local b, e = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); e = e + t:get("errors") end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"non_200":%d,"graphql_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, b, e))
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for these characters


def write_script(
    path: Path, target: str, bodies: list[str], tokens: list[str], pace_ms: int = 0
) -> None:
    """A wrk script that POSTs to ``target`` rotating ``bodies`` and bearer ``tokens`` (no
    Authorization header without tokens); with ``pace_ms``, each connection waits about that
    long between its requests (drawn evenly from half to one and a half times it)."""
    authorization = (
        "    ['Authorization'] = 'Bearer ' .. tokens[(i % #tokens) + 1]," if tokens else ""
    )
    lines = [
        "local bodies = {" + ",".join(lua_string(b) for b in bodies) + "}",
        "local tokens = {" + ",".join(lua_string(t) for t in tokens) + "}",
        "local i = 0",
        "function request()",
        "  i = i + 1",
        "  return wrk.format('POST', " + lua_string(target) + ", {",
        "    ['Content-Type'] = 'application/json',",
        authorization,
        "  }, bodies[(i % #bodies) + 1])",
        "end",
        # Each pause drawn from pace/2 to 3 pace/2 (mean: pace): connections that start together
        # drift apart instead of arriving in step, so a rate is steady, not bursts of them all.
        *(
            [f"function delay() return math.random({pace_ms // 2}, {pace_ms * 3 // 2}) end"]
            if pace_ms
            else []
        ),
        LUA_COMMON,
    ]
    path.write_text("\n".join(lines))


def wrk_command(base_url: str, script: Path, connections: int, duration: int) -> list[str]:
    return [
        *("wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s"),
        *("-s", str(script), base_url),
    ]


def run_wrk(base_url: str, script: Path, connections: int, duration: int) -> dict[str, Any]:
    done = subprocess.run(
        wrk_command(base_url, script, connections, duration),
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=False,
    )
    return wrk_result(done.stdout, done.stderr)


def metered_wrk(
    base_url: str, script: Path, connections: int, duration: int, pid: int, database: str
) -> dict[str, Any]:
    """:func:`run_wrk`, with the cores the server and PostgreSQL used meanwhile (``cpu``)."""
    meter = harness.CpuMeter(pid, database)
    asyncio.run(meter.start())
    result = run_wrk(base_url, script, connections, duration)
    result["cpu"] = asyncio.run(meter.stop())
    return result


def wrk_result(stdout: str, stderr: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("WRKJSON "):
            raw = json.loads(line.removeprefix("WRKJSON "))
            seconds = raw["duration_us"] / 1e6
            ok = raw["requests"] - raw["non_200"] - raw["graphql_errors"]
            return {
                "requests": raw["requests"],
                "seconds": round(seconds, 2),
                "req_s": round(ok / seconds, 1),
                "p50_ms": round(raw["p50_us"] / 1000, 2),
                "p90_ms": round(raw["p90_us"] / 1000, 2),
                "p99_ms": round(raw["p99_us"] / 1000, 2),
                "socket_errors": raw["socket_errors"],
                "non_200": raw["non_200"],
                "graphql_errors": raw["graphql_errors"],
            }
    raise RuntimeError(f"wrk gave no result:\n{stdout}\n{stderr}")


# `me` at a steady, moderate rate, alone and beside the logins: eight connections that each wait
# 20 ms between requests (about 360 a second, a third of what one worker serves). A closed
# loop (each connection asking again at once) would use every idle cycle of the machine, so
# anything else running beside it, hashing or not, would move its p99: it would measure the
# machine's capacity, not whether a hash holds a request up.
STALL_CONNECTIONS = 8
STALL_PACE_MS = 20
STALL = "me (general path), steady ~350/s on one worker: p99 beside 10 logins/s"
# The `me` of the stall goes through graphql-core (as the ad-hoc `me` did until texts were
# prepared, 27 Nov): the heavier request, and the same as in the earlier runs.
STALL_ME = "me (general path)"
# Ten connections that each wait a second between logins: at most 10 logins a second, a little
# fewer by the time each login takes (the rate measured is reported).
LOGIN_CONNECTIONS = 10
LOGIN_PAUSE_MS = 1000
# The stall's phases alternate, alone and beside the logins, this many times (--stall-pairs),
# each --duration long: a p99 of a few milliseconds moves by 20 % with a hiccup of the machine,
# and the machine's speed drifts within a minute, so one long phase of each compared its moment
# as much as its load. The medians of the phases' p99s are compared. With three pairs the same
# code measured -7 to +34 % in six rounds of 27 Nov (bench/login_stall.py, 19:27-19:35), and the
# phases alone spread 3.9-6.2 ms in one round: five pairs since 27 Nov, 19:50.
STALL_PAIRS = 5


def stall_phase(
    run: harness.Run, cwd: Path, scripts: dict[tuple[str, str], Path], args: argparse.Namespace
) -> dict[str, Any]:
    """:func:`login_stall` on a server of one worker, started for it and stopped after (its
    output beside the round's server's, ``….stall.log``)."""
    login = scripts.get(("product", "login"))
    served = run.log_path
    run.log_path = served.with_suffix(".stall.log")
    run.start_server(1, cwd, RATE_LIMITS_RAISED | overrides(args.set))
    try:
        stall = login_stall(
            run.base_url,
            run.pid,
            scripts[("product", STALL_ME)].with_name("me-stall.lua"),
            # without a login script (bench/login_stall.py --logins none) an A/A run
            login.with_name("login-paced.lua") if login is not None else None,
            args.duration,
            run.database,
            args.stall_pairs,
        )
    finally:
        harness._stop_server(run.server)
        run.server = None
        run.log_path = served
    print(
        f"    product  one worker: me {stall['me_req_s']:.0f}/s p99 "
        f"{_by_phase(stall, 'me_alone')} ms alone, {_by_phase(stall, 'me_beside_logins')} ms "
        f"beside {stall['logins_per_s']:.1f} logins/s, phase by phase; medians "
        f"{stall['p99_alone_ms']:.1f} / {stall['p99_beside_logins_ms']:.1f} ms "
        f"({100 * (stall['p99_moved'] or 0):+.0f}%; median of the pairs' ratios "
        f"{100 * (stall['p99_moved_by_pair'] or 0):+.0f}%; server {stall['cores_alone']:.2f} / "
        f"{stall['cores_beside_logins']:.2f} cores)"
    )
    sys.stdout.flush()
    return stall


def _by_phase(stall: dict[str, Any], phase: str) -> str:
    return ", ".join(f"{pair[phase]['p99_ms']:.1f}" for pair in stall["pairs"])


def sessions_seen_now(database: str) -> None:
    """Every session's idle clock set to now, before each measured phase of the product. A
    session last seen over a minute ago is touched (a write of its last_seen_at) by its next
    request; the bench's thousand sessions all age together, so a phase that crossed that
    minute had a burst of a thousand writes at once: in the login-stall phase that burst, not
    the logins, moved the p99 of `me` (+178 to +241 %; +114 to +213 % with ten more `me` a
    second or ten updateProfile in place of the logins; py-spy put the difference on
    SqlSessionRepository.touch, absent from the phase alone). In service the touches of many
    sessions spread out: about one per active session a minute. The floor never touches."""

    async def refresh() -> None:
        connection = await asyncpg.connect(harness.database_dsn(database))
        try:
            await connection.execute("UPDATE sessions SET last_seen_at = now()")
        finally:
            await connection.close()

    asyncio.run(refresh())


def login_stall(
    base_url: str,
    pid: int,
    me_script: Path,
    login_script: Path | None,
    duration: int,
    database: str,
    pairs_wanted: int = STALL_PAIRS,
) -> dict[str, Any]:
    """`me` (general path) at a steady rate (``STALL_CONNECTIONS`` connections, each pausing
    ``STALL_PACE_MS`` between requests), alone, then while a steady 10 logins a second run
    beside it (wrk -c10, each connection pausing a second between its logins); the two phases
    ``pairs_wanted`` times in turn, each ``duration`` seconds, after the machine fell quiet.

    Run against a server of one worker (the goal is per worker): with two, each phase's few
    connections land on the workers by chance (by a hash of their addresses, api/serving.py;
    before it, with one shared socket, in one run all eight on one worker in one phase and
    spread over both in the other), so the two phases would not be the same load."""
    pairs: list[dict[str, Any]] = []
    waited = 0.0
    for _ in range(pairs_wanted):
        wait_idle(pid)
        waited += wait_machine_quiet()  # the phases before leave PostgreSQL busy for a while
        sessions_seen_now(database)
        alone = metered_wrk(base_url, me_script, STALL_CONNECTIONS, duration, pid, database)
        wait_idle(pid)
        waited += wait_machine_quiet()
        sessions_seen_now(database)
        logins = (
            subprocess.Popen(
                wrk_command(base_url, login_script, LOGIN_CONNECTIONS, duration + 2),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            if login_script is not None
            else None
        )
        time.sleep(1)
        beside = metered_wrk(base_url, me_script, STALL_CONNECTIONS, duration, pid, database)
        if logins is not None:
            out, err = logins.communicate(timeout=duration + 120)
            login_result = wrk_result(out, err)
        else:  # an A/A run: the second phase alone too, to show the measure's own noise
            login_result = {"requests": 0, "seconds": float(duration), "req_s": 0.0}
        pairs.append({"me_alone": alone, "me_beside_logins": beside, "logins": login_result})

    def median(phase: str, *keys: str) -> float:
        values = []
        for pair in pairs:
            value: Any = pair[phase]
            for key in keys:
                value = value[key]
            values.append(value)
        return float(statistics.median(values))

    p99_alone = median("me_alone", "p99_ms")
    p99_beside = median("me_beside_logins", "p99_ms")
    # Each pair's two phases are seconds apart, the pairs minutes: the machine's drift over a
    # round moves the medians apart (alone 3.0 to 5.5 ms in one round of 27 Nov, 20:15), not a
    # pair's ratio. Reported beside the ratio of the medians.
    ratios = [
        pair["me_beside_logins"]["p99_ms"] / pair["me_alone"]["p99_ms"]
        for pair in pairs
        if pair["me_alone"]["p99_ms"]
    ]
    return {
        "pairs": pairs,
        "me_req_s": median("me_alone", "req_s"),
        "logins_per_s": median("logins", "req_s"),
        "p99_alone_ms": p99_alone,
        "p99_beside_logins_ms": p99_beside,
        "p99_moved": p99_beside / p99_alone - 1 if p99_alone else None,
        "p99_moved_by_pair": statistics.median(ratios) - 1 if ratios else None,
        "cores_alone": median("me_alone", "cpu", "server_cores"),
        "cores_beside_logins": median("me_beside_logins", "cpu", "server_cores"),
        "waited_for_quiet_s": waited,
    }


# --------------------------------------------------------------------------- servers


_MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem")


def memory_per_process(root: int) -> dict[str, dict[str, int]]:
    """The RSS of ``root`` and its descendants (the first is the supervisor) in MiB, and its
    parts (anonymous, file-backed, shared memory), by pid, from one read of each
    /proc/PID/status."""
    _, parents = harness._all_processes_cpu()
    out: dict[str, dict[str, int]] = {}
    for pid in sorted(harness._process_tree(root, parents)):
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        fields = (line.split() for line in lines)
        out[str(pid)] = {
            f[0][:-1]: round(int(f[1]) / 1024) for f in fields if f and f[0][:-1] in _MEMORY_FIELDS
        }
    return out


def rss_per_process(root: int) -> dict[str, int]:
    """VmRSS in MiB of ``root`` and its descendants (the first is the supervisor)."""
    return {pid: m.get("VmRSS", 0) for pid, m in memory_per_process(root).items()}


def record_rss(side: Side, out: dict[str, Any], key: str, when: str) -> None:
    """The side's RSS by pid into ``out[key]``, printed with its parts (what the process
    allocated, against mapped files such as libraries)."""
    memory = memory_per_process(side.pid)
    out[key] = {pid: m.get("VmRSS", 0) for pid, m in memory.items()}
    parts = ", ".join(
        f"{pid}: {m.get('RssAnon', 0)}+{m.get('RssFile', 0)}+{m.get('RssShmem', 0)}"
        for pid, m in memory.items()
    )
    print(f"    {side.name:<8} RSS MiB by pid {when} {out[key]}")
    print(f"    {side.name:<8} anon+file+shmem MiB {parts}")


def wait_idle(root: int, limit_s: float = 120.0) -> float:
    """Waits until the server's processes use under 0.05 cores over half a second (requests that
    wrk abandoned at its deadline are still being served); returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        before, parents = harness._all_processes_cpu()
        tree = harness._process_tree(root, parents)
        time.sleep(0.5)
        after, _ = harness._all_processes_cpu()
        used = sum(after.get(pid, 0.0) - before.get(pid, 0.0) for pid in tree) / 0.5
        if used < 0.05:
            break
    return round(time.monotonic() - start, 1)


def wait_machine_quiet(limit_s: float = 60.0, busy_cores: float = 0.15) -> float:
    """Waits until the whole machine uses under ``busy_cores`` over half a second (PostgreSQL's
    autovacuum and checkpoints after the heavy phases, as well as the server); returns the
    seconds waited."""

    def busy_and_total() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    start = time.monotonic()
    cores = os.cpu_count() or 1
    while time.monotonic() - start < limit_s:
        busy_before, total_before = busy_and_total()
        time.sleep(0.5)
        busy_after, total_after = busy_and_total()
        if total_after > total_before:
            share = (busy_after - busy_before) / (total_after - total_before)
            if share * cores < busy_cores:
                break
    return round(time.monotonic() - start, 1)


def start_floor(database: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            # Served as the product is (api/serving.py), by floor.py's own main.
            [
                sys.executable,
                "floor.py",
                "--host",
                harness.HOST,
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=BENCH,
            env=os.environ | {"FLOOR_DSN": harness.database_dsn(database)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    harness._wait_until_healthy(process, f"http://{harness.HOST}:{port}", log)
    return process


# --------------------------------------------------------------------------- operations


UPDATE_PROFILE = (
    "mutation Rename($input: UpdateProfileInput!) { updateProfile(input: $input) { "
    "customer { id name version updatedAt } errors { code } } }"
)
CHANGES = (
    "query Changes($after: String) { consentChanges(after: $after, first: 100) { "
    "edges { cursor node { customerId purpose granted previous source actor occurredAt } } "
    "pageInfo { hasNextPage endCursor } } }"
)
LOGIN = "mutation SignIn($input: LoginInput!) { login(input: $input) { token errors { code } } }"
NAMES = [f"Ada Lovelace {n}" for n in range(8)]


def general_path(text: str, opening: str) -> str:
    """``text`` with ``@include(if: true)`` on the field that ``opening`` opens: the same answer,
    but outside the prepared subset (api/documents/prepared.py takes no directive), so that
    graphql-core executes it and the general path is measured against its floor too. (Texts in
    the subset are prepared since 27 Nov, as trusted documents are.)"""
    if text.count(opening) != 1:
        raise RuntimeError(f"{opening!r} is not in the document once")
    return text.replace(opening, opening.removesuffix("{") + "@include(if: true) {")


def operations(
    digest: str,
    text: str,
    key: str,
    id_sets: list[list[str]],
    positions: list[tuple[int, int]],
    emails: list[str],
) -> dict[str, Any]:
    """name -> (product target, product bodies, floor target, floor bodies, auth), auth being
    "sessions" (the seeded session tokens), "key" (the partner's) or "none"."""
    states_digest, states_text = trusted_document("States")
    if states_text != cs.STATES:
        raise RuntimeError(f"{MANIFEST}: the States document is not consent_states.STATES")
    states = [
        json.dumps({"query": cs.STATES, "variables": {"ids": ids, "purposes": cs.PURPOSES}})
        for ids in id_sets
    ]
    trusted_states = [
        json.dumps(
            {
                "documentId": f"sha256:{states_digest}",
                "variables": {"ids": ids, "purposes": cs.PURPOSES},
            }
        )
        for ids in id_sets
    ]
    floor_states = [json.dumps({"ids": ids, "purposes": cs.PURPOSES}) for ids in id_sets]
    general_me = general_path(text, "query Me { me {")
    general_states = [
        json.dumps(
            {
                "query": general_path(cs.STATES, "purposes: $purposes) {"),
                "variables": {"ids": ids, "purposes": cs.PURPOSES},
            }
        )
        for ids in id_sets
    ]
    return {
        "me (ad hoc)": ("/graphql", [json.dumps({"query": text})], "/me", ["{}"], "sessions"),
        "me (general path)": (
            "/graphql",
            [json.dumps({"query": general_me})],
            "/me",
            ["{}"],
            "sessions",
        ),
        "me (trusted)": (
            "/graphql",
            [json.dumps({"documentId": f"sha256:{digest}"})],
            "/me",
            ["{}"],
            "sessions",
        ),
        "consentStates 1,000 ids": ("/graphql", states, "/consent-states", floor_states, "key"),
        "consentStates 1,000 ids (trusted)": (
            "/graphql",
            trusted_states,
            "/consent-states",
            floor_states,
            "key",
        ),
        "consentStates 1,000 ids (general path)": (
            "/graphql",
            general_states,
            "/consent-states",
            floor_states,
            "key",
        ),
        "updateProfile": (
            "/graphql",
            [
                json.dumps({"query": UPDATE_PROFILE, "variables": {"input": {"name": name}}})
                for name in NAMES
            ],
            "/update-profile",
            [json.dumps({"name": name}) for name in NAMES],
            "sessions",
        ),
        "consentChanges page of 100": (
            "/graphql",
            [
                json.dumps(
                    {
                        "query": CHANGES,
                        "variables": {"after": encode_feed_cursor(FeedPosition(*p)) if p else None},
                    }
                )
                for p in [None, *positions]
            ],
            "/consent-changes",
            [json.dumps({"purposes": cs.PURPOSES, "after": p}) for p in [None, *positions]],
            "key",
        ),
        "login": (
            "/graphql",
            [
                json.dumps(
                    {
                        "query": LOGIN,
                        "variables": {"input": {"email": e, "password": LOGIN_PASSWORD}},
                    }
                )
                for e in emails
            ],
            "/login",
            [json.dumps({"email": e, "password": LOGIN_PASSWORD}) for e in emails],
            "none",
        ),
    }


def seed_small(
    run: harness.Run,
    cwd: Path,
    customers: int,
    sessions: int,
    rng: random.Random,
    settings: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[str], str]:
    """A migrated database seeded for one operation at a time (``sample_profile.py``,
    ``asgi_cpu.py``): customers, sessions, a partner and the trusted documents; returns the
    operations (as :func:`operations`), the session tokens and the partner's key."""
    digest, text = me_document()
    cs.run_datarights(["migrate"], run.database, cwd)
    seeded = asyncio.run(cs.seed(run.url, run.dsn, customers, 0, rng))
    tokens = asyncio.run(seed_sessions(run.dsn, seeded.customer_ids, sessions))
    key = cs.create_partner(run.database, cwd)
    cs.run_datarights(["documents", "load", str(MANIFEST)], run.database, cwd)
    id_sets = [rng.sample(seeded.customer_ids, cs.IDS_PER_CALL) for _ in range(2)]
    emails = asyncio.run(seed_logins(run.dsn, seeded.customer_ids, settings))
    positions = asyncio.run(feed_positions(run.dsn, cs.PURPOSES, 2))
    return operations(digest, text, key, id_sets, positions, emails), tokens, key


# Also measured at light load (wrk -c1: one request at a time), for the p99 goal.
LIGHT = [
    "consentStates 1,000 ids",
    "consentStates 1,000 ids (trusted)",
    "consentStates 1,000 ids (general path)",
]


def auth_token(auth: str, tokens: list[str], key: str) -> str | None:
    return tokens[0] if auth == "sessions" else key if auth == "key" else None


def check_once(base_url: str, target: str, body: str, token: str | None) -> None:
    """Raises unless one request answers 200 with data and without errors."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = httpx.post(
        base_url + target, content=body, trust_env=False, timeout=30, headers=headers
    )
    payload = response.json()
    if response.status_code != 200 or payload.get("errors") or not payload.get("data"):
        raise RuntimeError(f"{target}: {response.status_code} {response.text[:500]}")
    value = next(iter(payload["data"].values()))
    if not value:
        raise RuntimeError(f"{target}: empty answer {response.text[:300]}")


@dataclass(frozen=True)
class Side:
    """One of the two servers of a round: its name, URL and process (the supervisor)."""

    name: str
    base_url: str
    pid: int


def measure_operation(
    side: Side,
    name: str,
    ops: dict[str, Any],
    scripts: dict[tuple[str, str], Path],
    tokens: list[str],
    key: str,
    args: argparse.Namespace,
    database: str,
    out: dict[str, Any],
) -> None:
    """One operation under load on one side, into ``out`` (and, before its first sign-in, the
    side's RSS)."""
    p_target, p_bodies, f_target, f_bodies, auth = ops[name]
    if auth == "none" and "rss_mib_before_logins" not in out:
        # Before the first sign-in: what reads alone leave (each hashing thread then keeps
        # its argon2 memory, 7 MiB, for the next hash).
        record_rss(side, out, "rss_mib_before_logins", "before logins")
    target, bodies = (p_target, p_bodies) if side.name == "product" else (f_target, f_bodies)
    check_once(side.base_url, target, bodies[0], auth_token(auth, tokens, key))
    script = scripts[(side.name, name)]
    run_wrk(side.base_url, script, args.connections, 2)  # warm-up, not counted
    wait_idle(side.pid)
    if side.name == "product":
        sessions_seen_now(database)
    out[name] = metered_wrk(
        side.base_url, script, args.connections, args.duration, side.pid, database
    )
    out[name]["drain_s"] = wait_idle(side.pid)
    print(
        f"    {side.name:<8} {name:<24} {out[name]['req_s']:>8.1f} req/s  "
        f"p50 {out[name]['p50_ms']:.1f} ms  p99 {out[name]['p99_ms']:.1f} ms  "
        f"(server {out[name]['cpu']['server_cores']:.2f} cores, PostgreSQL "
        f"{out[name]['cpu']['database_backends_cores']:.2f}, other "
        f"{out[name]['cpu']['other_cores']:.2f}; drained {out[name]['drain_s']} s after)"
    )
    sys.stdout.flush()


def measure_light(
    side: Side,
    scripts: dict[tuple[str, str], Path],
    args: argparse.Namespace,
    database: str,
    out: dict[str, Any],
) -> None:
    """The light-load phases on one side, then its RSS after the run, into ``out``."""
    for name in LIGHT:
        wait_idle(side.pid)
        if side.name == "product":
            sessions_seen_now(database)
        light = run_wrk(side.base_url, scripts[(side.name, name)], 1, args.duration)
        out[f"{name} light"] = light
        print(
            f"    {side.name:<8} {name + ', -c1':<24} {light['req_s']:>8.1f} req/s  "
            f"p50 {light['p50_ms']:.1f} ms  p99 {light['p99_ms']:.1f} ms"
        )
    record_rss(side, out, "rss_mib_by_pid", "(first: supervisor)")
    sys.stdout.flush()


def measure_round(
    sides: list[Side],
    ops: dict[str, Any],
    scripts: dict[tuple[str, str], Path],
    tokens: list[str],
    key: str,
    args: argparse.Namespace,
    database: str,
) -> dict[str, Any]:
    """Every operation on both servers, the two sides' phases of an operation back to back (in
    the order of ``sides``), then each side's light-load phases: the machine's speed drifts
    over minutes, and a ratio compares phases seconds apart rather than minutes."""
    result: dict[str, Any] = {side.name: {} for side in sides}
    for name in ops:
        if args.only and name not in args.only:
            continue
        for side in sides:
            measure_operation(
                side, name, ops, scripts, tokens, key, args, database, result[side.name]
            )
    for side in sides:
        measure_light(side, scripts, args, database, result[side.name])
    return result


def combine(rounds: list[dict[str, Any]], side: str, name: str) -> dict[str, Any]:
    runs = [r[side][name] for r in rounds]
    total = sum(r["requests"] for r in runs)
    return {
        "req_s": round(sum(r["req_s"] for r in runs) / len(runs), 1),
        "p50_ms": round(sorted(r["p50_ms"] for r in runs)[len(runs) // 2], 2),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "requests": total,
        "failures": sum(r["non_200"] + r["graphql_errors"] + r["socket_errors"] for r in runs),
        "per_round_req_s": [r["req_s"] for r in runs],
    }


GOALS = {"me (trusted)": 0.9, "me (ad hoc)": 0.35}
LIGHT_P99_GOAL_MS = 50.0


def workers_rss(by_pid: dict[str, int] | None) -> list[int]:
    """The workers' RSS of a server's process tree: all but its first process (the
    supervisor) and the small helper processes (multiprocessing's resource tracker)."""
    if not by_pid:
        return []
    return sorted(v for v in list(by_pid.values())[1:] if v > 40)


def summarise(rounds: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name in names:
        product, floor = combine(rounds, "product", name), combine(rounds, "floor", name)
        table[name] = product | {
            "ratio_to_floor": round(product["req_s"] / floor["req_s"], 3)
            if floor["req_s"]
            else None,
            "floor": floor,
        }
        if name in GOALS:
            table[name]["goal_ratio"] = GOALS[name]
            table[name]["goal_met"] = table[name]["ratio_to_floor"] >= GOALS[name]
    for name in LIGHT:
        light = combine(rounds, "product", f"{name} light")
        floor = combine(rounds, "floor", f"{name} light")
        table[f"{name}, light load (-c1)"] = light | {
            "ratio_to_floor": round(light["req_s"] / floor["req_s"], 3),
            "floor": floor,
            "goal_p99_ms": LIGHT_P99_GOAL_MS,
            "goal_met": light["requests"] > 0
            and light["failures"] == 0
            and light["p99_ms"] < LIGHT_P99_GOAL_MS,
        }
    for side in ("product", "floor"):
        table[f"RSS per worker, MiB ({side})"] = {
            "before_logins": [workers_rss(r[side].get("rss_mib_before_logins")) for r in rounds],
            "after_the_run": [workers_rss(r[side]["rss_mib_by_pid"]) for r in rounds],
            **({"goal": "under 150 MB (143 MiB)"} if side == "product" else {}),
        }
    stalls = [r["product"]["login_stall"] for r in rounds]
    table[STALL] = {
        "me_req_s": [x["me_req_s"] for x in stalls],
        "p99_alone_ms": [x["p99_alone_ms"] for x in stalls],
        "p99_beside_logins_ms": [x["p99_beside_logins_ms"] for x in stalls],
        "p99_alone_by_phase_ms": [_by_phase(x, "me_alone") for x in stalls],
        "p99_beside_logins_by_phase_ms": [_by_phase(x, "me_beside_logins") for x in stalls],
        "logins_per_s": [x["logins_per_s"] for x in stalls],
        "p99_moved": [round(x["p99_moved"], 3) for x in stalls],
        "p99_moved_by_pair": [round(x["p99_moved_by_pair"], 3) for x in stalls],
        "goal": "p99 moves less than 20 %",
        "goal_met": all(x["p99_moved"] < 0.2 for x in stalls),
    }
    return table


def spread(rounds: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Per operation and round, each worker's share of the product's server CPU: whether the
    connections spread. The first pid of a tree is the supervisor; a process that did
    next to nothing in every operation of the round (multiprocessing's resource tracker) is not
    a worker. A worker that sat idle through one operation shows as 0."""
    lines = []
    for name in names:
        shares = []
        for r in rounds:
            per_op = [
                list(r["product"][n]["cpu"]["server_cores_per_process"].items())[1:] for n in names
            ]
            workers = {
                pid for op in per_op for pid, cores in op if cores >= 0.02 * sum(c for _, c in op)
            }
            per_pid = r["product"][name]["cpu"]["server_cores_per_process"]
            used = [per_pid.get(pid, 0.0) for pid in sorted(workers)]
            total = sum(used) or 1.0
            shares.append("/".join(f"{100 * w / total:.0f}" for w in sorted(used)))
        lines.append(f"- {name}: {', '.join(shares)} % of the server CPU per worker, by round")
    return lines


def markdown(table: dict[str, Any], config: dict[str, Any]) -> str:
    lines = [
        f"wrk -t1 -c{config['connections']} -d{config['duration']}s per measurement (light load: "
        f"-c1), {config['workers']} workers each, {config['rounds']} rounds (each operation on "
        "both sides back to back), "
        f"{config['customers']:,} customers; req/s: mean of the rounds; p50: median of the rounds' "
        "p50 (the higher of two); p99: the worst round's",
        "",
        "| operation | product req/s | p50 ms | p99 ms | floor req/s | floor p50 ms | "
        "floor p99 ms | ratio_to_floor | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in table.items():
        if "floor" not in row:
            continue
        floor = row["floor"]
        if "goal_ratio" in row:
            goal = f"≥ {row['goal_ratio']}: {'met' if row['goal_met'] else 'NOT met'}"
        elif "goal_p99_ms" in row:
            goal = f"p99 < {row['goal_p99_ms']:g} ms: {'met' if row['goal_met'] else 'NOT met'}"
        else:
            goal = ""
        lines.append(
            f"| {name} | {row['req_s']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
            f"{floor['req_s']:.0f} | {floor['p50_ms']:.1f} | {floor['p99_ms']:.1f} | "
            f"{row['ratio_to_floor']:.2f} | {goal} |"
        )
    for side in ("product", "floor"):
        rss = table.get(f"RSS per worker, MiB ({side})")
        if rss:
            lines += [
                "",
                f"RSS per worker ({side}), MiB, by round: before any login "
                f"{' / '.join(str(r) for r in rss['before_logins'])}, after the run "
                f"{' / '.join(str(r) for r in rss['after_the_run'])}"
                + (" (goal: under 150 MB = 143 MiB)" if side == "product" else ""),
            ]
    stall = table.get(STALL)
    if stall:
        moved = ", ".join(f"{100 * m:+.0f} %" for m in stall["p99_moved"])
        by_pair = ", ".join(f"{100 * m:+.0f} %" for m in stall["p99_moved_by_pair"])
        pairs = config.get("stall_pairs", STALL_PAIRS)
        lines += [
            "",
            f"Login against `me`, on one worker, {pairs} phases alone and {pairs} "
            f"beside the logins in turn: `{STALL_ME}` at a steady "
            f"{' / '.join(f'{v:.0f}' for v in stall['me_req_s'])} req/s has a p99 (median of "
            f"the phases) of {' / '.join(f'{v:.1f}' for v in stall['p99_alone_ms'])} ms alone "
            f"and {' / '.join(f'{v:.1f}' for v in stall['p99_beside_logins_ms'])} ms beside "
            f"{' / '.join(f'{v:.1f}' for v in stall['logins_per_s'])} logins/s, by round: "
            f"{moved} (goal: under +20 %, {'met' if stall['goal_met'] else 'NOT met'}); "
            f"the median of the pairs' own ratios (each pair's phases seconds apart) {by_pair}; "
            f"phase by phase, alone {' / '.join(stall['p99_alone_by_phase_ms'])} ms, beside "
            f"{' / '.join(stall['p99_beside_logins_by_phase_ms'])} ms.",
        ]
    return "\n".join(lines) + "\n"


def chart(table: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [n for n, row in table.items() if "floor" in row]
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.set_yscale("log")  # from a few calls a second to thousands
    ax.bar([i - 0.2 for i in x], [table[n]["req_s"] for n in names], 0.4, label="product")
    ax.bar([i + 0.2 for i in x], [table[n]["floor"]["req_s"] for n in names], 0.4, label="floor")
    for i, n in enumerate(names):
        ax.annotate(
            f"{table[n]['ratio_to_floor']:.2f}",
            (i - 0.2, table[n]["req_s"]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    labels = [
        n.replace(", light", "\nlight")
        .replace(" (trusted)", "\n(trusted)")
        .replace(" 1,0", "\n1,0")
        for n in names
    ]
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.set_ylabel("req/s (log scale)")
    ax.set_title("datarights vs floor (ratio above the product's bar)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="product, floor, product, floor…")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--stall-pairs",
        type=int,
        default=STALL_PAIRS,
        help="pairs of login-stall phases (alone, beside the logins) per round",
    )
    add_set_argument(parser)
    parser.add_argument(
        "--only",
        action="append",
        metavar="OPERATION",
        help="measure only this operation under load (repeatable; the light-load and login-stall "
        "phases still run); the results then go to the run's own JSON, not to latest.*",
    )
    return parser.parse_args(argv)


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    """``--set DATARIGHTS_NAME=VALUE``, repeatable: a setting for the product (see
    :func:`overrides`), for a before/after of one change. Every bench script takes it."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="DATARIGHTS_NAME=VALUE",
        help="a setting for the product's server (repeatable)",
    )


def overrides(pairs: list[str]) -> dict[str, str]:
    """``--set`` pairs as environment variables for the product's server."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.startswith("DATARIGHTS_"):
            raise SystemExit(f"--set {pair!r}: give DATARIGHTS_NAME=VALUE")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in [name for name in os.environ if name.startswith("DATARIGHTS_")]:
        del os.environ[name]
    harness.stop_on_sigterm()
    machine = harness.machine_facts()
    run = harness.Run("versus-floor")
    rng = random.Random(args.seed)
    digest, text = me_document()
    print("datarights against its floor", *harness.machine_lines(machine), sep="\n")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[
        0
    ]
    print(f"  load          {wrk_version.strip()}, -t1 -c{args.connections} -d{args.duration}s")
    version = run.create_database()
    config = vars(args) | {
        "postgres_version": version,
        "timestamp": run.stamp,
        "wrk": wrk_version,
        "rate_limits_raised": RATE_LIMITS_RAISED,
        "settings": overrides(args.set),
    }
    print(f"  product       rate limits raised for the login measurements: {RATE_LIMITS_RAISED}")
    if args.set:
        print(f"  product       settings: {overrides(args.set)}")
    rounds: list[dict[str, Any]] = []
    with run.scope() as cwd:
        cs.run_datarights(["migrate"], run.database, cwd)
        seeded = asyncio.run(cs.seed(run.url, run.dsn, args.customers, 0, rng))
        tokens = asyncio.run(seed_sessions(run.dsn, seeded.customer_ids, args.sessions))
        key = cs.create_partner(run.database, cwd)
        loaded = cs.run_datarights(["documents", "load", str(MANIFEST)], run.database, cwd)
        print(
            f"  seeded        {args.customers:,} customers in "
            f"{seeded.facts['seconds']['total']:.1f} s, "
            f"{len(tokens):,} sessions, partner key {key[:8]}…, trusted me: {loaded.strip()[:80]}"
        )
        id_sets = [rng.sample(seeded.customer_ids, cs.IDS_PER_CALL) for _ in range(ID_SETS)]
        emails = asyncio.run(seed_logins(run.dsn, seeded.customer_ids, overrides(args.set)))
        positions = asyncio.run(feed_positions(run.dsn, cs.PURPOSES, ID_SETS))
        ops = operations(digest, text, key, id_sets, positions, emails)
        scripts: dict[tuple[str, str], Path] = {}
        for index, (name, (p_target, p_bodies, f_target, f_bodies, auth)) in enumerate(ops.items()):
            auth_tokens = tokens if auth == "sessions" else [key] if auth == "key" else []
            for side, target, bodies in (
                ("product", p_target, p_bodies),
                ("floor", f_target, f_bodies),
            ):
                path = cwd / f"{side}-{index}.lua"
                write_script(path, target, bodies, auth_tokens)
                scripts[(side, name)] = path
        me_target, me_bodies = ops[STALL_ME][:2]
        write_script(cwd / "me-stall.lua", me_target, me_bodies, tokens, STALL_PACE_MS)
        login_target, login_bodies = ops["login"][:2]
        write_script(cwd / "login-paced.lua", login_target, login_bodies, [], LOGIN_PAUSE_MS)
        floor_port = harness._free_port()
        floor_log = harness.RESULTS / f"versus-floor-{run.stamp}.floor.log"
        serve_log = run.log_path
        for number in range(1, args.rounds + 1):
            print(f"  round {number}/{args.rounds}")
            run.log_path = serve_log.with_suffix(f".{number}.log")
            run.start_server(args.workers, cwd, RATE_LIMITS_RAISED | overrides(args.set))
            floor = start_floor(run.database, floor_port, args.workers, floor_log)
            try:
                sides = [
                    Side("product", run.base_url, run.pid),
                    Side("floor", f"http://{harness.HOST}:{floor_port}", floor.pid),
                ]
                # Each side goes first in every other round.
                order = sides if number % 2 else sides[::-1]
                result = measure_round(order, ops, scripts, tokens, key, args, run.database)
            finally:
                harness._stop_server(floor)
                harness._stop_server(run.server)
                run.server = None
            result["product"]["login_stall"] = stall_phase(run, cwd, scripts, args)
            rounds.append(result)

    measured = [name for name in ops if not args.only or name in args.only]
    table = summarise(rounds, measured)
    results = {"machine": machine, "config": config, "operations": table, "rounds": rounds}
    md = markdown(table, config)
    md += "\nHow the load spread over the workers:\n\n" + "\n".join(spread(rounds, measured)) + "\n"
    run.json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    drew = False
    if not args.only:
        harness.RESULTS.mkdir(parents=True, exist_ok=True)
        (harness.RESULTS / "latest.json").write_text(
            json.dumps(results, indent=2, default=str) + "\n"
        )
        (harness.RESULTS / "latest.md").write_text(md)
        drew = chart(table, harness.RESULTS / "latest.png")
    print()
    print(md)
    noisy = [
        f"{side} {name} (round {i + 1}): {r[side][name]['cpu']['other_cores']:.2f}"
        for i, r in enumerate(rounds)
        for side in ("product", "floor")
        for name in measured
        if r[side][name]["cpu"]["other_cores"] > harness.NOISE_CORES
    ]
    if noisy:
        print("  WARNING: other work used more than 0.25 cores during: " + "; ".join(noisy))
    failures = {
        n: r["failures"]
        for n, r in table.items()
        if "floor" in r and (r["failures"] or r["floor"]["failures"])
    }
    if failures:
        print(f"  WARNING: failed requests counted (excluded from req/s): {failures}")
    if args.only:
        print(f"  results written to {run.json_path} only (--only: latest.* left as they were)")
    else:
        print(
            "  results written to bench/results/latest.json, latest.md"
            + (", latest.png" if drew else " (no chart: matplotlib is not installed)")
        )
    return 0


if __name__ == "__main__":
    harness.run_main(main)
