"""`pathgrad analyze`: analyse a network locally, with no server."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .files import InputError, add_network_argument, read_network

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``analyze`` subcommand."""
    analyze = commands.add_parser("analyze", help="analyse a network spec locally (no server)")
    add_network_argument(analyze)
    analyze.add_argument("--format", choices=("table", "json"), default="table")
    analyze.add_argument("--weight", help="one weight (W1) or bias (b_H4) to explain")
    analyze.add_argument("--paths", action="store_true",
                         help="list paths and their contributions: the weight's with --weight, "
                         "else the network's input-to-output paths (--through, --output)")
    analyze.add_argument("--through", help="with --paths: the paths through a neuron (H4) "
                         "or a weight (W7)")
    analyze.add_argument("--output", help="with --paths: the paths ending at one output")
    analyze.add_argument("--node", help="a neuron's value, delta and the flow of the paths "
                         "through it, e.g. H4")
    analyze.add_argument("--order", choices=("abs_desc", "abs_asc", "index"), default="index",
                         help="with --paths: path order (default index, the seed question's; "
                         "abs_desc lists the largest contributions first)")
    analyze.add_argument("--limit", type=_limit, default=20,
                         help="with --paths: paths to show (default 20)")
    analyze.add_argument("--subgradient", choices=("min_norm", "left", "right"))
    analyze.add_argument("--arithmetic", choices=("float", "exact"))
    analyze.add_argument("--finite-difference", action="store_true", default=None,
                         help="add central finite differences as a third witness")
    analyze.add_argument("--no-path-sum", dest="path_sum", action="store_false", default=None,
                         help="skip path enumeration (backprop only, any size)")
    analyze.add_argument("--max-paths", type=int, help="path enumeration limit")


def run(args: argparse.Namespace) -> int:
    """Analyse and print; 2 on bad input, 3 when the two methods disagree (a pathgrad bug)."""
    from worker.engine import AgreementError, PathgradError

    try:
        spec = read_network(args)
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
    from worker.engine import analyze, formula, node_flow, path_contributions, top_paths

    from .render import render_analysis, render_flow, render_paths

    options = _options(args)
    if (args.through or args.output) and not args.paths:
        raise InputError("--through and --output go with --paths, e.g. --paths --through H4")
    if args.weight and (args.through or args.output):
        raise InputError("--through and --output list the network's paths: not with --weight")
    if args.node:
        flow = node_flow(spec, args.node, **options)
        return json.dumps(flow, indent=2) if args.format == "json" else render_flow(flow)
    if args.paths and not args.weight:
        network = top_paths(spec, through=args.through, output=args.output, order=args.order,
                            limit=args.limit, **options)
        if args.format == "json":
            return json.dumps(network, indent=2)
        return render_paths(network, None)
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


def _formula_text(formula: Any, spec: Any, weight: str) -> str | None:
    from worker.engine import PathLimitError, SpecError, UnknownWeightError

    try:
        return str(formula(spec, weight)["text"])
    except PathLimitError as error:
        return f"(not shown: {error.message})"
    except SpecError as error:
        if error.field != "input":
            raise
        return "(not shown: a formula is of one sample, and the input is a mini-batch)"
    except UnknownWeightError:
        return None  # a bias: its paths have no formula of their own here


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"expected a number of paths from 1 to 100000, "
                                         f"got {text!r}")
    return int(text)
