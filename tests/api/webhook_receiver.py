"""A real HTTP receiver on loopback for the webhook tests, answering as each test scripts it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook
from werkzeug import Request, Response


@dataclass
class Received:
    headers: dict[str, str]
    body: str

    def verified(self, secret: str) -> dict[str, Any]:
        """The payload, once its Standard Webhooks signature checks out with ``secret``."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)["data"]
        return data


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (the last one repeats)."""

    server: HTTPServer
    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.expect_request("/consent", method="POST").respond_with_handler(self._answer)

    @property
    def url(self) -> str:
        return self.server.url_for("/consent")

    def answer_with(self, *statuses: int) -> None:
        self.statuses = list(statuses)

    def _answer(self, request: Request) -> Response:
        with self._lock:
            self.received.append(Received(dict(request.headers), request.get_data(as_text=True)))
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Response("ok" if status < 300 else "no", status=status)


def start_receiver(port: int = 0) -> Receiver:
    server = HTTPServer(host="127.0.0.1", port=port, threaded=True)
    server.start()
    return Receiver(server)


@contextmanager
def receiving(port: int = 0) -> Iterator[Receiver]:
    """A receiver listening on loopback (at ``port`` if given) for the block's duration."""
    receiver = start_receiver(port)
    try:
        yield receiver
    finally:
        receiver.server.clear()
        receiver.server.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (until a test starts a receiver there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
