"""The `pathgrad` command line: analyse locally, serve the API, run a worker."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .cli_input import InputError, read_json

__all__ = ["FEATURE_COMMANDS", "build_parser", "main"]

_DESCRIPTION = "Explain and check neural-network gradients: explicit path sums and backprop."

# Subcommands that live beside their feature: each module defines
# ``add_parser(commands) -> None`` and ``run(args: argparse.Namespace) -> int``.
FEATURE_COMMANDS: dict[str, str] = {
    "grade": "service.cli_grade",
    "exercise": "service.cli_exercise",
    "submit": "service.cli_client",
    "batch": "service.cli_client",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, as every pathgrad error is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand (of feature command ``only`` alone)."""
    parser = _Parser(prog="pathgrad", description=_DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_analyze(commands)
    serve = commands.add_parser("serve", help="run API, worker and embedded Redis on one machine")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=None,
                       help="worker processes (default: one per core)")
    api = commands.add_parser("api", help="run the HTTP API alone, for REDIS_URL")
    api.add_argument("--host", default="127.0.0.1", help="address to listen on")
    api.add_argument("--port", type=_port, default=8000, help="port to listen on")
    api.add_argument("--threads", type=_count, default=None,
                     help="request threads (a waiting request holds one; default 32)")
    worker = commands.add_parser("worker", help="run one Celery worker for REDIS_URL")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="worker processes (default: one per core)")
    worker.add_argument("--loglevel", default="info", help="Celery log level")
    # Importing one feature module, not all, keeps e.g. `pathgrad grade` fast to start.
    wanted = [FEATURE_COMMANDS[only]] if only in FEATURE_COMMANDS else FEATURE_COMMANDS.values()
    for module in dict.fromkeys(wanted):
        importlib.import_module(module).add_parser(commands)
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _add_analyze(commands: Any) -> None:
    analyze = commands.add_parser("analyze", help="analyse a network spec locally (no server)")
    analyze.add_argument("network", type=Path, help="network spec JSON file ('-' for stdin)")
    analyze.add_argument("--format", choices=("table", "json"), default="table")
    analyze.add_argument("--weight", help="one weight to explain, e.g. W1")
    analyze.add_argument("--paths", action="store_true",
                         help="with --weight: list its paths and their contributions")
    analyze.add_argument("--order", choices=("abs_desc", "abs_asc", "index"), default="index",
                         help="with --paths: path order (default index, the seed question's; "
                         "abs_desc lists the largest contributions first)")
    analyze.add_argument("--limit", type=int, default=20, help="with --paths: paths to show")
    analyze.add_argument("--subgradient", choices=("min_norm", "left", "right"))
    analyze.add_argument("--arithmetic", choices=("float", "exact"))
    analyze.add_argument("--finite-difference", action="store_true", default=None,
                         help="add central finite differences as a third witness")
    analyze.add_argument("--no-path-sum", dest="path_sum", action="store_false", default=None,
                         help="skip path enumeration (backprop only, any size)")
    analyze.add_argument("--max-paths", type=int, help="path enumeration limit")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    except BrokenPipeError:
        # The reader went away (`pathgrad analyze ... | head`): stop quietly, and keep
        # the interpreter's final flush of stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str]) -> int:
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(first if first in FEATURE_COMMANDS else None).parse_args(argv)
    if args.command == "serve":
        from service.runner import serve

        return serve(args.host, args.port, args.workers)
    if args.command == "api":
        from service.runner import api

        return api(args.host, args.port, args.threads)
    if args.command == "worker":
        from service.runner import worker

        return worker(args.concurrency, args.loglevel)
    if args.command in FEATURE_COMMANDS:
        code: int = importlib.import_module(FEATURE_COMMANDS[args.command]).run(args)
        return code
    return _run_analyze(args)


def _run_analyze(args: argparse.Namespace) -> int:
    from worker.engine import AgreementError, PathgradError

    try:
        spec = read_json(args.network)
        print(_analyze(args, spec))
    except AgreementError as error:
        if args.format == "json" and error.result is not None:
            print(json.dumps(error.result, indent=2))
        print(f"pathgrad: DISAGREEMENT: {error}", file=sys.stderr)
        return 3
    except (PathgradError, InputError) as error:
        print(f"pathgrad: error: {error}", file=sys.stderr)
        return 2
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    names = ("subgradient", "arithmetic", "finite_difference", "path_sum", "max_paths")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _analyze(args: argparse.Namespace, spec: Any) -> str:
    from service.render import render_analysis, render_paths
    from worker.engine import analyze, formula, path_contributions

    options = _options(args)
    if args.paths and not args.weight:
        raise InputError("--paths needs --weight, e.g. --weight W1 --paths")
    if args.weight and args.paths:
        page = path_contributions(spec, args.weight, order=args.order, limit=args.limit,
                                  **options)
        if args.format == "json":
            return json.dumps(page, indent=2)
        return render_paths(page, _formula_text(formula, spec, args.weight))
    result = analyze(spec, **options)
    if args.format == "json":
        return json.dumps(result, indent=2)
    return render_analysis(result, args.weight, _formula_text(formula, spec, args.weight)
                           if args.weight else None)


def _formula_text(formula: Any, spec: Any, weight: str) -> str:
    from worker.engine import PathLimitError

    try:
        return str(formula(spec, weight)["text"])
    except PathLimitError as error:
        return f"(not shown: {error.message})"


if __name__ == "__main__":
    sys.exit(main())
