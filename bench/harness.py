"""What the benchmarks of this directory share: a fresh database, a served app, CPU accounting.

A benchmark script (``bench/login.py``, ``bench/consent_states.py``) runs on its own, from the
command line, never from the test suite. It imports this module as ``harness`` (the script's
directory is on ``sys.path``) and uses it like this::

    run = harness.Run("login")                  # names the database, a free port, result files
    version = run.create_database()             # CREATE DATABASE datarights_bench_<random>
    with run.scope() as cwd:                    # an empty working directory for datarights
        run.start_server(workers, cwd)          # datarights serve, until /healthz answers
        meter = harness.CpuMeter(run.pid, run.database)
        ...                                     # the benchmark's own phases
    run.finish(results, report)                 # JSON file, the report, where it went

Leaving ``scope`` in any way, even by an exception or Ctrl-C, stops the server and drops the
database; on failure it also prints the server's last output. ``stop_on_sigterm`` makes SIGTERM
end a run like Ctrl-C, and ``run_main`` turns Ctrl-C into the exit code 130.

It also holds the measuring (``Samples``, ``summary_ms``, ``CpuMeter``), the facts about the
machine, and the parts of the printed report that both benchmarks print alike. PostgreSQL is
expected at 127.0.0.1:5432, user ``postgres`` with trust authentication; nothing but 127.0.0.1
is ever contacted.
"""

from __future__ import annotations

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, Self

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

HOST = "127.0.0.1"
POSTGRES_ADMIN_DSN = f"postgresql://postgres@{HOST}:5432/postgres"
POSTGRES_SQLALCHEMY = f"postgresql+asyncpg://postgres@{HOST}:5432"

REQUEST_TIMEOUT_S = 30.0
SERVER_START_TIMEOUT_S = 90.0
SERVER_STOP_TIMEOUT_S = 20.0
NOISE_CORES = 0.25  # CPU used by other work above which the run is flagged


def database_url(database: str) -> str:
    """The SQLAlchemy URL of ``database`` (asyncpg driver), as the application takes it."""
    return f"{POSTGRES_SQLALCHEMY}/{database}"


def database_dsn(database: str) -> str:
    """The asyncpg DSN of ``database``."""
    return f"postgresql://postgres@{HOST}:5432/{database}"


# --------------------------------------------------------------------------- measurements


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """Median, p90, p99, min, max and mean, in milliseconds, of ``seconds`` (not empty)."""
    ms = [v * 1000 for v in seconds]
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


@dataclass
class Samples:
    """Latencies (seconds) of the requests that succeeded, and the kinds of those that failed.

    A subclass that records more adds its fields, extends ``merge`` and adds to ``counts``.
    """

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_latencies: list[float] = field(default_factory=list)

    def record(self, elapsed: float, error: str | None) -> None:
        """One request that took ``elapsed`` seconds and failed with ``error`` (None: success)."""
        if error is None:
            self.latencies.append(elapsed)
        else:
            self.errors[error] += 1
            self.error_latencies.append(elapsed)

    def merge(self, other: Self) -> None:
        """Adds the requests of ``other`` (e.g. of another loop of the same phase)."""
        self.latencies += other.latencies
        self.error_latencies += other.error_latencies
        self.errors.update(other.errors)

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.error_latencies)

    def counts(self) -> dict[str, Any]:
        """Requests, successes, failures and failures by kind."""
        return {
            "requests": self.requests,
            "ok": len(self.latencies),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
        }

    def summary(self) -> dict[str, Any]:
        """``counts``, and ``summary_ms`` of the successful requests if there are any."""
        out = self.counts()
        if self.latencies:
            out |= summary_ms(self.latencies)
        return out


