"""Fixtures of the API tests: the `datarights` command in-process, and for the webhook tests
a real receiver on loopback and the worker's HTTP sender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from api.cli import main
from api.network import HttpxWebhookSender
from tests.api.webhook_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


@pytest.fixture
async def sender() -> AsyncIterator[HttpxWebhookSender]:
    """The sender ``datarights worker`` uses, with a short timeout for a receiver that is down."""
    sending = HttpxWebhookSender(timeout_seconds=2)
    yield sending
    await sending.close()


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """Run `datarights ARGS…` against the test database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATARIGHTS_DATABASE_URL", database_url)

    async def run(*args: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
