"""The `pathgrad` command line: analyse, grade and draw locally; serve; talk to a server.

Each command lives in its own module, which defines ``add_parser(commands)`` and
``run(args) -> int``; only the module of the command given is imported, so an
offline command such as ``pathgrad grade`` starts without Flask, Celery or SymPy.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["COMMANDS", "build_parser", "main"]

_DESCRIPTION = "Explain and check neural-network gradients: explicit path sums and backprop."

#: Every subcommand and the module (under pathgrad.cli) that adds and runs it.
COMMANDS: dict[str, str] = {
    "analyze": "analyze",
    "serve": "serve",
    "api": "serve",
    "worker": "serve",
    "grade": "grade",
    "exercise": "exercise",
    "draw": "draw",
    "import": "convert",
    "autograder": "autograder",
    "submit": "remote",
    "batch": "remote",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, as every pathgrad error is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    """``--version``, read from the package's metadata only when asked for (it is slow)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        import pathgrad

        print(f"pathgrad {pathgrad.__version__}")
        parser.exit(0)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand (of the command ``only`` alone)."""
    parser = _Parser(prog="pathgrad", description=_DESCRIPTION)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print pathgrad's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[only]] if only in COMMANDS else COMMANDS.values()
    for module in dict.fromkeys(modules):
        importlib.import_module(f"{__name__}.{module}").add_parser(commands)
    return parser


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
    args = build_parser(first if first in COMMANDS else None).parse_args(argv)
    code: int = importlib.import_module(f"{__name__}.{COMMANDS[args.command]}").run(args)
    return code
