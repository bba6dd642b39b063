"""Login benchmark: the cost of one sign-in, and sign-ins per second under load.

Run on its own, never from the test suite::

    .venv/bin/python bench/login.py [--workers 2] [--concurrency 8] [--seconds 15] [--logins 20]

It creates a fresh PostgreSQL database on 127.0.0.1:5432, serves it with
``datarights serve --workers N`` on a free port, registers customers, then measures

(a) one login: ``--logins`` sequential logins from one client (median, p90, min, max);
(b) ``--concurrency`` login loops for ``--seconds`` against distinct accounts, while one loop
    sends ``me`` with a bearer token back to back; then the same ``me`` loop alone for the same
    time, for comparison.

It prints a table, writes the results as JSON to ``bench/results/login-<timestamp>.json`` and the
server's output next to it, then stops the server and drops the database, also on failure.
Production argon2id parameters are used (the defaults in ``api/settings.py``); only the rate
limits are raised, so that they do not refuse the load. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

HOST = "127.0.0.1"
POSTGRES_ADMIN_DSN = f"postgresql://postgres@{HOST}:5432/postgres"
POSTGRES_SQLALCHEMY = f"postgresql+asyncpg://postgres@{HOST}:5432"

# Raised so that the rate limits never refuse the benchmark's own load.
UNLIMITED = "1000000 per minute"
RATE_LIMIT_OVERRIDES = {
    "DATARIGHTS_LOGIN_ATTEMPTS_PER_ACCOUNT": UNLIMITED,
    "DATARIGHTS_LOGIN_ATTEMPTS_PER_IP": UNLIMITED,
    "DATARIGHTS_REGISTRATIONS_PER_IP": UNLIMITED,
}

PASSWORD = "correct horse battery staple"
WARM_UP_LOGINS = 2
REGISTRATIONS_AT_ONCE = 4
REQUEST_TIMEOUT_S = 30.0
SERVER_START_TIMEOUT_S = 90.0
SERVER_STOP_TIMEOUT_S = 20.0
MAX_REQUESTS_PER_LOOP = 200_000  # every loop also stops at its deadline
NOISE_CORES = 0.25  # CPU used by other work above which the run is flagged

# The documents a front end sends (as in tests/api/documents.py, copied, not imported).
CUSTOMER_FIELDS = """
    id email emailVerified name companyName phone title department fax industry
    employeeCount annualRevenue { amount currency }
    address { line1 line2 city region postalCode country }
    billing {
      name organizationUsers
      address { line1 line2 city region postalCode country }
      card { brand last4 expMonth expYear }
    }
    createdAt updatedAt version
"""
REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { token customer { id email } errors { field code message } }
}
"""
LOGIN = f"""
mutation Login($input: LoginInput!) {{
  login(input: $input) {{
    token
    customer {{ {CUSTOMER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""
ME = f"query Me {{ me {{ {CUSTOMER_FIELDS} }} }}"


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


# --------------------------------------------------------------------------- measurements


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Samples:
    """Latencies (seconds) of the requests that succeeded, and the kinds of those that failed."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_latencies: list[float] = field(default_factory=list)

    def record(self, elapsed: float, error: str | None) -> None:
        if error is None:
            self.latencies.append(elapsed)
        else:
            self.errors[error] += 1
            self.error_latencies.append(elapsed)

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.error_latencies)

    def summary(self) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies]
        out: dict[str, Any] = {
            "requests": self.requests,
            "ok": len(ms),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
        }
        if ms:
            out |= {
                "median_ms": round(statistics.median(ms), 2),
                "p90_ms": round(percentile(ms, 90), 2),
                "p99_ms": round(percentile(ms, 99), 2),
                "min_ms": round(min(ms), 2),
                "max_ms": round(max(ms), 2),
                "mean_ms": round(statistics.fmean(ms), 2),
            }
        return out


