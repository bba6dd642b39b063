"""``datarights serve --workers N`` (api/serving.py): a listening socket for each worker, so that
connections opened together spread over the workers; a worker that dies is replaced on its own
socket without a connection refused; SIGHUP replaces every worker, SIGTERM stops them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from api import serving
from tests.api.test_served_process import ROOT, free_port, start_serve

pytestmark = pytest.mark.skipif(not serving.AVAILABLE, reason="SO_REUSEPORT spreads on Linux")

HEALTH = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def workers(self) -> dict[int, int]:
        """Each worker's pid and the inode of the socket it listens on."""
        listening: dict[int, int] = {}
        for child in psutil.Process(self.process.pid).children():
            try:
                for conn in child.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port:
                        listening[child.pid] = _inode(child.pid, conn.fd)
            except (psutil.NoSuchProcess, FileNotFoundError):
                continue  # a worker that has just stopped (a SIGHUP's predecessor)
        return listening

    def connections_by_worker(self) -> Counter[int]:
        counts: Counter[int] = Counter()
        for pid in self.workers():
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == self.port:
                    counts[pid] += 1
        return counts

    def wait_for_workers(
        self, count: int, not_among: frozenset[int] = frozenset()
    ) -> dict[int, int]:
        deadline = time.monotonic() + 40
        while True:
            workers = self.workers()
            if len(workers) == count and not set(workers) & not_among:
                return workers
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{count} workers did not listen: {workers}\n{self.log.read_text()}")
            time.sleep(0.1)


def _inode(pid: int, fd: int) -> int:
    return os.stat(f"/proc/{pid}/fd/{fd}").st_ino


def _ask(port: int, sock: socket.socket | None = None) -> tuple[socket.socket, bytes]:
    """GET /healthz on ``sock`` (a new connection when None), the connection kept open."""
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(HEALTH)
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return sock, answer


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Served]:
    """Two workers (the database does not matter here: SQLite, migrated by serve)."""
    port = free_port()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'serving.db'}"
    env = {"DATARIGHTS_DATABASE_URL": database_url}
    process, log = start_serve(tmp_path, port, env, "--workers", "2")
    served = Served(process, port, log)
    try:
        served.wait_for_workers(2)
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=40)


def test_each_worker_listens_on_a_socket_of_its_own_and_connections_opened_together_spread(
    two_workers: Served,
) -> None:
    # given: two workers, each listening on a socket of its own on the one port
    workers = two_workers.workers()
    assert len(set(workers.values())) == 2, workers
    # when: 32 keep-alive connections open at once, as a client's pool opens them
    with ThreadPoolExecutor(32) as pool:
        asked = list(pool.map(lambda _: _ask(two_workers.port), range(32)))
    try:
        assert all(answer.startswith(b"HTTP/1.1 200") for _, answer in asked)
        # then: both workers hold some (all 32 on one: a chance of 2 in 2**32)
        counts = two_workers.connections_by_worker()
        assert sum(counts.values()) == 32
        assert min(counts[pid] for pid in workers) >= 4, counts
    finally:
        for sock, _ in asked:
            sock.close()


def test_a_worker_killed_is_replaced_on_its_socket_and_no_connection_is_refused(
    two_workers: Served,
) -> None:
    # given: two workers
    workers = two_workers.workers()
    killed = next(iter(workers))
    # when: one is killed, and connections come at once, some to its socket
    os.kill(killed, signal.SIGKILL)
    with ThreadPoolExecutor(16) as pool:
        asked = list(pool.map(lambda _: _ask(two_workers.port), range(16)))
    for sock, _ in asked:
        sock.close()
    # then: every one is answered (those on its socket by its replacement), and the
    # replacement listens on the killed worker's socket
    assert [answer[:12] for _, answer in asked] == [b"HTTP/1.1 200"] * 16
    now = two_workers.wait_for_workers(2, not_among=frozenset({killed}))
    assert set(now.values()) == set(workers.values())
    assert "died" in two_workers.log.read_text()


def test_sighup_replaces_every_worker_while_requests_go_on(two_workers: Served) -> None:
    # given: two workers and a client asking all along
    before = two_workers.workers()
    # when: the supervisor gets SIGHUP
    two_workers.process.send_signal(signal.SIGHUP)
    answers = []
    deadline = time.monotonic() + 60
    while set(two_workers.workers()) & set(before) or len(two_workers.workers()) != 2:
        sock, answer = _ask(two_workers.port)
        sock.close()
        answers.append(answer[:12])
        assert time.monotonic() < deadline, two_workers.log.read_text()
        time.sleep(0.05)
    # then: two new workers, on the same sockets, and every request answered
    assert set(two_workers.workers().values()) == set(before.values())
    assert answers and set(answers) == {b"HTTP/1.1 200"}


def test_sigterm_stops_every_worker_and_the_supervisor_exits_0(two_workers: Served) -> None:
    workers = list(two_workers.workers())
    two_workers.process.terminate()
    assert two_workers.process.wait(timeout=40) == 0
    assert not [pid for pid in workers if psutil.pid_exists(pid)]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", two_workers.port), timeout=5)


def test_a_worker_that_cannot_start_stops_the_supervisor_with_uvicorns_startup_failure(
    tmp_path: Path,
) -> None:
    script = (
        "import sys, uvicorn\n"
        "from api import serving\n"
        "config = uvicorn.Config('tests.api.no_such_module:app', port=0, log_config=None)\n"
        "sys.exit(serving.serve(config, 2))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr.decode()
    assert b"failed to start" in done.stderr
