"""Loading and reading trusted documents (the caller checks them against the schema first)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.dependencies import Dependencies
from domain.documents.model import TrustedDocument, document_hash
from domain.errors import DomainError, ErrorCode, Problem


async def trust_documents(
    deps: Dependencies, documents: Sequence[tuple[str, str, str | None]]
) -> int:
    """Store (hash, text, operation name) triples, all or none: a hash that is not its text's
    refuses the whole set. Documents already trusted stay as they were. Returns how many were
    new."""
    problems = [
        Problem(
            (digest,), ErrorCode.INVALID, f"{digest}: the hash is not the SHA-256 of its document"
        )
        for digest, text, _ in documents
        if document_hash(text) != digest
    ]
    if problems:
        raise DomainError(problems)
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        added = await uow.trusted_documents.add(
            [TrustedDocument(digest, text, name, now) for digest, text, name in documents]
        )
        await uow.commit()
    return added


async def trusted_document(deps: Dependencies, digest: str) -> TrustedDocument | None:
    """The document trusted under this hex digest, if any."""
    async with deps.unit_of_work() as uow:
        return await uow.trusted_documents.get(digest)


async def trusted_documents(deps: Dependencies) -> list[TrustedDocument]:
    """Every trusted document, in the order they were loaded."""
    async with deps.unit_of_work() as uow:
        return await uow.trusted_documents.all()