def classify(response: httpx.Response, operation: str) -> str | None:
    """None when the response is a success of ``operation``, else a short kind of failure."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return "response is not JSON"
    if body.get("errors"):
        first = body["errors"][0]
        code = (first.get("extensions") or {}).get("code")
        return f"GraphQL error: {code or first.get('message', '?')}"
    payload = (body.get("data") or {}).get(operation)
    if payload is None:
        return f"no {operation} in data"
    if operation == "me":
        return None
    if payload.get("errors"):
        return f"user error: {payload['errors'][0].get('code')}"
    if not payload.get("token"):
        return "no token"
    return None


async def timed(
    call: Callable[[], Awaitable[httpx.Response]], operation: str
) -> tuple[float, str | None]:
    """Seconds one request took, and its kind of failure (None on success)."""
    start = time.perf_counter()
    try:
        response = await call()
    except httpx.HTTPError as error:  # timeouts, refused and reset connections
        return time.perf_counter() - start, f"transport: {type(error).__name__}"
    return time.perf_counter() - start, classify(response, operation)


def client(
    base_url: str, token: str | None = None, *, keep_alive: bool = True
) -> httpx.AsyncClient:
    """An HTTP client for the server that keeps no cookies, so only the bearer token counts.

    Without ``keep_alive`` every request opens its own connection, as requests from many different
    clients would: the kernel then hands each to whichever worker accepts first. With keep-alive,
    connections opened together tend to be accepted by one worker, which then serves them all.
    """
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        cookies=jar,
        timeout=REQUEST_TIMEOUT_S,
        trust_env=False,  # no proxies: only ever 127.0.0.1
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64 if keep_alive else 0),
    )


async def login(http: httpx.AsyncClient, email: str) -> tuple[float, str | None]:
    variables = {"input": {"email": email, "password": PASSWORD}}
    return await timed(
        lambda: http.post("/graphql", json={"query": LOGIN, "variables": variables}), "login"
    )


async def me(http: httpx.AsyncClient) -> tuple[float, str | None]:
    return await timed(lambda: http.post("/graphql", json={"query": ME}), "me")


async def login_loop(http: httpx.AsyncClient, emails: list[str], until: float) -> Samples:
    samples = Samples()
    for i in range(MAX_REQUESTS_PER_LOOP):
        if time.perf_counter() >= until:
            break
        samples.record(*await login(http, emails[i % len(emails)]))
    return samples


async def me_loop(http: httpx.AsyncClient, until: float) -> Samples:
    samples = Samples()
    for _ in range(MAX_REQUESTS_PER_LOOP):
        if time.perf_counter() >= until:
            break
        samples.record(*await me(http))
    return samples


# --------------------------------------------------------------------------- CPU accounting


def all_processes_cpu() -> tuple[dict[int, float], dict[int, int]]:
    """CPU seconds (user + system) so far of every process, and each one's parent (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # fields from the 3rd on: state, ppid, ...
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return cpu, parents


def process_tree(root_pid: int, parents: dict[int, int]) -> set[int]:
    """``root_pid`` and its descendants."""
    tree = {root_pid}
    for _ in range(8):  # a few generations are plenty
        tree |= {pid for pid, parent in parents.items() if parent in tree}
    return tree


