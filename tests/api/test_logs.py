"""Structured logs: one JSON object a line, with the request id and the operation name, for the
app, `datarights serve` and `datarights worker`; no e-mails, tokens or query strings."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.logs import handler
from api.settings import Settings
from domain.dependencies import Dependencies
from tests.api.documents import LOGIN, REGISTER
from tests.api.helpers import broken_database
from tests.api.test_served_process import ROOT, free_port
from tests.factories import PASSWORD, registration
from tests.graphql import GraphQLClient

EMAIL = "lines@example.com"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the service's JSON handler writes while the test runs."""
    stream = io.StringIO()
    installed = handler(json_lines=True, stream=stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(installed)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(installed)
    root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    """The service's lines (the tests' own HTTP client logs the URLs it calls: left out)."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["logger"] != "httpx"]


async def test_every_line_is_json_with_the_request_id_and_operation_and_no_email(
    client: GraphQLClient, json_lines: io.StringIO
) -> None:
    registered = await client.post(REGISTER, {"input": registration(email=EMAIL)})
    client.forget_cookies()
    signed_in = await client.post(LOGIN, {"input": {"email": EMAIL, "password": PASSWORD}})
    token = signed_in.json()["data"]["login"]["token"]
    lines = parsed(json_lines)
    assert lines
    for line in lines:
        assert {"timestamp", "level", "logger", "message", "request_id", "operation"} <= set(line)
    access = [line for line in lines if line["logger"] == "datarights.access"]
    assert [(a["request_id"], a["operation"], a["status"]) for a in access] == [
        (registered.headers["x-request-id"], "Register", 200),
        (signed_in.headers["x-request-id"], "Login", 200),
    ]
    assert access[0]["method"] == "POST" and access[0]["path"] == "/graphql"
    assert isinstance(access[0]["duration_ms"], float)
    text = json.dumps(lines)
    for secret in (EMAIL, "@example.com", PASSWORD, token):
        assert secret not in text


async def test_a_masked_fault_is_logged_with_its_traceback_under_the_same_id(
    settings: Settings, deps: Dependencies, engine: AsyncEngine, json_lines: io.StringIO
) -> None:
    async with broken_database(settings, deps, "the database exploded") as http:
        response = await GraphQLClient(http).post(
            LOGIN, {"input": {"email": EMAIL, "password": "x"}}
        )
    rid = response.headers["x-request-id"]
    assert response.json()["errors"][0]["extensions"]["requestId"] == rid
    [fault] = [line for line in parsed(json_lines) if line["level"] == "ERROR"]
    assert fault["request_id"] == rid
    assert fault["operation"] == "Login"
    assert "Traceback" in fault["exc_info"] and "the database exploded" in fault["exc_info"]


async def test_the_access_event_never_carries_a_query_string_or_a_strange_path(
    client: GraphQLClient, json_lines: io.StringIO
) -> None:
    await client.http.get("/healthz", params={"email": EMAIL})
    await client.http.get(f"/profile/{EMAIL}")
    await client.http.get("/exports/5b1e0c9e-2f0c-4a43-9a7e-6cf7d1b6f0aa")
    access = [line for line in parsed(json_lines) if line["logger"] == "datarights.access"]
    # /healthz is a load balancer's probe: DEBUG, below the service's INFO
    assert [a["path"] for a in access] == ["(unloggable path)", "/exports/{export_id}"]
    assert EMAIL not in json.dumps(parsed(json_lines))


def test_json_is_the_default_in_production_and_text_in_development() -> None:
    assert Settings(env="development").json_logs is False
    assert Settings(env="development", log_format="json").json_logs is True
    production = {"card_vault_keys": "k1:" + "A" * 43 + "=", "rate_limits_in_memory": True}
    assert Settings(env="production", **production).json_logs is True
    assert Settings(env="production", log_format="text", **production).json_logs is False


def run_env(database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATARIGHTS_")}
    return {
        **clean,
        "PYTHONPATH": str(ROOT),
        "DATARIGHTS_DATABASE_URL": database_url,
        "DATARIGHTS_LOG_FORMAT": "json",
        "DATARIGHTS_ARGON2_MEMORY_KIB": "8",
        "DATARIGHTS_ARGON2_TIME_COST": "1",
    }


def test_datarights_serve_writes_json_lines_and_its_own_access_event(
    database_url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=run_env(database_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"datarights serve did not start:\n{log.read_text()}")
                time.sleep(0.1)
        response = httpx.post(
            f"{base}/graphql?email={EMAIL}",
            json={"query": "query Fields { profileFields { name } }"},
            timeout=10,
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers  # the server's own lines, as JSON too
    assert "uvicorn.access" not in loggers
    [access] = [line for line in lines if line["logger"] == "datarights.access"]
    assert access["request_id"] == response.headers["x-request-id"]
    assert (access["operation"], access["path"], access["status"]) == ("Fields", "/graphql", 200)
    assert EMAIL not in log.read_text()


def test_datarights_worker_writes_json_lines(
    database_url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "worker", "--once"],
        cwd=tmp_path,
        env={**run_env(database_url), "DATARIGHTS_LOG_LEVEL": "DEBUG"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines
    assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
