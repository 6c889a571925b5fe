"""Reading the command line's input files, with one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["InputError", "read_json", "read_text"]


class InputError(Exception):
    """An input cannot be used; the message is the one line the command prints."""


def read_text(path: Path) -> str:
    """Return a UTF-8 file's text (``-``: standard input)."""
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text: {error}") from None


def read_json(path: Path) -> Any:
    """Return a file's JSON document (``-``: standard input)."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from None
    except RecursionError:
        raise InputError(f"{path}: not usable JSON: it is nested too deeply") from None
    except ValueError as error:  # an integer of more digits than int() takes
        raise InputError(f"{path}: not usable JSON: {error}") from None
