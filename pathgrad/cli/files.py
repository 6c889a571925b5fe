"""Reading the command line's input files, with one-line errors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import examples

__all__ = ["InputError", "add_network_argument", "read_json", "read_network", "read_text"]


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


def add_network_argument(parser: argparse.ArgumentParser) -> None:
    """Add the network a command reads: a file (``-`` for stdin), or ``--example NAME``."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("network", type=Path, nargs="?",
                       help="network spec JSON file ('-' for stdin)")
    which.add_argument("--example", choices=examples.names(), metavar="NAME",
                       help=f"a network shipped with pathgrad instead of a file: "
                       f"{', '.join(examples.names())}")


def read_network(args: argparse.Namespace) -> Any:
    """The network of :func:`add_network_argument`: the file's JSON, or the example."""
    if args.example is not None:
        return examples.load(args.example)
    return read_json(args.network)
