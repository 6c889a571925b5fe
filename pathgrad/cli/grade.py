"""`pathgrad grade`: grade hand-computed gradients offline, for autograders and CI.

What is graded is what was asked: ``--ask W1,W7`` (or a JSON file of names, such
as an exercise's ``answers.json``), else the names of ``--points``, or an
exercise's own key (``--key answers.json``: what it asked, its points, tolerance
and partial credit, checked against the network); one of them is required.
Answers to other names earn nothing and are reported as ignored.

One answer set (a JSON object) gives one grading in the chosen format. Many
answer sets for the same network (an NDJSON file, one object per line with an
optional ``"id"``, or a JSON list) are graded against one :class:`AnswerKey`, so
the analysis runs once: JSON and Gradescope output is one line per set, JUnit
one ``<testsuite>`` per set. With ``--format gradescope`` a ``.json`` file is one
submission whatever it holds: a student's file cannot turn one results.json
into many.

A submission that cannot be read (missing, not UTF-8, not JSON, not an object)
is graded all the same: every asked name unanswered, with a ``submission_error``
saying what was wrong, so an autograder still shows a score of 0 and why.

Exit status: 0; 1 when a set scores under ``--fail-under`` (a fraction 0..1 of
its maximum score); 2 on bad input of the instructor's (network, options,
tolerance, points, ask, an unreadable NDJSON file): one line on stderr.

Imports neither Flask, Celery nor SymPy: it starts in about a tenth of a second.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from worker.coursework.formats import FORMATS, SUITE, VISIBILITIES, gradescope, junit_suites, render

from .coursework import add_credit_arguments, partial_of, tolerance_of
from .files import InputError, read_json, read_text

if TYPE_CHECKING:
    from worker.coursework.grading import AnswerKey, Tolerance

__all__ = ["Setup", "add_grading_arguments", "add_parser", "read_setup", "run"]

_MANY_SUFFIXES = (".ndjson", ".jsonl")


class _Set(NamedTuple):
    """One answer set as read: its answers, or why they could not be read."""

    id: Any
    answers: dict[str, Any] | None
    error: str | None = None


def add_parser(commands: Any) -> None:
    """Register the ``grade`` subcommand."""
    grade = commands.add_parser(
        "grade", help="grade hand-computed gradients offline (JSON, Gradescope, JUnit)",
        description="Grade answers such as {\"W1\": -2.5, \"W7\": \"3/4\"} against a network's "
        "gradients, with feedback naming the slip (sign, missing paths, missing sigma' or "
        "dLoss/dOut). Only the asked parameters (--ask, or the names of --points) are graded. "
        "--answers may be an NDJSON file of many answer sets (one object per line, optional "
        "\"id\").")
    add_grading_arguments(grade)
    grade.add_argument("--answers", type=Path, required=True,
                       help="answers JSON object, or NDJSON/JSON list of answer sets ('-': stdin)")
    grade.add_argument("--format", choices=FORMATS, default="json")
    grade.add_argument("--name", default=SUITE,
                       help=f"JUnit suite and class name of one answer set (default {SUITE}); "
                       "with many sets, the prefix of each set's class name")
    grade.add_argument("--out", type=Path, help="write here instead of stdout")
    grade.add_argument("--fail-under", type=_fraction, metavar="SCORE",
                       help="exit 1 if a score is under SCORE, a fraction 0..1 of the max score")
    grade.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                       help="Gradescope: when students see the results (default visible)")


def add_grading_arguments(parser: argparse.ArgumentParser) -> None:
    """Add what defines a grading: the network, what is asked, options, tolerance, credit."""
    parser.add_argument("--network", type=Path,
                        help="network spec JSON file (with --key: default the network.json "
                        "beside the key)")
    parser.add_argument("--key", type=Path, metavar="ANSWERS.json",
                        help="an exercise's answer key: grade what it asked, with its points, "
                        "tolerance and partial credit")
    parser.add_argument("--ask", metavar="NAMES",
                        help="the graded parameters: W1,W7, or a JSON file holding a list of "
                        "names or an object keyed by them (an exercise's answers.json); "
                        "required unless --points or --key names them")
    parser.add_argument("--options", type=Path, help="analysis options JSON file")
    parser.add_argument("--subgradient", choices=("min_norm", "left", "right"),
                        help="overrides --options")
    parser.add_argument("--arithmetic", choices=("float", "exact"), help="overrides --options")
    add_credit_arguments(parser, points=False)
    parser.add_argument("--points", type=Path,
                        help="JSON object: asked name -> max points (default 1 each)")


class Setup(NamedTuple):
    """A grading as the flags define it, checked against the network."""

    network: Any
    options: dict[str, Any]
    ask: list[str]
    points: dict[str, float] | None
    tolerance: Tolerance
    partial: dict[str, float]
    key: AnswerKey


def read_setup(args: argparse.Namespace) -> Setup:
    """Read and check the flags of :func:`add_grading_arguments` (InputError, PathgradError)."""
    from worker.coursework.grading import AnswerKey, parse_partial, parse_points, parse_tolerance

    key = _Key.read(args)
    network = read_json(args.network if args.network is not None else key.network)
    options = _options(args)
    tolerance = parse_tolerance(tolerance_of(args) or key.tolerance)
    partial = parse_partial(partial_of(args) if args.partial is not None else key.partial)
    points = parse_points(read_json(args.points)) if args.points else key.points
    ask = _ask(args.ask) if args.ask is not None else key.ask
    if ask is None and points is None:
        raise InputError("--ask: name the graded parameters, e.g. --ask W1,W7 (or give "
                         "--points or --key): only what was asked is graded")
    answer_key = AnswerKey(network, **options)
    key.check(answer_key)
    # Grading no answer checks ask and points against the network, and names the asked set.
    blank = answer_key.grade({}, ask=ask, tolerance=tolerance, points=points, partial=partial)
    asked = [answer["name"] for answer in blank["answers"]]
    return Setup(network, options, asked, points, tolerance, partial, answer_key)


def run(args: argparse.Namespace) -> int:
    """Grade, write the output, and return the exit status."""
    from worker.engine.errors import PathgradError

    try:
        return _run(args)
    except (PathgradError, InputError) as error:
        print(f"pathgrad: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    setup = read_setup(args)
    grader = _Grader(setup.key, setup.ask, setup.tolerance, setup.points, setup.partial)
    sets, many = _answer_sets(args.answers, one=args.format == "gradescope")
    if many:
        return _grade_many(grader, sets, args)
    grading = grader.grade(next(sets))
    _warn([grading], many=False)
    elapsed = time.perf_counter() - started
    text = render(grading, args.format, args.name, timings=grader.timings,
                  seconds=elapsed if args.format == "gradescope" else grader.seconds,
                  visibility=args.visibility)
    _write(args.out, text + ("" if args.format == "junit" else "\n"))
    return 1 if _under(grading, args.fail_under) else 0


class _Key(NamedTuple):
    """What an exercise's answer key (``--key``) says: asked names, points, tolerance, credit."""

    path: Path | None = None
    values: dict[str, Any] | None = None
    ask: list[str] | None = None
    points: dict[str, float] | None = None
    tolerance: dict[str, Any] | None = None
    partial: dict[str, Any] | None = None

    @property
    def network(self) -> Path:
        """The network beside the key (an exercise folder holds both)."""
        if self.path is None:
            raise InputError("--network: give the network spec JSON file (or --key)")
        return self.path.parent / "network.json"

    @classmethod
    def read(cls, args: argparse.Namespace) -> _Key:
        """The key of ``--key``, or an empty one; ``--ask`` and ``--points`` may not join it."""
        if args.key is None:
            return cls()
        for flag, value in (("--ask", args.ask), ("--points", args.points)):
            if value is not None:
                raise InputError(f"{flag}: not with --key, which gives what was asked and its "
                                 "points")
        document = read_json(args.key)
        if not isinstance(document, dict) or not document or not all(
                isinstance(entry, dict) and "value" in entry for entry in document.values()):
            raise InputError(f"--key {args.key}: expected an exercise's answers.json, an object "
                             "of asked weights each with its \"value\"")
        entries: dict[str, dict[str, Any]] = document
        return cls(args.key, {name: entry["value"] for name, entry in entries.items()},
                   list(entries), {name: entry.get("points", 1.0)
                                   for name, entry in entries.items()},
                   cls._shared(args.key, entries, "tolerance"),
                   cls._shared(args.key, entries, "partial"))

    @staticmethod
    def _shared(path: Path, entries: dict[str, dict[str, Any]], field: str) -> Any:
        values = [entry.get(field) for entry in entries.values()]
        if any(value != values[0] for value in values):
            raise InputError(f"--key {path}: expected one {field} for every asked weight")
        return values[0]

    def check(self, key: AnswerKey) -> None:
        """Refuse a key that is not this network's: its values must be the gradients."""
        from worker.coursework.grading import parse_answer

        for name, value in (self.values or {}).items():
            param = key.parameters.locate(name)
            if param is None:
                raise InputError(f"--key {self.path}: {name} is no parameter of this network")
            try:
                stated = parse_answer(value, exact=key.options.exact)
            except ValueError as error:
                raise InputError(f"--key {self.path}: {name}: {error}") from None
            actual = key.rules[0].gradient(param)
            if not (stated == actual if key.options.exact else math.isclose(
                    float(stated), float(actual), rel_tol=1e-9, abs_tol=1e-12)):
                raise InputError(f"--key {self.path}: {name} is {value} in the key but "
                                 f"dLoss/d{name} = {float(actual):g} in this network: give the "
                                 "exercise's own network.json")