async def database_backends(database: str) -> set[int]:
    """The pids of the PostgreSQL backends connected to ``database`` (they run on this machine)."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
        )
    finally:
        await connection.close()
    return {int(row["pid"]) for row in rows}


def machine_busy_cpu() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O) so far."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    ticks = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMeter:
    """Cores used over a phase by the server's processes, by the PostgreSQL backends serving its
    database, by this (load-generating) process and by everything else on the machine (kernel,
    other PostgreSQL processes, other work: a shared machine makes the numbers noisy)."""

    server_pid: int
    database: str
    _cpu: dict[int, float] = field(default_factory=dict)
    _own: float = 0.0
    _machine: float = 0.0
    _wall: float = 0.0
    _backends: set[int] = field(default_factory=set)

    async def start(self) -> None:
        self._backends = await database_backends(self.database)
        self._cpu, _ = all_processes_cpu()
        self._machine = machine_busy_cpu()
        self._own = time.process_time()
        self._wall = time.perf_counter()

    async def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._wall
        own = (time.process_time() - self._own) / wall
        machine = (machine_busy_cpu() - self._machine) / wall
        now, parents = all_processes_cpu()
        backends = self._backends | await database_backends(self.database)

        def used(pid: int) -> float:
            return (now.get(pid, 0.0) - self._cpu.get(pid, 0.0)) / wall

        server_pids = process_tree(self.server_pid, parents) & now.keys()
        per_process = {pid: used(pid) for pid in sorted(server_pids)}
        server = sum(per_process.values())
        database = sum(used(pid) for pid in backends if pid in now)
        return {
            "wall_s": round(wall, 2),
            "server_cores": round(server, 2),
            "server_cores_per_process": {str(pid): round(v, 2) for pid, v in per_process.items()},
            "database_backends_cores": round(database, 2),
            "load_generator_cores": round(own, 2),
            "machine_busy_cores": round(machine, 2),
            "other_cores": round(max(0.0, machine - server - database - own), 2),
        }


# --------------------------------------------------------------------------- the phases


async def register_customers(base_url: str, count: int, tag: str) -> list[str]:
    """Registers ``count`` customers with distinct addresses; returns their addresses."""
    emails = [f"bench-{tag}-{i:04d}@example.com" for i in range(count)]
    gate = asyncio.Semaphore(REGISTRATIONS_AT_ONCE)
    async with client(base_url) as http:

        async def one(email: str) -> None:
            async with gate:
                response = await http.post(
                    "/graphql",
                    json={"query": REGISTER, "variables": {"input": registration(email)}},
                )
            problem = classify(response, "register")
            if problem is not None:
                raise RuntimeError(f"registering {email} failed: {problem}: {response.text[:500]}")

        await asyncio.gather(*(one(email) for email in emails))
    return emails


async def stored_hash_parameters(database: str) -> str:
    """The argon2 parameters of a stored password hash, e.g. ``argon2id v=19 m=19456,t=2,p=1``."""
    connection = await asyncpg.connect(f"postgresql://postgres@{HOST}:5432/{database}")
    try:
        stored = await connection.fetchval("SELECT password_hash FROM customers LIMIT 1")
    finally:
        await connection.close()
    parts = str(stored).split("$")
    return " ".join(parts[1:4]) if len(parts) > 4 else "unrecognised hash format"


async def sequential_logins(base_url: str, emails: list[str], logins: int) -> Samples:
    """(a): one client, one login at a time, after a few warm-up logins that are not counted."""
    samples = Samples()
    async with client(base_url) as http:
        for i in range(WARM_UP_LOGINS):
            await login(http, emails[i % len(emails)])
        for i in range(logins):
            samples.record(*await login(http, emails[i % len(emails)]))
    return samples


async def under_load(
    base_url: str,
    me_token: str,
    emails: list[str],
    args: argparse.Namespace,
    pid: int,
    database: str,
) -> dict[str, Any]:
    """(b): ``args.concurrency`` login loops plus one ``me`` loop for ``args.seconds``."""
    concurrency, seconds = args.concurrency, args.seconds
    meter = CpuMeter(pid, database)
    keep_alive = args.login_connections == "keep-alive"
    async with (
        client(base_url, keep_alive=keep_alive) as logins_http,
        client(base_url, me_token) as me_http,
    ):
        await meter.start()
        start = time.perf_counter()
        until = start + seconds
        loops = [login_loop(logins_http, emails[i::concurrency], until) for i in range(concurrency)]
        results = await asyncio.gather(me_loop(me_http, until), *loops)
        elapsed = time.perf_counter() - start
        cpu = await meter.stop()
    me_samples, login_samples = results[0], Samples()
    for loop in results[1:]:
        login_samples.latencies += loop.latencies
        login_samples.error_latencies += loop.error_latencies
        login_samples.errors.update(loop.errors)
    return {
        "elapsed_s": round(elapsed, 2),
        "logins_per_s": round(len(login_samples.latencies) / elapsed, 2),
        "login": login_samples.summary(),
        "me": me_samples.summary(),
        "cpu": cpu,
    }


async def me_alone(
    base_url: str, me_token: str, seconds: float, pid: int, database: str
) -> dict[str, Any]:
    """The same ``me`` loop without any login load, for comparison."""
    meter = CpuMeter(pid, database)
    async with client(base_url, me_token) as http:
        await meter.start()
        start = time.perf_counter()
        samples = await me_loop(http, start + seconds)
        elapsed = time.perf_counter() - start
        cpu = await meter.stop()
    return {
        "elapsed_s": round(elapsed, 2),
        "me_per_s": round(samples.requests / elapsed, 2),
        "me": samples.summary(),
        "cpu": cpu,
    }


async def run_phases(
    args: argparse.Namespace, base_url: str, database: str, pid: int
) -> dict[str, Any]:
    started = time.perf_counter()
    emails = await register_customers(base_url, args.accounts, database.rsplit("_", 1)[-1])
    registered_s = time.perf_counter() - started
    hash_parameters = await stored_hash_parameters(database)
    me_email, login_emails = emails[0], emails[1:]

    sequential = await sequential_logins(base_url, login_emails, args.logins)

    async with client(base_url) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": LOGIN,
                "variables": {"input": {"email": me_email, "password": PASSWORD}},
            },
        )
    if classify(response, "login") is not None:
        raise RuntimeError(f"could not sign in for `me`: {response.text[:500]}")
    me_token = response.json()["data"]["login"]["token"]

    load = await under_load(base_url, me_token, login_emails, args, pid, database)
    alone = await me_alone(base_url, me_token, args.seconds, pid, database)
    return {
        "registration": {"customers": len(emails), "seconds": round(registered_s, 2)},
        "stored_hash_parameters": hash_parameters,
        "sequential_login": sequential.summary() | {"warm_up_logins": WARM_UP_LOGINS},
        "under_load": load,
        "me_alone": alone,
    }


def argon2_defaults() -> dict[str, int]:
    """The production argon2id parameters: the defaults of ``api/settings.py``."""
    from api.settings import Settings

    fields = Settings.model_fields
    return {
        "memory_kib": int(fields["argon2_memory_kib"].default),
        "time_cost": int(fields["argon2_time_cost"].default),
        "parallelism": int(fields["argon2_parallelism"].default),
        "hashes_at_once_per_worker": int(fields["password_hashes_at_once"].default),
    }


def bare_argon2_verify(parameters: dict[str, int], count: int) -> Samples:
    """``count`` argon2id verifications in this process, with no server running: the floor
    under one login's time."""
    hasher = PasswordHasher(
        time_cost=parameters["time_cost"],
        memory_cost=parameters["memory_kib"],
        parallelism=parameters["parallelism"],
    )
    stored = hasher.hash(PASSWORD)
    samples = Samples()
    for _ in range(count):
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        samples.record(time.perf_counter() - start, None)
    return samples


