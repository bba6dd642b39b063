"""``datarights serve --workers 2``: whichever worker answers a scrape reports every worker's
counts (prometheus-client's multiprocess mode, in a directory serve prepares)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.metrics import MULTIPROCESS_ENV, forget_dead_workers, multiprocess_directory
from persistence.database import create_engine
from tests.api.test_metrics import parse, value
from tests.api.test_served_process import free_port, start_serve

LIVE_GAUGE = re.compile(r"gauge_livesum_(\d+)\.db")


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The service with two workers on SQLite, its metrics directory given by the operator
    (holding a previous run's leftovers); stopped after the test."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"a previous run's file, unreadable now")
    port = free_port()
    env = {
        "DATARIGHTS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    process, log = start_serve(tmp_path, port, env, "--workers", "2")
    try:
        deadline = time.monotonic() + 40
        base = f"http://127.0.0.1:{port}"
        # Both workers have built their app once each has written its live gauges; the socket
        # accepts once a worker's server has started listening on it, a little later.
        while len(
            {m[1] for p in shared.iterdir() if (m := LIVE_GAUGE.fullmatch(p.name))}
        ) < 2 or not _answers(base):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"two workers did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, shared
    finally:
        process.terminate()
        process.wait(timeout=15)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_every_scrape_adds_up_the_counts_of_both_workers(
    two_workers: tuple[str, Path], tmp_path: Path
) -> None:
    base, shared = two_workers
    # given: requests on new connections, which the two workers share between them
    for _ in range(6):
        response = httpx.post(
            f"{base}/graphql", json={"query": "query Counted { __typename }"}, timeout=10
        )
        assert response.status_code == 200, response.text
    # when
    scrapes = [parse(httpx.get(f"{base}/metrics", timeout=10).text) for _ in range(4)]
    # then
    pool_size = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}").pool.size()
    for samples in scrapes:
        count = "datarights_graphql_requests_total"
        assert value(samples, count, operation="Counted", outcome="ok") == 6
        assert value(samples, "datarights_db_pool_size") == 2 * pool_size
    assert not (shared / "counter_1.db").exists()


def test_serve_makes_a_metrics_directory_of_its_own_and_removes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROCESS_ENV, raising=False)
    with multiprocess_directory() as made:
        assert os.environ[MULTIPROCESS_ENV] == made
        assert Path(made).is_dir()
    assert not Path(made).exists()
    assert MULTIPROCESS_ENV not in os.environ


CRASHING_WORKER = """
import os
from prometheus_client import Gauge
Gauge("datarights_db_pool_size", "", multiprocess_mode="livesum").set(5)
os._exit(1)  # as a killed worker: no atexit
"""


def test_a_worker_that_died_stops_counting_in_the_live_gauges(tmp_path: Path) -> None:
    # given: a worker wrote its live gauge, then died without a word
    env = {**os.environ, MULTIPROCESS_ENV: str(tmp_path)}
    subprocess.run([sys.executable, "-c", CRASHING_WORKER], env=env, check=False, timeout=30)
    assert any(LIVE_GAUGE.fullmatch(p.name) for p in tmp_path.iterdir())
    # when
    forget_dead_workers(str(tmp_path))
    # then
    assert not any(LIVE_GAUGE.fullmatch(p.name) for p in tmp_path.iterdir())
