"""Cursors of path pages: where the next page of one query in one order starts.

A cursor is opaque to its users: URL-safe base64 of the query, the order and the
offset, so that a cursor of one query is refused by another rather than read.
"""

from __future__ import annotations

import base64
import binascii
import json

from .errors import OptionError

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(query: str, order: str, offset: int) -> str:
    """The cursor of the page of ``query`` in ``order`` that starts at ``offset``."""
    raw = json.dumps({"q": query, "o": order, "k": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, query: str, order: str, total: int) -> int:
    """The offset a cursor of ``query`` in ``order`` points at (0 for no cursor).

    Raises
    ------
    OptionError
        For a cursor of another query or order, or past the ``total`` paths.
    """
    if cursor is None:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = state["k"]
        valid = state["q"] == query and state["o"] == order and type(offset) is int
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError, RecursionError):
        valid, offset = False, 0
    if not valid or not 0 <= offset < total:
        raise OptionError(
            "cursor", f"expected the next_cursor of an earlier page of these paths in order "
            f"{order}")
    return int(offset)
