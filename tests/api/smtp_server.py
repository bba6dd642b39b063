"""A real SMTP server on loopback (aiosmtpd, in a thread of its own) for the mail relay tests:
it keeps what it accepts, or refuses recipients with the reply a test sets."""

from __future__ import annotations

import email
import email.message
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Accepted:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage


@dataclass
class MailServer:
    """Accepts every message unless ``refuse_with`` holds a reply such as "451 4.3.0 Later"."""

    port: int = 0
    refuse_with: str | None = None
    accepted: list[Accepted] = field(default_factory=list)
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    # aiosmtpd's hook names.
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            if self.refuse_with is not None:
                self.refused += 1
                return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        with self._lock:
            self.accepted.append(Accepted(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def mail_server() -> Iterator[MailServer]:
    """An SMTP server listening on a free loopback port for the block's duration."""
    server = MailServer(port=free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
