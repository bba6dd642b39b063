"""Fixtures of the webhook tests: a real receiver on loopback and the worker's HTTP sender."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

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
