"""Several worker processes, each with a listening socket of its own on the one port.

uvicorn's own supervisor binds one socket and hands it to every worker. Every worker's event
loop then wakes on a new connection and the first to run accepts every connection waiting
(asyncio accepts up to the backlog at each wake-up), so a client that opens its keep-alive
connections together (a load balancer, a partner's connection pool, the bench's wrk) can put
them all on one worker while the other idles: the bench saw it about once a run, its ratio
falling to 0.6 of the same code's evenly spread run (docs/performance.md, row 25).

Here each worker listens on a socket of its own with ``SO_REUSEPORT`` (Linux): the kernel gives
each new connection to one of the sockets by a hash of its addresses, so connections spread
over the workers whatever the client does. The supervisor binds every socket and keeps them
all open, so the connections that arrive at a worker's socket while that worker restarts wait
in its queue for the replacement instead of being refused. The price of the scheme, as in
nginx's ``reuseport``: a worker that is busy is not spared its share of new connections.

Elsewhere than on Linux ``datarights serve`` keeps uvicorn's supervisor (:data:`AVAILABLE`).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("datarights")

AVAILABLE = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")

# A worker that dies this soon after it started waits this long before its replacement, so that
# a worker that crashes at once does not spin the supervisor.
QUICK_DEATH_SECONDS = 5.0
RESTART_PAUSE_SECONDS = 1.0
# SIGHUP gives up on a replacement that has not begun to listen after this long (and keeps the
# workers it has).
REPLACEMENT_WAIT_SECONDS = 60.0

_spawn = multiprocessing.get_context("spawn")


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host``:``port`` with ``SO_REUSEPORT``; with port 0, on
    the port the first one is given."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class _ReportingServer(uvicorn.Server):
    """uvicorn's server, which tells the supervisor once it listens."""

    def __init__(self, config: uvicorn.Config, started: Event) -> None:
        super().__init__(config)
        self._started_event = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._started_event.set()


def _work(config: uvicorn.Config, sock: socket.socket, started: Event) -> None:
    """A worker process: serve on its socket until told to stop (SIGTERM, SIGINT)."""
    _ReportingServer(config, started).run(sockets=[sock])


@dataclass
class _Worker:
    process: SpawnProcess
    started: Event
    began: float


class Supervisor:
    """Starts a worker for each socket, and another on the same socket when one dies.
    SIGINT and SIGTERM stop every worker (each finishes its requests in flight); SIGHUP
    replaces them one at a time, the next only once its predecessor's replacement listens."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.workers: list[_Worker | None] = [None] * len(sockets)
        self._signals: list[int] = []
        self._wake = threading.Event()
        self._exit_code: int | None = None

    def run(self) -> int:
        """Serves until stopped; the exit code: 0, or uvicorn's startup failure (3) when a
        worker could not start (a broken app, setting or database: every restart would
        fail alike)."""
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, self._on_signal)
        host, port = self.sockets[0].getsockname()[:2]
        log.info(
            "serving on http://%s:%d with %d workers, a socket each", host, port, len(self.sockets)
        )
        for lane in range(len(self.sockets)):
            self.workers[lane] = self._start(lane)
        while self._exit_code is None:
            self._wake.wait(0.5)
            self._wake.clear()
            self._handle_signals()
            if self._exit_code is None:
                self._replace_the_dead()
        self._stop_all()
        return self._exit_code

    def _on_signal(self, number: int, _frame: object) -> None:
        self._signals.append(number)
        self._wake.set()

    def _handle_signals(self) -> None:
        while self._signals:
            number = self._signals.pop(0)
            if number == signal.SIGHUP:
                log.info("SIGHUP: replacing the workers one at a time")
                self._replace_all()
            else:
                log.info("%s: stopping the workers", signal.Signals(number).name)
                self._exit_code = 0

    def _start(self, lane: int) -> _Worker:
        started = _spawn.Event()
        process = _spawn.Process(
            target=_work,
            args=(self.config, self.sockets[lane], started),
            name=f"datarights-worker-{lane}",
        )
        process.start()
        return _Worker(process, started, time.monotonic())

    def _replace_the_dead(self) -> None:
        for lane, worker in enumerate(self.workers):
            if worker is None or worker.process.exitcode is None:
                continue
            code = worker.process.exitcode
            worker.process.join()
            if code == STARTUP_FAILURE and not worker.started.is_set():
                log.error("worker %s failed to start: stopping", worker.process.pid)
                self.workers[lane] = None
                self._exit_code = STARTUP_FAILURE
                return
            log.warning(
                "worker %s died (exit code %s): another takes its socket", worker.process.pid, code
            )
            if time.monotonic() - worker.began < QUICK_DEATH_SECONDS:
                time.sleep(RESTART_PAUSE_SECONDS)
            self.workers[lane] = self._start(lane)

    def _replace_all(self) -> None:
        for lane, old in enumerate(self.workers):
            if old is None:
                continue
            new = self._start(lane)
            # Both listen on the lane's socket a moment; the old one finishes what it has.
            deadline = time.monotonic() + REPLACEMENT_WAIT_SECONDS
            while not new.started.wait(0.2):
                if new.process.exitcode is not None or time.monotonic() > deadline:
                    log.error("a replacement worker did not start: keeping the old workers")
                    self._stop(new)
                    return
            self._stop(old)
            self.workers[lane] = new

    def _stop(self, worker: _Worker) -> None:
        if worker.process.exitcode is None:
            worker.process.terminate()
        worker.process.join(self._grace())
        if worker.process.exitcode is None:
            log.warning("worker %s did not stop in time: killed", worker.process.pid)
            worker.process.kill()
            worker.process.join()

    def _grace(self) -> float:
        given = self.config.timeout_graceful_shutdown
        return (given if given is not None else 30.0) + 5.0

    def _stop_all(self) -> None:
        running = [worker for worker in self.workers if worker is not None]
        for worker in running:
            if worker.process.exitcode is None:
                worker.process.terminate()
        for worker in running:
            self._stop(worker)
        for sock in self.sockets:
            sock.close()


def serve(config: uvicorn.Config, workers: int) -> int:
    """Serves ``config``'s app (an import string) with ``workers`` processes, a socket each."""
    try:
        sockets = listening_sockets(config.host, config.port, workers, config.backlog)
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", config.host, config.port, error)
        return STARTUP_FAILURE
    return Supervisor(config, sockets).run()


def run(app: str, workers: int, **options: Any) -> int:
    """Serves ``app`` (an import string) as uvicorn.run would with ``options``: with several
    workers on Linux, a socket each (:func:`serve`); otherwise uvicorn's own way. The exit
    code."""
    if workers > 1 and AVAILABLE:
        return serve(uvicorn.Config(app, workers=workers, **options), workers)
    uvicorn.run(app, workers=workers, **options)
    return 0
