"""The mail relay's way out: SMTP through aiosmtplib, one connection kept for a worker's turn.

What a server says back is reduced to its reply code: the text of a refusal often repeats the
recipient's address, and the outcome is logged.
"""

from __future__ import annotations

import email.message
import email.utils
import ssl
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

import aiosmtplib

from domain.mail.model import MailOutcome, MailStatus, QueuedEmail

Security = Literal["plain", "starttls", "tls"]

_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where the relay hands mail over, read from ``DATARIGHTS_SMTP_URL``."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """smtp://host:25, smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465;
        ValueError (naming no secret) for anything else."""
        parts = urlsplit(url.strip())
        if parts.scheme not in _SCHEMES:
            raise ValueError(
                "DATARIGHTS_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://"
            )
        security, default_port = _SCHEMES[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError:
            raise ValueError("DATARIGHTS_SMTP_URL has an invalid port") from None
        if not parts.hostname:
            raise ValueError("DATARIGHTS_SMTP_URL names no host")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if (username or password) and security == "plain":
            # A password over an unencrypted connection is readable by anyone on the path.
            raise ValueError(
                "DATARIGHTS_SMTP_URL: credentials need smtp+starttls:// or smtps://, not smtp://"
            )
        return cls(parts.hostname, port, security, username, password)


class SmtpTransport:
    """Sends queued messages one by one over a connection opened on the first send and kept
    until :meth:`close` (or until something goes wrong, after which the next send reconnects)."""

    def __init__(
        self,
        server: SmtpServer,
        sender: str,
        timeout_seconds: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._server = server
        self._from = sender
        self._envelope_from = email.utils.parseaddr(sender)[1] or sender
        self._domain = self._envelope_from.rpartition("@")[2] or "datarights.invalid"
        self._timeout = timeout_seconds
        self._tls_context = tls_context
        self._client: aiosmtplib.SMTP | None = None

    async def send(self, message: QueuedEmail) -> MailOutcome:
        try:
            composed = self._compose(message)
        except (ValueError, TypeError):
            # A header with a line break, say: no server would make it right.
            return MailOutcome(MailStatus.REJECTED, "the message could not be composed")
        client = await self._connected()
        if isinstance(client, MailOutcome):
            return client
        try:
            await client.send_message(composed, sender=self._envelope_from, recipients=[message.to])
        except aiosmtplib.SMTPRecipientsRefused as error:
            await self.close()
            code = min((r.code for r in error.recipients), default=0)
            return MailOutcome(_by_code(code), f"recipient refused (SMTP {code})")
        except aiosmtplib.SMTPSenderRefused as error:
            # Our own address refused: every other message would be too.
            await self.close()
            return MailOutcome(MailStatus.UNREACHABLE, f"sender refused (SMTP {error.code})")
        except aiosmtplib.SMTPResponseException as error:
            await self.close()
            return MailOutcome(_by_code(error.code), f"SMTP {error.code}")
        except (aiosmtplib.SMTPException, OSError) as error:
            await self.close()
            return MailOutcome(MailStatus.DEFERRED, f"connection lost ({type(error).__name__})")
        return MailOutcome(MailStatus.SENT)

    async def close(self) -> None:
        """End the connection politely if it is still up; the next send opens another."""
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    async def _connected(self) -> aiosmtplib.SMTP | MailOutcome:
        """The open connection, or why none could be opened."""
        if self._client is not None and self._client.is_connected:
            return self._client
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            tls_context=self._tls_context,
            timeout=self._timeout,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as error:
            client.close()
            return MailOutcome(MailStatus.UNREACHABLE, f"credentials refused (SMTP {error.code})")
        except aiosmtplib.SMTPResponseException as error:
            client.close()
            return MailOutcome(MailStatus.UNREACHABLE, f"SMTP {error.code} on connect")
        except (aiosmtplib.SMTPException, OSError) as error:
            client.close()
            return MailOutcome(MailStatus.UNREACHABLE, f"cannot connect ({type(error).__name__})")
        self._client = client
        return client

    def _compose(self, message: QueuedEmail) -> email.message.EmailMessage:
        composed = email.message.EmailMessage()
        composed["From"] = self._from
        composed["To"] = message.to
        composed["Subject"] = message.subject
        composed["Date"] = email.utils.formatdate(usegmt=True)
        # The outbox id: a message sent twice (at least once delivery) is recognisably the same.
        composed["Message-ID"] = f"<{message.id}@{self._domain}>"
        # RFC 3834: no vacation replies to notices.
        composed["Auto-Submitted"] = "auto-generated"
        composed.set_content(message.body)
        return composed


def _by_code(code: int) -> MailStatus:
    return MailStatus.REJECTED if 500 <= code < 600 else MailStatus.DEFERRED
