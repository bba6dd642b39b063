"""A served process for the browser to talk to, and Chromium (Debian's, through Playwright)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.documents.model import document_hash
from tests import backends
from tests.api.documents import LOGIN, REGISTER, REQUEST_RESET

ROOT = Path(__file__).resolve().parents[2]
PAGE_DOCUMENTS = ROOT / "api" / "privacy_center" / "persisted-documents.json"
CHROMIUM = Path(os.environ.get("DATARIGHTS_TEST_CHROMIUM", "/usr/bin/chromium"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def browser_missing(why: str) -> None:
    """Skip (or, in CI, fail) a browser test that has no browser."""
    if backends.REQUIRE_ALL:
        pytest.fail(f"{why} (DATARIGHTS_REQUIRE_ALL_BACKENDS is set)", pytrace=False)
    pytest.skip(why)


def _serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _chromium_installed() -> bool:
    return CHROMIUM.exists()


def _load_documents(env: dict[str, str], manifest: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "api.cli", "documents", "load", str(manifest)],
        cwd=manifest.parent,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture
async def served_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """`datarights serve` on a free port against the test database; its public URL is its own
    origin, so the API's CSRF rule accepts the page's cookie requests. It runs trusted documents
    only: the page's (api/privacy_center/persisted-documents.json) and those the tests send
    to register, sign in and ask for a reset, as a production front end would ship them."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATARIGHTS_DATABASE_URL": database_url,
        "DATARIGHTS_PUBLIC_URL": base,
        "DATARIGHTS_ARGON2_MEMORY_KIB": "8",
        "DATARIGHTS_ARGON2_TIME_COST": "1",
        "DATARIGHTS_TRUSTED_DOCUMENTS_ONLY": "true",
    }
    manifest = {
        **json.loads(PAGE_DOCUMENTS.read_text()),
        **{document_hash(text): text for text in (REGISTER, LOGIN, REQUEST_RESET)},
    }
    (tmp_path / "documents.json").write_text(json.dumps(manifest))
    _load_documents(env, tmp_path / "documents.json")
    process = _serve(port, env, log)
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=base, timeout=1) as http:
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"datarights serve did not start:\n{log.read_text()}")
                await asyncio.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium; Playwright's own browser download is not used."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        browser_missing("the playwright package is not installed (pip install -e '.[dev]')")
    if not _chromium_installed():
        browser_missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            await chromium.close()
