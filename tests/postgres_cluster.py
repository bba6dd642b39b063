"""A throwaway PostgreSQL server that a test may stop and start: its own cluster in a temporary
directory, on a free port of loopback, trust authentication, no durability (it lives seconds).

The server binaries refuse to run as root, so as root they run as the ``postgres`` user (through
``runuser``) in a directory that user owns. Where the binaries (or that user) are missing the
test is skipped with the reason, or fails under DATARIGHTS_REQUIRE_ALL_BACKENDS=1 (CI)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import backends

SERVER_USER = "postgres"


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory holding initdb and pg_ctl."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def why_not_here() -> str | None:
    """What is missing to run a throwaway server on this machine, or None."""
    if server_binaries() is None:
        return "the PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "runuser is missing, and initdb refuses to run as root"
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"there is no {SERVER_USER!r} user to run initdb as (it refuses root)"
    return None


def require_server_binaries() -> None:
    """Skip the test, naming what is missing; under CI's DATARIGHTS_REQUIRE_ALL_BACKENDS, fail."""
    reason = why_not_here()
    if reason is None:
        return
    message = f"a throwaway PostgreSQL cluster cannot be made: {reason}"
    if backends.REQUIRE_ALL:
        pytest.fail(f"{message} (DATARIGHTS_REQUIRE_ALL_BACKENDS is set)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    bin: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        as_server_user = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_server_user, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{done.stdout}{done.stderr}{log}")

    def create(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log),
            "--options",
            options,
            "--wait",
            "start",
        )

    def stop(self) -> None:
        """Stop as a crash would: every connection cut, no shutdown checkpoint."""
        self._run(
            str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "--mode", "immediate", "stop"
        )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def throwaway_cluster() -> Iterator[PostgresCluster]:
    """A started cluster, stopped and deleted afterwards whatever happened."""
    require_server_binaries()
    binaries = server_binaries()
    assert binaries is not None
    root = Path(tempfile.mkdtemp(prefix="datarights-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = PostgresCluster(binaries, root, free_port())
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.running():
                cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