# --------------------------------------------------------------------------- database, server


async def create_database(name: str) -> str:
    """Creates the database; returns the server's version."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def datarights_command() -> str:
    beside = Path(sys.executable).parent / "datarights"
    if beside.exists():
        return str(beside)
    return str(ROOT / ".venv" / "bin" / "datarights")


def server_environment(database: str) -> dict[str, str]:
    """This environment without any DATARIGHTS_ setting (so argon2 keeps its production defaults),
    plus the database and the raised rate limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATARIGHTS_")}
    return (
        env
        | RATE_LIMIT_OVERRIDES
        | {
            "DATARIGHTS_DATABASE_URL": f"{POSTGRES_SQLALCHEMY}/{database}",
            "PYTHONUNBUFFERED": "1",
        }
    )


def start_server(
    database: str, port: int, workers: int, log_path: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    # Its own session, so that it and its workers can be stopped as one process group. The working
    # directory is empty, so that no .env file of the checkout is read.
    with log_path.open("wb") as out:
        return subprocess.Popen(
            [
                datarights_command(),
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=cwd,
            env=server_environment(database),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> float:
    """Seconds until /healthz answered; raises if the server exits or takes too long."""
    start = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=2, trust_env=False) as http:
        while time.monotonic() - start < SERVER_START_TIMEOUT_S:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{log_path.read_text()[-4000:]}")
            try:
                if http.get("/healthz").status_code == 200:
                    return time.monotonic() - start
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz:\n{log_path.read_text()[-4000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM to the server's process group, SIGKILL if it lingers; returns the exit code."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            return process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except ProcessLookupError:
            pass
    return process.poll()


ACCESS_LINE = re.compile(r'"(?:GET|POST) (\S+) HTTP/[\d.]+" (\d{3})')
TROUBLE = re.compile(
    r"ERROR|CRITICAL|Traceback|Exception|Timeout|QueuePool|pool|too many|refused|"
    r"reset|killed|Unexpected error",
    re.IGNORECASE,
)


def scan_server_log(log_path: Path) -> dict[str, Any]:
    """Status codes of the access log, and lines that look like trouble."""
    statuses: Counter[str] = Counter()
    trouble: list[str] = []
    trouble_count = 0
    for line in log_path.read_text(errors="replace").splitlines():
        access = ACCESS_LINE.search(line)
        if access:
            statuses[f"{access.group(1)} {access.group(2)}"] += 1
        elif TROUBLE.search(line):
            trouble_count += 1
            if len(trouble) < 20:
                trouble.append(line.strip()[:300])
    return {
        "log": str(log_path.relative_to(ROOT)),
        "responses_by_path_and_status": dict(sorted(statuses.items())),
        "trouble_lines": trouble_count,
        "first_trouble_lines": trouble,
    }


# --------------------------------------------------------------------------- facts and report


def git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


def machine_facts() -> dict[str, Any]:
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {
        "nproc": nproc,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "tracked_files_modified": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def ms(summary: dict[str, Any], key: str) -> str:
    value = summary.get(key)
    return "-" if value is None else f"{value:.1f}"


def table_row(name: str, summary: dict[str, Any], rate: str) -> str:
    return (
        f"  {name:<30} {summary['requests']:>7} {summary['errors']:>6} {rate:>8} "
        f"{ms(summary, 'median_ms'):>8} {ms(summary, 'p90_ms'):>8} {ms(summary, 'p99_ms'):>8} "
        f"{ms(summary, 'min_ms'):>8} {ms(summary, 'max_ms'):>8}"
    )


def cpu_line(name: str, cpu: dict[str, Any]) -> str:
    per = ", ".join(f"{pid} {v:.2f}" for pid, v in cpu["server_cores_per_process"].items())
    return (
        f"  {name:<22} server {cpu['server_cores']:.2f} (by pid: {per}); "
        f"PostgreSQL backends {cpu['database_backends_cores']:.2f}; "
        f"load generator {cpu['load_generator_cores']:.2f}; other {cpu['other_cores']:.2f}"
    )


def report(results: dict[str, Any]) -> str:
    cfg, phases = results["config"], results["phases"]
    load, alone = phases["under_load"], phases["me_alone"]
    lines = [
        "",
        f"  registered {phases['registration']['customers']} customers in "
        f"{phases['registration']['seconds']:.1f} s; stored hash: "
        f"{phases['stored_hash_parameters']}",
        "",
        f"  {'phase':<30} {'reqs':>7} {'errors':>6} {'ok/s':>8} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p99 ms':>8} {'min ms':>8} {'max ms':>8}",
        table_row(
            f"    argon2id verify alone x{cfg['logins']}", results["bare_argon2_verify"], "-"
        ),
        table_row(f"(a) login, sequential x{cfg['logins']}", phases["sequential_login"], "-"),
        table_row(
            f"(b) login, {cfg['concurrency']} loops, {cfg['seconds']:g} s",
            load["login"],
            f"{load['logins_per_s']:.1f}",
        ),
        table_row(
            "(b) me during login load",
            load["me"],
            f"{load['me']['ok'] / load['elapsed_s']:.1f}",
        ),
        table_row(f"(c) me alone, {cfg['seconds']:g} s", alone["me"], f"{alone['me_per_s']:.1f}"),
        "",
        "  CPU use, in cores over each phase's wall time (the machine has "
        f"{results['machine']['nproc']}; the server's first pid is the uvicorn supervisor):",
        cpu_line("(b) login load + me", load["cpu"]),
        cpu_line("(c) me alone", alone["cpu"]),
        "",
        f"  logins/s under load: {load['logins_per_s']:.1f}   "
        f"(one login alone: median {ms(phases['sequential_login'], 'median_ms')} ms)",
        f"  me during login load: {load['me']['requests']} requests, "
        f"p50 {ms(load['me'], 'median_ms')} ms, p99 {ms(load['me'], 'p99_ms')} ms, "
        f"{load['me']['errors']} errors; alone: p50 {ms(alone['me'], 'median_ms')} ms, "
        f"p99 {ms(alone['me'], 'p99_ms')} ms",
    ]
    for name, cpu in (("(b)", load["cpu"]), ("(c)", alone["cpu"])):
        if cpu["other_cores"] > NOISE_CORES:
            lines.append(
                f"  WARNING: other work used {cpu['other_cores']:.2f} cores during "
                f"{name}; the machine was not quiet, so rerun before quoting these numbers"
            )
    for name, summary in (
        ("(a) login", phases["sequential_login"]),
        ("(b) login", load["login"]),
        ("(b) me", load["me"]),
        ("(c) me", alone["me"]),
    ):
        if summary["error_kinds"]:
            lines.append(f"  errors in {name}: {summary['error_kinds']}")
    server = results.get("server_log")
    if server:
        lines += [
            "",
            f"  server log ({server['log']}): responses {server['responses_by_path_and_status']}",
            f"  server log lines that look like trouble: {server['trouble_lines']}",
            *(f"    {line}" for line in server["first_trouble_lines"]),
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="concurrent login loops in (b) (default 8)"
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="length of (b) and of me-alone (default 15)"
    )
    parser.add_argument("--logins", type=int, default=20, help="sequential logins in (a) (20)")
    parser.add_argument(
        "--accounts", type=int, default=50, help="customers to register (default 50)"
    )
    parser.add_argument(
        "--login-connections",
        choices=["fresh", "keep-alive"],
        default="fresh",
        help="in (b), a new connection per login, as from many clients (default), or keep-alive "
        "connections, which tend to land on a single worker",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be between 1 and 64")
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    if not 1 <= args.logins <= 1000:
        parser.error("--logins must be between 1 and 1000")
    if not args.concurrency + 1 <= args.accounts <= 1000:
        parser.error("--accounts must be more than --concurrency (one is kept for `me`), ≤ 1000")
    return args


def interrupted(signum: int, _frame: object) -> None:
    """SIGTERM ends the run like Ctrl-C, so the server is stopped and the database dropped."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupted)
    machine = machine_facts()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"login-{stamp}.serve.log"
    json_path = RESULTS / f"login-{stamp}.json"
    database = f"datarights_bench_{secrets.token_hex(4)}"
    port = free_port()
    base_url = f"http://{HOST}:{port}"

    connections = (
        "a new connection per login"
        if args.login_connections == "fresh"
        else "keep-alive connections"
    )
    print("datarights login benchmark")
    print(
        f"  machine       nproc={machine['nproc']}, Python {machine['python']}, "
        f"{machine['platform']}, load average at start "
        f"{' '.join(str(v) for v in machine['load_average_at_start'])}"
    )
    print(
        f"  commit        {machine['commit']}"
        + (" (tracked files modified in the checkout)" if machine["tracked_files_modified"] else "")
    )
    argon2 = argon2_defaults()
    print(
        f"  argon2id      m={argon2['memory_kib']} KiB, t={argon2['time_cost']}, "
        f"p={argon2['parallelism']}, {argon2['hashes_at_once_per_worker']} at once per worker: "
        "the production defaults of api/settings.py (the server gets no DATARIGHTS_* setting but "
        "the database URL and the rate limits below)"
    )
    print(
        f"  rate limits   raised so they do not interfere: {', '.join(RATE_LIMIT_OVERRIDES)} = "
        f'"{UNLIMITED}"'
    )
    print(
        f"  load          (a) {args.logins} sequential logins on one keep-alive connection after "
        f"{WARM_UP_LOGINS} warm-up; (b) {args.concurrency} login loops ({connections}) + 1 `me` "
        f"loop (keep-alive, bearer token) for {args.seconds:g} s; (c) `me` alone for "
        f"{args.seconds:g} s"
    )
    print(
        "  note          the load generator (this process, httpx on asyncio) runs on the same "
        f"{machine['nproc']} cores as the server and competes with it for CPU; its share, and "
        "those of PostgreSQL and of other work on the machine, are reported under CPU use"
    )

    bare = bare_argon2_verify(argon2, args.logins)
    version = asyncio.run(create_database(database))
    print(f"  PostgreSQL    {version} at {HOST}:5432, fresh database {database}")
    results: dict[str, Any] = {
        "machine": machine,
        "argon2": argon2,
        "bare_argon2_verify": bare.summary(),
        "config": {
            "workers": args.workers,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "logins": args.logins,
            "accounts": args.accounts,
            "login_connections": args.login_connections,
            "rate_limit_overrides": RATE_LIMIT_OVERRIDES,
            "postgres_version": version,
            "timestamp": stamp,
        },
    }
    process: subprocess.Popen[bytes] | None = None
    failed = True
    try:
        with tempfile.TemporaryDirectory(prefix="datarights-bench-") as cwd:
            process = start_server(database, port, args.workers, log_path, Path(cwd))
            print(
                f"  server        datarights serve --workers {args.workers} on {base_url} "
                f"(pid {process.pid}), output in {log_path.relative_to(ROOT)}"
            )
            started = wait_until_healthy(process, base_url, log_path)
            print(f"                migrated and answering /healthz after {started:.1f} s")
            sys.stdout.flush()
            budget = 3 * args.seconds + 300
            results["phases"] = asyncio.run(
                asyncio.wait_for(run_phases(args, base_url, database, process.pid), budget)
            )
            failed = False
    finally:
        if process is not None:
            code = stop_server(process)
            print(f"  server        stopped (exit code {code})")
        asyncio.run(drop_database(database))
        print(f"  PostgreSQL    dropped {database}")
        if failed and log_path.exists():
            print("\nthe benchmark failed; the server's last output:", file=sys.stderr)
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)

    results["server_log"] = scan_server_log(log_path)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"\n  results written to {json_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
