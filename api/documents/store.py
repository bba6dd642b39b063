"""The documents this process has met, each parsed and planned once.

Trusted documents are looked up in the database on first use (every replica reads the same
table), then kept in memory: a hash names one text for ever, so a kept document never goes
stale; it is looked up again after a while only so that one removed from the table stops being
served. A hash found unknown is remembered briefly, so that a stream of requests for it does not
each cost a query, and a document loaded meanwhile is served within seconds.

Ad-hoc texts (:class:`PreparedTexts`) are planned the same way once they have passed the
schema's validation and the request limits, and kept per text as their validation is
(api/validation.py): front ends that do not ship a manifest still send the same few texts again
and again."""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, specified_rules

from api.documents.prepared import (
    PreparedConsentStates,
    PreparedMe,
    prepare_consent_states,
    prepare_me,
)
from api.limits import QueryLimits
from api.validation import CACHED_DOCUMENT_MAX_CHARS, DocumentValidation
from domain.dependencies import Dependencies
from domain.documents import use_cases
from domain.documents.model import document_hash

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


class PreparedTexts:
    """The plans of ad-hoc texts, kept for the ``maxsize`` most recently used; a text that is
    not in the prepared subset, or that the general path would refuse (a syntax error, a rule
    or a limit broken), is kept as None: the general path answers it, and says why."""

    def __init__(self, schema: GraphQLSchema, limits: QueryLimits, maxsize: int = 256) -> None:
        self._schema = schema
        self._limits = limits
        # Suggestions or not, any error sends the text to the general path, which words it.
        self._validation = DocumentValidation(limits, hide_suggestions=True, maxsize=1)
        self._maxsize = maxsize
        self._kept: OrderedDict[str, KnownDocument | None] = OrderedDict()

    def find(self, text: str) -> KnownDocument | None:
        """The plan of this text, or None when the general path must answer it."""
        if len(text) > CACHED_DOCUMENT_MAX_CHARS:
            return None
        try:
            known = self._kept[text]
        except KeyError:
            known = self._planned(text)
            self._kept[text] = known
            if len(self._kept) > self._maxsize:
                self._kept.popitem(last=False)
            return known
        self._kept.move_to_end(text)
        return known

    def _planned(self, text: str) -> KnownDocument | None:
        try:
            document = parse(text, max_tokens=self._limits.max_tokens)
        except GraphQLError:
            return None
        rules = tuple(specified_rules)
        # Limits that depend on the variables are checked again with them, request by request.
        if self._validation.errors(self._schema, None, document, rules, {}):
            return None
        known = _planned(document_hash(text), text, document)
        return known if known.me is not None or known.consent_states is not None else None


def _prepared(digest: str, text: str) -> KnownDocument:
    try:
        document = parse(text)
    except GraphQLError:  # checked when loaded; a row changed by hand takes the general path
        return KnownDocument(digest, text, None, None)
    return _planned(digest, text, document)


def _planned(digest: str, text: str, document: DocumentNode) -> KnownDocument:
    return KnownDocument(digest, text, None, prepare_me(document), prepare_consent_states(document))
