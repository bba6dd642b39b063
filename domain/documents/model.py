"""A trusted document is known by the SHA-256 of its text, as Relay, Apollo and GraphQL Codegen
name the operations they persist: a key either bare (64 hex digits) or prefixed ``sha256:``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

HASH_PREFIX = "sha256:"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def document_hash(text: str) -> str:
    """The hex SHA-256 of a document's text (UTF-8), the name it is trusted under."""
    return hashlib.sha256(text.encode()).hexdigest()


def digest_of(key: str) -> str | None:
    """The hex digest a manifest key or a request's document id names (bare or ``sha256:``),
    in lower case; None when it names none."""
    digest = key.removeprefix(HASH_PREFIX).lower()
    return digest if _HEX_DIGEST.fullmatch(digest) else None


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    hash: str
    text: str
    # The name of the document's operation when it has exactly one (and names it).
    operation_name: str | None
    loaded_at: datetime
