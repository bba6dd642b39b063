"""What docker/compose.yaml does, without Docker: a fresh PostgreSQL database, `datarights
migrate`, two `datarights serve` replicas in production mode on two ports with Redis, and
`datarights worker --once`. A customer registered on one replica signs in on the other, and a
rate limit counts the attempts made on both."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from persistence.card_vault import VaultKeyring
from tests import backends
from tests.api.documents import LOGIN, ME, REGISTER
from tests.api.test_served_process import ROOT, free_port
from tests.factories import PASSWORD, registration

PUBLIC_URL = "https://privacy.example.test"
pytestmark = pytest.mark.postgres_only


class Replicas:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


# This run's own: the client address the load balancer reports, and the e-mail addresses, so
# runs sharing the Redis database never meet and their keys can be deleted.
TAG = uuid.uuid4().hex[:12]
CLIENT_IP = f"2001:db8:{TAG[:4]}:{TAG[4:8]}::{TAG[8:]}"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replicas, list[str]]]:
    """A fresh database, migrated; two replicas serving it, ready. Everything is stopped, the
    database dropped and this module's Redis keys deleted afterwards, whatever happened."""
    tmp_path = tmp_path_factory.mktemp("replicas")
    if not backends.reachable(backends.POSTGRES_ADMIN_URL, 5432):
        backends.unavailable("PostgreSQL")
    if not backends.reachable(backends.REDIS_URL, 6379):
        backends.unavailable("Redis")
    with ExitStack() as cleanup:
        name = asyncio.run(backends.create_postgres_database())
        cleanup.callback(lambda: asyncio.run(backends.drop_postgres_database(name)))
        cleanup.callback(forget_keys)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DATARIGHTS_")},
            "PYTHONPATH": str(ROOT),
            "DATARIGHTS_ENV": "production",
            "DATARIGHTS_DATABASE_URL": backends.postgres_url(name),
            "DATARIGHTS_REDIS_URL": backends.REDIS_URL,
            "DATARIGHTS_CARD_VAULT_KEYS": VaultKeyring.generate("k1"),
            "DATARIGHTS_PUBLIC_URL": PUBLIC_URL,
            # As behind compose's load balancer: it reports the client's address.
            "DATARIGHTS_TRUSTED_PROXIES": "127.0.0.1/32",
            "DATARIGHTS_LOGIN_ATTEMPTS_PER_ACCOUNT": "3 per hour",
            # Cheap hashes keep the test fast; production parameters are tested elsewhere.
            "DATARIGHTS_ARGON2_MEMORY_KIB": "8",
            "DATARIGHTS_ARGON2_TIME_COST": "1",
        }
        steps = Replicas(env, tmp_path)
        migrated = steps.run("migrate")
        assert migrated.returncode == 0, migrated.stderr
        bases = []
        for number in (1, 2):
            port = free_port()
            log = (tmp_path / f"api-{number}.log").open("wb")
            cleanup.callback(log.close)
            process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            cleanup.callback(stop, process)
            bases.append((f"http://127.0.0.1:{port}", process, tmp_path / f"api-{number}.log"))
        for base, process, log_path in bases:
            wait_until_ready(base, process, log_path)
        yield steps, [base for base, _, _ in bases]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"a replica did not become ready:\n{log.read_text()}")
        time.sleep(0.1)


def forget_keys() -> None:
    connection = redis.Redis.from_url(backends.REDIS_URL)
    try:
        for pattern in (f"*{TAG}*", f"*{CLIENT_IP}*"):
            keys = list(connection.scan_iter(match=pattern))
            if keys:
                connection.delete(*keys)
    finally:
        connection.close()


def call(
    base: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"Origin": PUBLIC_URL, "X-Forwarded-For": CLIENT_IP}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_customer_registered_on_one_replica_signs_in_on_the_other(
    replicas: tuple[Replicas, list[str]],
) -> None:
    steps, (first, second) = replicas
    email = f"replica-{TAG}@example.com"
    # given
    registered = call(first, REGISTER, {"input": registration(email=email)})
    assert registered["data"]["register"]["errors"] == []
    # when
    login = call(second, LOGIN, {"input": {"email": email, "password": PASSWORD}})
    token = login["data"]["login"]["token"]
    # then
    assert call(second, ME, token=token)["data"]["me"]["email"] == email
    assert call(first, ME, token=token)["data"]["me"]["email"] == email
    worked = steps.run("worker", "--once")
    assert worked.returncode == 0, worked.stderr
    assert "delivered" in worked.stdout


def test_a_rate_limit_counts_the_attempts_made_on_both_replicas(
    replicas: tuple[Replicas, list[str]],
) -> None:
    _, (first, second) = replicas
    guess = {"input": {"email": f"nobody-{TAG}@example.com", "password": "wrong guess"}}
    # given: the account's three attempts an hour, spent on both replicas
    for base in (first, second, first):
        refused = call(base, LOGIN, guess)["data"]["login"]
        assert [e["code"] for e in refused["errors"]] == ["INVALID_CREDENTIALS"]
    # when
    fourth = call(second, LOGIN, guess)
    # then
    assert fourth["data"] is None
    assert fourth["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