class _Grader:
    """One answer key and the asked set: grades read answer sets, readable or not."""

    def __init__(
        self, key: AnswerKey, ask: list[str] | None, tolerance: Tolerance,
        points: dict[str, float] | None, partial: dict[str, float],
    ) -> None:
        self.key, self.ask, self.tolerance, self.points = key, ask, tolerance, points
        self.partial = partial
        # The seconds spent grading each asked name of the last set, and the whole set.
        self.timings: dict[str, float] = {}
        self.seconds = 0.0
        # Grading no answer checks ask and points against the network before any
        # submission is read, and is what an unreadable submission gets.
        self.blank = self._grade({})

    def grade(self, answer_set: _Set) -> dict[str, Any]:
        """The grading of one set; an unreadable one scores 0 with its ``submission_error``."""
        if answer_set.answers is None:
            return self.unreadable(answer_set.error or "it could not be read")
        return self._grade(answer_set.answers)

    def unreadable(self, error: str) -> dict[str, Any]:
        """Every asked name unanswered, and why."""
        answers = [answer | {"feedback": "No answer: the submission could not be read."}
                   for answer in self.blank["answers"]]
        self.timings, self.seconds = {}, 0.0
        return self.blank | {"answers": answers, "submission_error": error}

    def _grade(self, answers: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        self.timings = {}
        grading = self.key.grade(answers, ask=self.ask, tolerance=self.tolerance,
                                 points=self.points, partial=self.partial,
                                 timings=self.timings)
        self.seconds = time.perf_counter() - started
        return grading


def _grade_many(grader: _Grader, sets: Iterator[_Set], args: argparse.Namespace) -> int:
    """Grade every set; an unreadable set is graded 0 with its reason, like any other."""
    lines: list[str] = []
    suites: list[tuple[str, dict[str, Any]]] = []
    timings: list[dict[str, float]] = []
    labels: set[str] = set()
    gradings: list[dict[str, Any]] = []
    for number, answer_set in enumerate(sets, start=1):
        grading = grader.grade(answer_set)
        gradings.append(grading)
        if args.format == "junit":
            suites.append((_label(answer_set.id, number, labels), grading))
            timings.append(grader.timings)
            continue
        body = (gradescope(grading, execution_time=grader.seconds, visibility=args.visibility)
                if args.format == "gradescope" else grading)
        lines.append(json.dumps({"id": answer_set.id, **body}, ensure_ascii=False))
    if not gradings:  # an empty class file must not pass --fail-under
        grading = grader.unreadable(f"{args.answers.name} holds no answer set")
        gradings.append(grading)
        suites.append(("set 1", grading))
        timings.append({})
        body = (gradescope(grading, execution_time=0.0, visibility=args.visibility)
                if args.format == "gradescope" else grading)
        lines.append(json.dumps({"id": None, **body}, ensure_ascii=False))
    _warn(gradings, many=True)
    _write(args.out, junit_suites(suites, args.name, timings) if args.format == "junit"
           else "".join(line + "\n" for line in lines))
    return 1 if any(_under(grading, args.fail_under) for grading in gradings) else 0


def _label(set_id: Any, number: int, taken: set[str]) -> str:
    """A set's suite name: its id, else "set N"; made unique, as class names must be."""
    label = str(set_id) if set_id is not None else f"set {number}"
    if label in taken:
        label = f"{label} (set {number})"
    taken.add(label)
    return label


def _warn(gradings: list[dict[str, Any]], many: bool) -> None:
    """One line on stderr when submissions could not be read (they are graded 0)."""
    errors = [g["submission_error"] for g in gradings if g.get("submission_error")]
    if not errors:
        return
    what = (f"{len(errors)} of {len(gradings)} answer sets" if many else "the submission")
    print(f"pathgrad: warning: {what} could not be read, graded as unanswered "
          f"({errors[0]}{', ...' if len(errors) > 1 else ''})", file=sys.stderr)


def _ask(value: str | None) -> list[Any] | None:
    """``--ask``: comma-separated names, or a JSON file of them (``.json``)."""
    if value is None:
        return None
    if not value.lower().endswith(".json"):
        return [name.strip() for name in value.split(",") if name.strip()]
    document = read_json(Path(value))
    if isinstance(document, dict):
        return list(document)
    if not isinstance(document, list):
        raise InputError(f"--ask {value}: expected a JSON list of names, or an object keyed "
                         "by them such as an exercise's answers.json")
    return document


# --- reading answer sets -----------------------------------------------------------------


def _answer_sets(path: Path, *, one: bool) -> tuple[Iterator[_Set], bool]:
    """Return the answer sets and whether the file holds many.

    ``one``: a file without an NDJSON suffix is one submission, whatever it holds.
    """
    if path.suffix.lower() in _MANY_SUFFIXES:
        return _lines(read_text(path)), True  # the instructor's file: unreadable is exit 2
    name = "standard input" if str(path) == "-" else path.name
    try:
        text = _submitted_text(path, name)
    except _Unread as error:
        return iter([_Set(None, None, str(error))]), False
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data" and not one:
            return _lines(text), True  # several JSON values: one answer set per line
        why = (f"{name} holds more than one JSON value" if error.msg == "Extra data"
               else f"{name} is not valid JSON ({_where(error)})")
        return iter([_Set(None, None, why)]), False
    except (RecursionError, ValueError) as error:  # nested too deeply; an integer too long
        return iter([_Set(None, None, f"{name} is not valid JSON ({_why(error)})")]), False
    if isinstance(document, list) and not one:
        return (_split(item, f"item {n}") for n, item in enumerate(document, start=1)), True
    return iter([_split(document, name)]), False


def _lines(text: str) -> Iterator[_Set]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            yield _Set(None, None, f"line {number} is not valid JSON ({error.msg} at column "
                       f"{error.colno})")
        except (RecursionError, ValueError) as error:
            yield _Set(None, None, f"line {number} is not valid JSON ({_why(error)})")
        else:
            yield _split(document, f"line {number}")


def _split(document: Any, where: str) -> _Set:
    """Separate the optional id: ``{"id", "answers": {...}}`` or ``{"id", "W1": ...}``."""
    if not isinstance(document, dict):
        return _Set(None, None, f"{where} holds {_kind(document)}, not a JSON object of answers")
    set_id = document.get("id")
    if isinstance(document.get("answers"), dict):
        return _Set(set_id, document["answers"])
    return _Set(set_id, {k: v for k, v in document.items() if k != "id"})


class _Unread(Exception):
    """A submitted file cannot be read; the message says why, for the student."""


def _submitted_text(path: Path, name: str) -> str:
    """A submission's text; a byte order mark (as some editors write) is dropped."""
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except FileNotFoundError:
        raise _Unread(f"{name} is missing: no file of that name was submitted") from None
    except OSError as error:
        raise _Unread(f"{name} cannot be read ({error.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _Unread(f"{name} is not UTF-8 text (byte {error.start} cannot be read)") from None
    if not text.strip():
        raise _Unread(f"{name} is empty")
    return text


def _where(error: json.JSONDecodeError) -> str:
    return f"{error.msg} at line {error.lineno}, column {error.colno}"


def _why(error: Exception) -> str:
    # json raises ValueError, not JSONDecodeError, for an integer over Python's digit limit.
    return "nested too deeply" if isinstance(error, RecursionError) else "a number is too long"


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


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
