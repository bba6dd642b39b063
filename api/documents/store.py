"""The trusted documents this process has met, each parsed and planned once. Looked up in the
database on first use (every replica reads the same table), then kept in memory: a hash names
one text for ever, so a kept document never goes stale; it is looked up again after a while
only so that one removed from the table stops being served. A hash found unknown is
remembered briefly, so that a stream of requests for it does not each cost a query, and a
document loaded meanwhile is served within seconds."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from graphql import GraphQLError, parse

from api.documents.prepared import (
    PreparedConsentStates,
    PreparedMe,
    prepare_consent_states,
    prepare_me,
)
from domain.dependencies import Dependencies
from domain.documents import use_cases

KEEP_SECONDS = 300.0
UNKNOWN_SECONDS = 5.0
MAX_KEPT = 2_048


@dataclass(frozen=True, slots=True)
class KnownDocument:
    hash: str
    text: str
    operation_name: str | None
    me: PreparedMe | None  # the prepared path, when the document is in its subset
    consent_states: PreparedConsentStates | None = None


class TrustedDocuments:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps
        self._kept: dict[str, tuple[float, KnownDocument | None]] = {}

    async def find(self, digest: str) -> KnownDocument | None:
        """The trusted document of this hex digest, or None."""
        now = time.monotonic()
        kept = self._kept.get(digest)
        if kept is not None and kept[0] > now:
            return kept[1]
        stored = await use_cases.trusted_document(self._deps, digest)
        known = None
        if stored is not None:
            previous = kept[1] if kept is not None else None
            known = previous if previous is not None else _prepared(stored.hash, stored.text)
            known = dataclasses.replace(known, operation_name=stored.operation_name)
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()  # rare (more distinct hashes than any front end ships): start over
        self._kept[digest] = (now + (KEEP_SECONDS if known else UNKNOWN_SECONDS), known)
        return known


def _prepared(digest: str, text: str) -> KnownDocument:
    try:
        document = parse(text)
    except GraphQLError:  # checked when loaded; a row changed by hand takes the general path
        return KnownDocument(digest, text, None, None)
    return KnownDocument(digest, text, None, prepare_me(document), prepare_consent_states(document))
