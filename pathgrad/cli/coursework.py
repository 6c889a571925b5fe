"""Command-line flags shared by `pathgrad exercise`, `grade` and `autograder`: tolerance, credit.

Standard library only, so `pathgrad grade` keeps starting without Flask, Celery or SymPy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .files import InputError, read_json

__all__ = ["VISIBILITIES", "add_credit_arguments", "partial_of", "points_of", "tolerance_of"]

# Gradescope's visibility options (its autograder specification).
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def add_credit_arguments(parser: argparse.ArgumentParser, *, points: bool = True) -> None:
    """Add the tolerance flags, ``--partial`` and (unless ``points`` is False) ``--points``."""
    parser.add_argument("--tolerance-rtol", type=float, dest="rtol", metavar="R",
                        help="relative tolerance (default 1e-6)")
    parser.add_argument("--tolerance-atol", type=float, dest="atol", metavar="A",
                        help="absolute tolerance (default 1e-9)")
    parser.add_argument("--sigfig", type=int, metavar="N",
                        help="accept N significant figures, as PrairieLearn does (instead of "
                        "rtol/atol)")
    parser.add_argument("--decdig", type=int, metavar="N",
                        help="accept N digits after the decimal point, as PrairieLearn does")
    parser.add_argument("--partial", metavar="CREDITS",
                        help="partial credit per diagnosis: sign_error=0.5,missing_paths=0.25 "
                        "or a JSON file of them (default 0)")
    if points:
        parser.add_argument("--points", metavar="POINTS",
                            help="points per asked name: W1=2,W7=1 or a JSON file of them "
                            "(default 1 each)")


def tolerance_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The tolerance the flags give (checked by the grader), or None when none was given."""
    given = {key: value for key in ("rtol", "atol", "sigfig", "decdig")
             if (value := getattr(args, key, None)) is not None}
    return given or None


def partial_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--partial``: ``name=credit`` pairs or a JSON file."""
    return _pairs(args.partial, "--partial")


def points_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--points``: ``name=points`` pairs or a JSON file (an object name -> points)."""
    return _pairs(getattr(args, "points", None), "--points")


def _pairs(text: str | None, flag: str) -> dict[str, Any] | None:
    if text is None:
        return None
    if text.lower().endswith(".json"):
        document = read_json(Path(text))
        if not isinstance(document, dict):
            raise InputError(f"{flag} {text}: expected a JSON object of name -> number")
        return document
    pairs: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        name, sep, value = part.partition("=")
        try:
            pairs[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise InputError(f"{flag}: expected name=number pairs such as W1=2,W7=1 (or a "
                             f"JSON file), got {part!r}")
    return pairs
