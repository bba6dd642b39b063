"""The outbox mailer: messages are rows written in the caller's transaction (so a rolled-back
use case sends nothing); a relay such as an SMTP sender delivers them from the table."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.ports import EmailMessage
from persistence.tables import outbox_messages

log = logging.getLogger("datarights.mail")


def _row(message: EmailMessage, about: uuid.UUID | None, at: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "customer_id": about,
        "kind": message.kind,
        "reference": message.reference,
        "recipient": message.to,
        "subject": message.subject,
        "body": message.body,
        "created_at": at,
    }


class OutboxMailer:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def send(self, message: EmailMessage, *, about: uuid.UUID | None = None) -> None:
        row = _row(message, about, datetime.now(UTC))
        await self._conn.execute(insert(outbox_messages).values(row))
        # Never the recipient or the content: they are personal data and may hold tokens.
        log.info("e-mail queued", extra={"mail_kind": message.kind, "message_id": str(row["id"])})

    async def send_many(self, messages: Sequence[tuple[EmailMessage, uuid.UUID]]) -> None:
        if not messages:
            return
        at = datetime.now(UTC)
        # One statement: SQLAlchemy sends the rows as multi-row INSERTs.
        await self._conn.execute(
            insert(outbox_messages), [_row(message, about, at) for message, about in messages]
        )
        log.info(
            "e-mails queued",
            extra={"mail_kind": messages[0][0].kind, "mail_count": len(messages)},
        )
