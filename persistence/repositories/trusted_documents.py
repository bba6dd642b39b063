"""Trusted documents: one row per hash; a hash names one text for ever, so rows never change."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.documents.model import TrustedDocument
from persistence.tables import trusted_documents

_COLUMNS = (
    trusted_documents.c.hash,
    trusted_documents.c.document,
    trusted_documents.c.operation_name,
    trusted_documents.c.loaded_at,
)


class SqlTrustedDocumentRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, documents: Sequence[TrustedDocument]) -> int:
        wanted = {document.hash: document for document in documents}
        if not wanted:
            return 0
        present = set(
            await self._conn.scalars(
                select(trusted_documents.c.hash).where(trusted_documents.c.hash.in_(wanted))
            )
        )
        new = [
            {
                "hash": d.hash,
                "document": d.text,
                "operation_name": d.operation_name,
                "loaded_at": d.loaded_at,
            }
            for digest, d in wanted.items()
            if digest not in present
        ]
        if new:
            await self._conn.execute(insert(trusted_documents), new)
        return len(new)

    async def get(self, document_hash: str) -> TrustedDocument | None:
        query = select(*_COLUMNS).where(trusted_documents.c.hash == document_hash)
        row = (await self._conn.execute(query)).first()
        return TrustedDocument(*row) if row else None

    async def all(self) -> list[TrustedDocument]:
        query = select(*_COLUMNS).order_by(trusted_documents.c.loaded_at, trusted_documents.c.hash)
        return [TrustedDocument(*row) for row in await self._conn.execute(query)]