def graphql_data(response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
    """None and the ``data`` of a GraphQL response; or, if it failed, a short kind of failure
    (HTTP status, not JSON, the first GraphQL error's code or else its message) and ``{}``."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}", {}
    try:
        body = response.json()
    except ValueError:
        return "response is not JSON", {}
    if body.get("errors"):
        first = body["errors"][0]
        code = (first.get("extensions") or {}).get("code")
        return f"GraphQL error: {code or first.get('message', '?')}", {}
    return None, body.get("data") or {}


# --------------------------------------------------------------------------- CPU accounting


def _all_processes_cpu() -> tuple[dict[int, float], dict[int, int]]:
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


def _process_tree(root_pid: int, parents: dict[int, int]) -> set[int]:
    """``root_pid`` and its descendants."""
    tree = {root_pid}
    for _ in range(8):  # a few generations are plenty
        tree |= {pid for pid, parent in parents.items() if parent in tree}
    return tree


async def _database_backends(database: str) -> set[int]:
    """The pids of the PostgreSQL backends connected to ``database`` (they run on this machine)."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
        )
    finally:
        await connection.close()
    return {int(row["pid"]) for row in rows}


def _machine_busy_cpu() -> float:
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
    other PostgreSQL processes, other work: a shared machine makes the numbers noisy).

    ``await start()`` at the start of the phase, ``await stop()`` at its end.
    """

    server_pid: int
    database: str
    _cpu: dict[int, float] = field(default_factory=dict)
    _own: float = 0.0
    _machine: float = 0.0
    _wall: float = 0.0
    _backends: set[int] = field(default_factory=set)

    async def start(self) -> None:
        self._backends = await _database_backends(self.database)
        self._cpu, _ = _all_processes_cpu()
        self._machine = _machine_busy_cpu()
        self._own = time.process_time()
        self._wall = time.perf_counter()

    async def stop(self) -> dict[str, Any]:
        """The wall time since ``start``, and the cores used: by the server, per server pid (the
        first is the uvicorn supervisor), by the backends, by this process, by the whole machine
        and by other work."""
        wall = time.perf_counter() - self._wall
        own = (time.process_time() - self._own) / wall
        machine = (_machine_busy_cpu() - self._machine) / wall
        now, parents = _all_processes_cpu()
        backends = self._backends | await _database_backends(self.database)

        def used(pid: int) -> float:
            return (now.get(pid, 0.0) - self._cpu.get(pid, 0.0)) / wall

        server_pids = _process_tree(self.server_pid, parents) & now.keys()
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


# --------------------------------------------------------------------------- database, server


async def _create_database(name: str) -> str:
    """Creates the database; returns the server's version."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def _drop_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def datarights_command() -> str:
    """The ``datarights`` command of this virtual environment."""
    beside = Path(sys.executable).parent / "datarights"
    if beside.exists():
        return str(beside)
    return str(ROOT / ".venv" / "bin" / "datarights")


