"""A real `datarights serve` process on a socket: it migrates, serves, and logs no secrets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.documents import LOGIN, ME, REGISTER, UPDATE_CARD
from tests.factories import MASTERCARD, PASSWORD, VISA, registration
from tests.graphql import OWN_ORIGIN

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    folder: Path, port: int, env: dict[str, str], *options: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """``datarights serve`` on ``port`` (this checkout's code) started in ``folder``, with
    ``env`` over this process's environment; its output in ``folder/serve.log``."""
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), *options],
            cwd=folder,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, log


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The service on a free port, its output in a file; stopped after the test."""
    port = free_port()
    env = {
        "DATARIGHTS_DATABASE_URL": database_url,
        "DATARIGHTS_ARGON2_MEMORY_KIB": "8",
        "DATARIGHTS_ARGON2_TIME_COST": "1",
    }
    process, log = start_serve(tmp_path, port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"datarights serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_served_process_registers_signs_in_and_logs_no_card_number(
    served: tuple[str, Path], engine: object
) -> None:
    base, log = served
    # Like a browser on the service's own page: register leaves the session cookie in the jar.
    with httpx.Client(base_url=base, timeout=10, headers={"Origin": OWN_ORIGIN}) as http:
        # given
        reg = registration(email="served@example.com")
        registered = http.post("/graphql", json={"query": REGISTER, "variables": {"input": reg}})
        assert registered.json()["data"]["register"]["errors"] == []
        # when
        login = http.post(
            "/graphql",
            json={
                "query": LOGIN,
                "variables": {"input": {"email": "served@example.com", "password": PASSWORD}},
            },
        ).json()["data"]["login"]
        token = login["token"]
        me = http.post(
            "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        card = {"number": MASTERCARD, "expMonth": 1, "expYear": 2031, "cvc": 123}
        wrong_type = http.post(
            "/graphql",
            json={"query": UPDATE_CARD, "variables": {"input": {"card": card}}},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    # then
    assert me["data"]["me"]["email"] == "served@example.com"
    assert me["data"]["me"]["billing"]["card"]["last4"] == VISA[-4:]
    assert "errors" in wrong_type
    output = log.read_text()
    assert "POST /graphql" in output
    for secret in (VISA, "4242 4242 4242 4242", MASTERCARD, PASSWORD, token):
        assert secret not in output
