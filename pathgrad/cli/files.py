"""Reading the command line's input files, with one-line errors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import examples

__all__ = [
    "InputError", "add_network_argument", "read_array", "read_json", "read_network", "read_text",
]


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


def read_array(path: Path, option: str) -> Any:
    """Return the numbers of a ``.npy``, ``.json`` or ``.csv`` file (``--input``, ``--target``).

    ``.npy`` is loaded with ``allow_pickle=False``; a CSV's first row is skipped
    when none of its cells is a number (a header).
    """
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, option)
    if suffix == ".json":
        return read_json(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise InputError(f"{option} {path}: expected a .npy, .json or .csv file")


def _read_npy(path: Path, option: str) -> Any:
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except OSError as error:
        raise InputError(f"{option} {path}: cannot read: {error.strerror or error}") from None
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise InputError(f"{option} {path}: holds Python objects (a pickle), which "
                             "pathgrad never loads; save an array of numbers") from None
        raise InputError(f"{option} {path}: not a NumPy .npy file: {error}") from None


def _read_csv(path: Path) -> list[list[float]]:
    import csv

    rows = list(csv.reader(read_text(path).splitlines()))
    numbered = [(line, row) for line, row in enumerate(rows, start=1)
                if any(cell.strip() for cell in row)]
    if numbered and not any(_is_number(cell) for cell in numbered[0][1]):
        numbered = numbered[1:]  # a header
    values = []
    for line, row in numbered:
        parsed = []
        for column, cell in enumerate(row, start=1):
            if not _is_number(cell):
                raise InputError(f"{path} line {line}, column {column}: expected a number, "
                                 f"got {cell.strip()[:40]!r}")
            parsed.append(float(cell))
        values.append(parsed)
    if not values:
        raise InputError(f"{path}: no rows of numbers")
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
