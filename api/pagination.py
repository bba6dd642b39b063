"""Relay-style connections: opaque cursors and page information."""

from __future__ import annotations

import base64
import binascii

import strawberry


@strawberry.type(description="Where a page of a connection ends.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def page_info(cursors: list[str], has_next_page: bool) -> PageInfo:
    """Where a page ends, from the cursors of its edges."""
    return PageInfo(has_next_page=has_next_page, end_cursor=cursors[-1] if cursors else None)


class BadCursor(ValueError):
    """A cursor this service did not hand out."""


def encode_cursor(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The position a cursor stands for; None for the start."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, position = text.partition(":")
        if prefix != kind:
            raise ValueError(prefix)
        return int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(f"not a {kind} cursor") from None
