"""The outbox mailer: messages are rows written in the caller's transaction (so a rolled-back
use case sends nothing); a relay such as an SMTP sender delivers them from the table."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.ports import EmailMessage
from persistence.tables import outbox_messages

log = logging.getLogger("datarights.mail")


class OutboxMailer:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def send(self, message: EmailMessage, *, about: uuid.UUID | None = None) -> None:
        message_id = uuid.uuid4()
        await self._conn.execute(
            insert(outbox_messages).values(
                id=message_id,
                customer_id=about,
                kind=message.kind,
                recipient=message.to,
                subject=message.subject,
                body=message.body,
                created_at=datetime.now(UTC),
            )
        )
        # Never the recipient or the content: they are personal data and may hold tokens.
        log.info("e-mail queued", extra={"mail_kind": message.kind, "message_id": str(message_id)})
