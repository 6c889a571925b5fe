"""`pathgrad grade`: grade hand-computed gradients offline, for autograders and CI.

One answer set (a JSON object) gives one grading in the chosen format. Many
answer sets for the same network (an NDJSON file, one object per line with an
optional ``"id"``, or a JSON list) are graded against one :class:`AnswerKey`, so
the analysis runs once: JSON and Gradescope output is one line per set, JUnit
one ``<testsuite>`` per set.

Exit status: 0; 1 when a set scores under ``--fail-under`` (a fraction 0..1 of
its maximum score); 2 on bad input (one line on stderr; with many sets, after
writing every other set's line, each bad set's line holding its ``error``).

Imports neither Flask, Celery nor SymPy: it starts in about a tenth of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_input import InputError, read_json, read_text
from .grade_formats import FORMATS, gradescope, junit_suites, render

if TYPE_CHECKING:
    from worker.engine.grading import AnswerKey, Tolerance

__all__ = ["add_parser", "run"]

_MANY_SUFFIXES = (".ndjson", ".jsonl")


def add_parser(commands: Any) -> None:
    """Register the ``grade`` subcommand."""
    grade = commands.add_parser(
        "grade", help="grade hand-computed gradients offline (JSON, Gradescope, JUnit)",
        description="Grade answers such as {\"W1\": -2.5, \"W7\": \"3/4\"} against a network's "
        "gradients, with feedback naming the slip (sign, missing paths, missing sigma' or "
        "dLoss/dOut). --answers may be an NDJSON file of many answer sets (one object per "
        "line, optional \"id\").")
    grade.add_argument("--network", type=Path, required=True, help="network spec JSON file")
    grade.add_argument("--answers", type=Path, required=True,
                       help="answers JSON object, or NDJSON/JSON list of answer sets ('-': stdin)")
    grade.add_argument("--options", type=Path, help="analysis options JSON file")
    grade.add_argument("--subgradient", choices=("min_norm", "left", "right"),
                       help="overrides --options")
    grade.add_argument("--arithmetic", choices=("float", "exact"), help="overrides --options")
    grade.add_argument("--tolerance-rtol", type=float, dest="rtol",
                       help="relative tolerance (default 1e-6)")
    grade.add_argument("--tolerance-atol", type=float, dest="atol",
                       help="absolute tolerance (default 1e-9)")
    grade.add_argument("--points", type=Path, help="JSON object: name -> max points (default 1)")
    grade.add_argument("--format", choices=FORMATS, default="json")
    grade.add_argument("--out", type=Path, help="write here instead of stdout")
    grade.add_argument("--fail-under", type=_fraction, metavar="SCORE",
                       help="exit 1 if a score is under SCORE, a fraction 0..1 of the max score")


def run(args: argparse.Namespace) -> int:
    """Grade, write the output, and return the exit status."""
    from worker.engine.errors import PathgradError

    try:
        return _run(args)
    except (PathgradError, InputError) as error:
        print(f"pathgrad: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from worker.engine.grading import AnswerKey, parse_points, parse_tolerance

    network = read_json(args.network)
    options = _options(args)
    tolerance = parse_tolerance({k: v for k in ("rtol", "atol")
                                 if (v := getattr(args, k)) is not None})
    points = parse_points(read_json(args.points)) if args.points else None
    sets, many = _answer_sets(args.answers)
    key = AnswerKey(network, **options)
    if many:
        return _grade_many(key, sets, args, tolerance, points)
    grading = key.grade(next(sets)[1], tolerance=tolerance, points=points)
    _write(args.out, render(grading, args.format) + ("" if args.format == "junit" else "\n"))
    return 1 if _under(grading, args.fail_under) else 0


def _grade_many(
    key: AnswerKey, sets: Iterator[tuple[Any, Any]], args: argparse.Namespace,
    tolerance: Tolerance, points: dict[str, float] | None,
) -> int:
    """Grade every set; a bad set gets an error line and, at the end, exit status 2."""
    from worker.engine.errors import PathgradError

    lines: list[str] = []
    suites: list[tuple[str, dict[str, Any]]] = []
    errors: list[str] = []
    failed = False
    for number, (set_id, answers) in enumerate(sets, start=1):
        try:
            if isinstance(answers, InputError):
                raise answers
            grading = key.grade(answers, tolerance=tolerance, points=points)
        except (PathgradError, InputError) as error:
            where = f"set {number}" + (f" (id {set_id!r})" if set_id is not None else "")
            errors.append(f"{where}: {error}")
            if args.format != "junit":
                lines.append(json.dumps({"id": set_id, "set": number, "error": str(error)}))
            continue
        failed = failed or _under(grading, args.fail_under)
        if args.format == "junit":
            suites.append((str(set_id if set_id is not None else f"set {number}"), grading))
            continue
        body = gradescope(grading) if args.format == "gradescope" else grading
        lines.append(json.dumps({"id": set_id, **body}, ensure_ascii=False))
    _write(args.out, junit_suites(suites) if args.format == "junit"
           else "".join(line + "\n" for line in lines))
    if errors:
        more = f" (and {len(errors) - 1} more bad sets)" if len(errors) > 1 else ""
        raise InputError(errors[0] + more)
    return 1 if failed else 0


def _answer_sets(path: Path) -> tuple[Iterator[tuple[Any, Any]], bool]:
    """Return (id, answers) pairs and whether the file holds many sets."""
    text = read_text(path)
    many = path.suffix.lower() in _MANY_SUFFIXES
    if not many:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            if error.msg != "Extra data":
                raise InputError(f"{path}: not valid JSON: {error}") from None
            many = True  # several JSON values: one answer set per line
        else:
            if isinstance(document, list):
                return (_split(item) for item in document), True
            if not isinstance(document, dict):
                raise InputError(f"{path}: expected a JSON object of answers, such as "
                                  "{\"W1\": -2.5}")
            return iter([_split(document)]), False
    return _lines(path, text), True


def _lines(path: Path, text: str) -> Iterator[tuple[Any, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _split(json.loads(line))
        except json.JSONDecodeError as error:
            yield None, InputError(f"{path}:{number}: not valid JSON: {error.msg}")


def _split(document: Any) -> tuple[Any, Any]:
    """Separate the optional id: ``{"id", "answers": {...}}`` or ``{"id", "W1": ...}``."""
    if not isinstance(document, dict):
        return None, document  # reported by the grader as "answers: expected an object"
    set_id = document.get("id")
    if isinstance(document.get("answers"), dict):
        return set_id, document["answers"]
    return set_id, {k: v for k, v in document.items() if k != "id"}


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options = read_json(args.options) if args.options else {}
    if not isinstance(options, dict):
        raise InputError(f"{args.options}: expected a JSON object of options")
    for name in ("subgradient", "arithmetic"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return options


def _under(grading: dict[str, Any], threshold: float | None) -> bool:
    if threshold is None or not grading["max_score"]:
        return False
    return bool(grading["score"] / grading["max_score"] < threshold)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction of the max score from 0 to 1, "
                                         f"got {text!r}")
    return value


def _write(path: Path | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot write: {error.strerror}") from None
