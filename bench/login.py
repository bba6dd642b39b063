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
import sys
import time
from collections.abc import Awaitable, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import asyncpg
import harness
import httpx
from argon2 import PasswordHasher

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
MAX_REQUESTS_PER_LOOP = 200_000  # every loop also stops at its deadline

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


def classify(response: httpx.Response, operation: str) -> str | None:
    """None when the response is a success of ``operation``, else a short kind of failure."""
    problem, data = harness.graphql_data(response)
    if problem is not None:
        return problem
    payload = data.get(operation)
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
        timeout=harness.REQUEST_TIMEOUT_S,
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


async def login_loop(http: httpx.AsyncClient, emails: list[str], until: float) -> harness.Samples:
    samples = harness.Samples()
    for i in range(MAX_REQUESTS_PER_LOOP):
        if time.perf_counter() >= until:
            break
        samples.record(*await login(http, emails[i % len(emails)]))
    return samples


async def me_loop(http: httpx.AsyncClient, until: float) -> harness.Samples:
    samples = harness.Samples()
    for _ in range(MAX_REQUESTS_PER_LOOP):
        if time.perf_counter() >= until:
            break
        samples.record(*await me(http))
    return samples


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
    connection = await asyncpg.connect(harness.database_dsn(database))
    try:
        stored = await connection.fetchval("SELECT password_hash FROM customers LIMIT 1")
    finally:
        await connection.close()
    parts = str(stored).split("$")
    return " ".join(parts[1:4]) if len(parts) > 4 else "unrecognised hash format"


async def sequential_logins(base_url: str, emails: list[str], logins: int) -> harness.Samples:
    """(a): one client, one login at a time, after a few warm-up logins that are not counted."""
    samples = harness.Samples()
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
    meter = harness.CpuMeter(pid, database)
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
    me_samples, login_samples = results[0], harness.Samples()
    for loop in results[1:]:
        login_samples.merge(loop)
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
    meter = harness.CpuMeter(pid, database)
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


def bare_argon2_verify(parameters: dict[str, int], count: int) -> harness.Samples:
    """``count`` argon2id verifications in this process, with no server running: the floor
    under one login's time."""
    hasher = PasswordHasher(
        time_cost=parameters["time_cost"],
        memory_cost=parameters["memory_kib"],
        parallelism=parameters["parallelism"],
    )
    stored = hasher.hash(PASSWORD)
    samples = harness.Samples()
    for _ in range(count):
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        samples.record(time.perf_counter() - start, None)
    return samples


# --------------------------------------------------------------------------- report


def table_row(name: str, summary: dict[str, Any], rate: str) -> str:
    keys = ("median_ms", "p90_ms", "p99_ms", "min_ms", "max_ms")
    times = " ".join(f"{harness.ms(summary, key):>8}" for key in keys)
    return f"  {name:<30} {summary['requests']:>7} {summary['errors']:>6} {rate:>8} {times}"


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
        *harness.cpu_lines(
            results["machine"]["nproc"],
            [("(b) login load + me", load["cpu"]), ("(c) me alone", alone["cpu"])],
            name_width=22,
        ),
        "",
        f"  logins/s under load: {load['logins_per_s']:.1f}   "
        f"(one login alone: median {harness.ms(phases['sequential_login'], 'median_ms')} ms)",
        f"  me during login load: {load['me']['requests']} requests, "
        f"p50 {harness.ms(load['me'], 'median_ms')} ms, p99 {harness.ms(load['me'], 'p99_ms')} ms, "
        f"{load['me']['errors']} errors; alone: p50 {harness.ms(alone['me'], 'median_ms')} ms, "
        f"p99 {harness.ms(alone['me'], 'p99_ms')} ms",
    ]
    lines += harness.noise_warnings([("(b)", load["cpu"]), ("(c)", alone["cpu"])])
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
        lines += ["", *harness.server_log_lines(server)]
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.stop_on_sigterm()
    machine = harness.machine_facts()
    run = harness.Run("login")

    connections = (
        "a new connection per login"
        if args.login_connections == "fresh"
        else "keep-alive connections"
    )
    print("datarights login benchmark", *harness.machine_lines(machine), sep="\n")
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
    version = run.create_database()
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
            "timestamp": run.stamp,
        },
    }
    with run.scope() as cwd:
        started = run.start_server(args.workers, cwd, RATE_LIMIT_OVERRIDES)
        print(f"                migrated and answering /healthz after {started:.1f} s")
        sys.stdout.flush()
        budget = 3 * args.seconds + 300
        results["phases"] = asyncio.run(
            asyncio.wait_for(run_phases(args, run.base_url, run.database, run.pid), budget)
        )
    run.finish(results, report)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