def clean_environment(database: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without any DATARIGHTS_ setting (so that the application keeps its
    production defaults, argon2 included), plus ``overrides`` and the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATARIGHTS_")}
    return (
        env
        | dict(overrides or {})
        | {"DATARIGHTS_DATABASE_URL": database_url(database), "PYTHONUNBUFFERED": "1"}
    )


def _start_server(
    database: str,
    port: int,
    workers: int,
    log_path: Path,
    cwd: Path,
    overrides: Mapping[str, str] | None,
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
            env=clean_environment(database, overrides),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> float:
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


def _stop_server(process: subprocess.Popen[bytes]) -> int | None:
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


_ACCESS_LINE = re.compile(r'"(?:GET|POST) (\S+) HTTP/[\d.]+" (\d{3})')
_TROUBLE = re.compile(
    r"ERROR|CRITICAL|Traceback|Exception|Timeout|QueuePool|pool|too many|refused|"
    r"reset|killed|Unexpected error",
    re.IGNORECASE,
)


def _scan_server_log(log_path: Path) -> dict[str, Any]:
    """Status codes of the access log, and lines that look like trouble."""
    statuses: Counter[str] = Counter()
    trouble: list[str] = []
    trouble_count = 0
    for line in log_path.read_text(errors="replace").splitlines():
        access = _ACCESS_LINE.search(line)
        if access:
            statuses[f"{access.group(1)} {access.group(2)}"] += 1
        elif _TROUBLE.search(line):
            trouble_count += 1
            if len(trouble) < 20:
                trouble.append(line.strip()[:300])
    return {
        "log": str(log_path.relative_to(ROOT)),
        "responses_by_path_and_status": dict(sorted(statuses.items())),
        "trouble_lines": trouble_count,
        "first_trouble_lines": trouble,
    }


class Run:
    """One run of a benchmark: its fresh database, its server, and its result files.

    Creating it picks the names: ``stamp`` (UTC, to the second), the server's output
    ``bench/results/<name>-<stamp>.serve.log`` and the results ``<name>-<stamp>.json`` beside it
    (the directory is created), the database ``datarights_bench_<8 hex digits>``, and a free
    port on 127.0.0.1 for the server (``base_url``). Nothing is created in PostgreSQL yet.
    """

    def __init__(self, name: str) -> None:
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log_path = RESULTS / f"{name}-{self.stamp}.serve.log"
        self.json_path = RESULTS / f"{name}-{self.stamp}.json"
        self.database = f"datarights_bench_{secrets.token_hex(4)}"
        self.port = _free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The database's SQLAlchemy URL."""
        return database_url(self.database)

    @property
    def dsn(self) -> str:
        """The database's asyncpg DSN."""
        return database_dsn(self.database)

    @property
    def pid(self) -> int:
        """The pid of the server (the uvicorn supervisor); ``start_server`` first."""
        if self.server is None:
            raise RuntimeError("the server has not been started")
        return self.server.pid

    def create_database(self) -> str:
        """Creates the (empty) database and says so; returns PostgreSQL's version. Drop it with
        ``scope``."""
        version = asyncio.run(_create_database(self.database))
        print(f"  PostgreSQL    {version} at {HOST}:5432, fresh database {self.database}")
        return version

    @contextmanager
    def scope(self) -> Iterator[Path]:
        """An empty temporary working directory, for the server and any ``datarights`` command
        (so that no .env file of the checkout is read). On leaving, however it is left: the
        directory is removed, the server stopped (SIGTERM to its process group, SIGKILL after
        ``SERVER_STOP_TIMEOUT_S``) if it was started, and the database dropped ``WITH (FORCE)``;
        each is said. If the block failed, the server's last output goes to stderr."""
        failed = True
        try:
            with tempfile.TemporaryDirectory(prefix="datarights-bench-") as cwd:
                yield Path(cwd)
                failed = False
        finally:
            if self.server is not None:
                code = _stop_server(self.server)
                print(f"  server        stopped (exit code {code})")
            asyncio.run(_drop_database(self.database))
            print(f"  PostgreSQL    dropped {self.database}")
            if failed and self.log_path.exists():
                print("\nthe benchmark failed; the server's last output:", file=sys.stderr)
                print(self.log_path.read_text(errors="replace")[-4000:], file=sys.stderr)

    def start_server(
        self, workers: int, cwd: Path, overrides: Mapping[str, str] | None = None
    ) -> float:
        """Starts ``datarights serve --workers N`` on ``base_url`` in ``cwd``, with the clean
        environment plus ``overrides`` (see ``clean_environment``), its output to ``log_path``;
        says so; returns the seconds until it answered /healthz. Raises if it exits first or
        takes longer than ``SERVER_START_TIMEOUT_S``. Call it inside ``scope``, which stops it."""
        self.server = _start_server(
            self.database, self.port, workers, self.log_path, cwd, overrides
        )
        print(
            f"  server        datarights serve --workers {workers} on {self.base_url} "
            f"(pid {self.server.pid}), output in {self.log_path.relative_to(ROOT)}"
        )
        return _wait_until_healthy(self.server, self.base_url, self.log_path)

    def finish(self, results: dict[str, Any], report: Callable[[dict[str, Any]], str]) -> None:
        """Adds the server log's summary to ``results`` as ``server_log`` (status codes by path,
        lines that look like trouble), writes them to ``json_path``, prints ``report(results)``
        and where the results went."""
        if self.log_path.exists():
            results["server_log"] = _scan_server_log(self.log_path)
        self.json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(report(results))
        print(f"\n  results written to {self.json_path.relative_to(ROOT)}")


# --------------------------------------------------------------------------- facts and report


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


def machine_facts() -> dict[str, Any]:
    """Cores available, Python, platform, commit (and whether tracked files were modified), and
    the load average at the start."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {
        "nproc": nproc,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "tracked_files_modified": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def machine_lines(machine: dict[str, Any]) -> list[str]:
    """The ``machine`` and ``commit`` lines of a run's header, from ``machine_facts()``."""
    modified = (
        " (tracked files modified in the checkout)" if machine["tracked_files_modified"] else ""
    )
    return [
        f"  machine       nproc={machine['nproc']}, Python {machine['python']}, "
        f"{machine['platform']}, load average at start "
        f"{' '.join(str(v) for v in machine['load_average_at_start'])}",
        f"  commit        {machine['commit']}{modified}",
    ]


def ms(summary: Mapping[str, Any], key: str) -> str:
    """``summary[key]`` to one decimal, or ``-`` if it is missing."""
    value = summary.get(key)
    return "-" if value is None else f"{value:.1f}"


def cpu_lines(
    nproc: int, phases: Sequence[tuple[str, dict[str, Any]]], name_width: int
) -> list[str]:
    """The report's CPU section: a heading, then a line per (name, ``CpuMeter.stop()``) phase,
    the names padded to ``name_width``."""
    lines = [
        "  CPU use, in cores over each phase's wall time (the machine has "
        f"{nproc}; the server's first pid is the uvicorn supervisor):"
    ]
    for name, cpu in phases:
        per = ", ".join(f"{pid} {v:.2f}" for pid, v in cpu["server_cores_per_process"].items())
        lines.append(
            f"  {name:<{name_width}} server {cpu['server_cores']:.2f} (by pid: {per}); "
            f"PostgreSQL backends {cpu['database_backends_cores']:.2f}; "
            f"load generator {cpu['load_generator_cores']:.2f}; other {cpu['other_cores']:.2f}"
        )
    return lines


def noise_warnings(phases: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """A WARNING for each (name, ``CpuMeter.stop()``) phase during which other work used more than
    ``NOISE_CORES`` cores; ``name`` follows "during"."""
    return [
        f"  WARNING: other work used {cpu['other_cores']:.2f} cores during {name}; the machine was "
        "not quiet, so rerun before quoting these numbers"
        for name, cpu in phases
        if cpu["other_cores"] > NOISE_CORES
    ]


def server_log_lines(server: dict[str, Any]) -> list[str]:
    """The report's lines on the server log (``results["server_log"]``, see ``Run.finish``)."""
    return [
        f"  server log ({server['log']}): responses {server['responses_by_path_and_status']}",
        f"  server log lines that look like trouble: {server['trouble_lines']}",
        *(f"    {line}" for line in server["first_trouble_lines"]),
    ]


# --------------------------------------------------------------------------- signals, exit


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def stop_on_sigterm() -> None:
    """Makes SIGTERM end the run like Ctrl-C, so that the server is stopped and the database
    dropped."""
    signal.signal(signal.SIGTERM, _interrupted)


def run_main(main: Callable[[], int]) -> NoReturn:
    """Exits with what ``main()`` returns, or with 130 after saying "interrupted" on Ctrl-C (or
    SIGTERM, see ``stop_on_sigterm``)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
