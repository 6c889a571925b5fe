"""`pathgrad import`: an ONNX model (and its samples) as a network spec."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .files import InputError, read_array

__all__ = ["add_parser", "run"]

_PICKLES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def add_parser(commands: Any) -> None:
    """Add the ``import`` subcommand."""
    command = commands.add_parser(
        "import", help="read an ONNX model (a chain of fully connected layers) into a spec",
        description="Read MODEL.onnx into a network spec (docs/CONTRACT.md section 10); "
        "with --input and --target (both, .npy, .json or .csv; N rows for a mini-batch) "
        "and --loss it is ready for pathgrad analyze.")
    command.add_argument("model", type=Path, help="the .onnx file")
    command.add_argument("--input", type=Path, metavar="X",
                         help="the samples: n0 numbers, or N rows of n0 (.npy, .json, .csv)")
    command.add_argument("--target", type=Path, metavar="Y",
                         help="the targets: nL numbers, or N rows (one-hot rows for "
                         "softmax_cross_entropy)")
    command.add_argument("--loss", help="l1, mse, half_sse or softmax_cross_entropy")
    command.add_argument("--out", type=Path, metavar="NET.json",
                         help="write the spec here (default: standard output)")


def run(args: argparse.Namespace) -> int:
    """Import; 2 on bad input, with one line saying why."""
    from worker.engine import PathgradError, from_onnx

    started = time.perf_counter()
    try:
        if args.model.suffix.lower() in _PICKLES:
            raise InputError(f"{args.model}: a PyTorch (pickle) file, and pathgrad never "
                             "unpickles: export it with torch.onnx.export, or call "
                             "pathgrad.from_torch(module, ...) in Python")
        samples = None if args.input is None else read_array(args.input, "--input")
        targets = None if args.target is None else read_array(args.target, "--target")
        spec = from_onnx(args.model, samples, targets, args.loss)
        text = json.dumps(spec, separators=(",", ":"))
        if args.out is None:
            sys.stdout.write(text + "\n")
        else:
            _write(args.out, text)
    except (PathgradError, InputError) as error:
        print(f"pathgrad: error: {_where(error, args)}", file=sys.stderr)
        return 2
    print(f"pathgrad: {_summary(spec, args, time.perf_counter() - started)}", file=sys.stderr)
    return 0


def _where(error: Exception, args: argparse.Namespace) -> str:
    """The error, its field said as the option it came from (``--input``) or the model."""
    from worker.engine import PathgradError

    if not isinstance(error, PathgradError):
        return str(error)
    root = error.field.split("[", 1)[0].split(".", 1)[0]
    if root in ("input", "target", "loss"):
        return f"--{error}"
    return f"{args.model}: {error.message}" if root == "model" else str(error)


def _summary(spec: dict[str, Any], args: argparse.Namespace, seconds: float) -> str:
    samples = spec.get("input")
    count = "" if samples is None else (
        f", {len(samples)} samples" if samples and isinstance(samples[0], list) else ", 1 sample")
    names = [a if isinstance(a, str) else f"{a['name']}({a['slope']:g})"
             for a in spec["activation"]]
    where = "standard output" if args.out is None else str(args.out)
    missing = "" if {"input", "target", "loss"} <= spec.keys() else (
        "; give --input, --target and --loss to analyse it")
    return (f"read {args.model}: layers {spec['layers']}, activations {', '.join(names)}"
            f"{count} in {seconds:.2f} s; wrote {where}{missing}")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise InputError(f"--out: cannot write {path}: {error.strerror}") from None
