"""`pathgrad exercise`: draw backprop exercises with their answer keys, offline.

Output: the three files of each variant (printed, or one folder per variant with
``--out``), one JSON document, a Moodle XML quiz, or PrairieLearn question folders.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from .coursework import add_credit_arguments, partial_of, points_of, tolerance_of
from .files import InputError

__all__ = ["add_parser", "run"]

_EPILOG = """\
example: pathgrad exercise --layers 2,3,2,1 --activation identity --loss l1 \
--seed 7 --ask W1,W7 --integers -3..3 --count 30 --out exercises/

Without --out, prints each variant's network.json, question.md and answers.json.
With --out DIR, writes DIR/variant-N/{network.json,question.md,answers.json} and
DIR/index.json (the seed of every variant). --format moodle writes a Moodle XML
quiz (--out quiz.xml, else stdout); --format prairielearn writes one PrairieLearn
question folder per variant under --out DIR. Networks are redrawn until every
common slip gives a value of its own (the key's distractors), within the grading
tolerance; --max-draws bounds the draws per variant. The same flags always give the
same exercises. Limits: 2 to 6 layer sizes, each 1 to 10, at most 10,000 paths in
the network and 64 per asked weight; --count at most 500; --integers within -20..20;
--max-draws at most 10,000."""

# "-3..3" starts like an option; let argparse read it as a value (as it does "-3").
_VALUE = re.compile(r"^-\d+(\.\.-?\d+)?$|^-\d*\.\d+$")


def add_parser(commands: Any) -> None:
    """Add the ``exercise`` subcommand."""
    parser = commands.add_parser(
        "exercise", help="draw backprop exercises and their answer keys (no server)",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser._negative_number_matcher = _VALUE
    parser.add_argument("--layers", type=_sizes, required=True,
                        help="layer sizes n0,...,nL, e.g. 2,3,2,1")
    parser.add_argument("--activation", type=_names, default=["identity"],
                        help="identity, relu or leaky_relu; or one per layer, comma-separated")
    parser.add_argument("--loss", choices=("l1", "mse", "half_sse"), default="l1")
    parser.add_argument("--seed", type=int, default=0, help="0 ... 2**53-1 (default 0)")
    parser.add_argument("--ask", type=_names, default=["W1"],
                        help="weights to ask dLoss/dW of, e.g. W1,W7 (default W1)")
    parser.add_argument("--integers", type=_bounds, default=(-3, 3), metavar="LOW..HIGH",
                        help="range of the weights, inputs and target (default -3..3)")
    parser.add_argument("--fractions", action="store_true",
                        help="also draw halves such as 1/2 and -3/2")
    parser.add_argument("--count", type=int, default=1, help="variants, one per student")
    parser.add_argument("--max-draws", type=int, default=1000, metavar="N",
                        help="networks drawn per variant before giving up (default 1000)")
    add_credit_arguments(parser)
    parser.add_argument("--out", type=Path,
                        help="write one folder per variant under DIR (moodle: the quiz file)")
    parser.add_argument("--format", choices=("text", "json", "moodle", "prairielearn"),
                        default="text",
                        help="the three files (text), one JSON document, a Moodle XML quiz or "
                        "PrairieLearn question folders (needs --out DIR)")


def run(args: argparse.Namespace) -> int:
    """Draw the exercises and print or write them; 2 on invalid input."""
    try:
        return _run(args)
    except (ValueError, InputError) as error:  # ValueError: the engine's PathgradError family
        print(f"pathgrad: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from worker.coursework.exercises import exercises

    if args.format == "prairielearn" and args.out is None:
        raise InputError("--format prairielearn: give --out DIR, the folder of the questions")
    activation = args.activation[0] if len(args.activation) == 1 else args.activation
    drawn = exercises(args.count, seed=args.seed, layers=args.layers, activation=activation,
                      loss=args.loss, ask=args.ask, integers=args.integers,
                      fractions=args.fractions, tolerance=tolerance_of(args),
                      partial=partial_of(args), points=points_of(args),
                      max_draws=args.max_draws)
    if args.format in ("moodle", "prairielearn"):
        return _export(args, drawn)
    if args.out is not None:
        return _write(args.out, drawn)
    if args.format == "json":
        print(json.dumps({"exercises": drawn}, indent=2, ensure_ascii=False))
    else:
        print(_text(drawn))
    return 0


def _export(args: argparse.Namespace, drawn: list[dict[str, Any]]) -> int:
    """Write the Moodle quiz or the PrairieLearn folders."""
    from worker.coursework.exports import moodle_xml, prairielearn

    if args.format == "moodle":
        quiz = moodle_xml(drawn)
        if args.out is None:
            sys.stdout.write(quiz)
            return 0
        _save(args.out, quiz)
        questions = sum(len(exercise["answers"]) for exercise in drawn)
        print(f"wrote {questions} Moodle question{'s' if questions > 1 else ''} to {args.out}")
        return 0
    for folder, files in prairielearn(drawn).items():
        for name, content in files.items():
            _save(args.out / folder / name, content)
    print(f"wrote {len(drawn)} PrairieLearn question{'s' if len(drawn) > 1 else ''} under "
          f"{args.out}/")
    return 0


def _save(path: Path, content: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    except OSError as error:
        raise InputError(f"--out {path}: {error.strerror or error}") from None


def _sizes(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 2,3,2,1, got {text!r}") from None


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _bounds(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected LOW..HIGH such as -3..3, got {text!r}")
    return int(match[1]), int(match[2])


def _files(exercise: dict[str, Any]) -> dict[str, str]:
    return {
        "network.json": _network_json(exercise["network"]),
        "question.md": exercise["question"] + "\n",
        "answers.json": json.dumps(exercise["answers"], indent=2, ensure_ascii=False) + "\n",
    }


def _network_json(network: dict[str, Any]) -> str:
    """One field a line, as examples/seed.json is laid out."""
    fields = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in network.items()]
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _folder(index: int, count: int) -> str:
    from worker.coursework.exports import variant_folder

    return variant_folder(index, count)


def _text(drawn: list[dict[str, Any]]) -> str:
    parts = []
    for index, exercise in enumerate(drawn):
        for name, content in _files(exercise).items():
            parts.append(f"==> {_folder(index, len(drawn))}/{name} <==\n{content}")
    return "\n".join(parts).rstrip("\n")


def _write(out: Path, drawn: list[dict[str, Any]]) -> int:
    index = [{"variant": _folder(i, len(drawn)), "seed": ex["seed"]}
             for i, ex in enumerate(drawn)]
    try:
        for entry, exercise in zip(index, drawn, strict=True):
            folder = out / entry["variant"]
            folder.mkdir(parents=True, exist_ok=True)
            for name, content in _files(exercise).items():
                (folder / name).write_text(content, encoding="utf-8")
        (out / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        print(f"pathgrad: error: --out {out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"wrote {len(drawn)} exercise{'s' if len(drawn) > 1 else ''} under {out}/")
    return 0
