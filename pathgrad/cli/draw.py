"""`pathgrad draw`: the explorer's drawing of a network, offline, as SVG, DOT or PNG."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .files import InputError, add_network_argument, read_network

__all__ = ["CONVERTERS", "add_parser", "run", "to_png"]

_FORMATS = (".svg", ".dot", ".png")


def add_parser(commands: Any) -> None:
    """Add the ``draw`` subcommand."""
    draw = commands.add_parser(
        "draw", help="draw a network (SVG, DOT or PNG), a weight's or a neuron's paths lit")
    add_network_argument(draw)
    which = draw.add_mutually_exclusive_group()
    which.add_argument("--weight", help="highlight the top paths of a weight (W1) or bias "
                       "(b_H4)")
    which.add_argument("--node", help="highlight the top paths through a neuron (H4)")
    draw.add_argument("--out", type=Path,
                      help="FILE.svg, FILE.dot or FILE.png (default: SVG on standard output)")


def run(args: argparse.Namespace) -> int:
    """Draw; 2 on bad input or when no PNG converter is found."""
    from worker.engine import PathgradError

    try:
        _check_out(args.out)
        text = _draw(args, read_network(args))
        if args.out is None:
            sys.stdout.write(text)
        elif args.out.suffix.lower() == ".png":
            used = to_png(text, args.out)
            print(f"pathgrad: wrote {args.out} (converted from SVG by {used})", file=sys.stderr)
        else:
            _write(args.out, text)
    except (PathgradError, InputError) as error:
        print(f"pathgrad: error: {error}", file=sys.stderr)
        return 2
    return 0


def _check_out(out: Path | None) -> None:
    if out is not None and out.suffix.lower() not in _FORMATS:
        raise InputError(f"--out: expected a file name ending in .svg, .dot or .png, got "
                         f"{str(out)!r}")


def _draw(args: argparse.Namespace, spec: Any) -> str:
    from worker.engine import analyze, node_flow, path_contributions, top_paths

    from .. import drawing

    # Backprop alone gives every number the drawing shows, at any size.
    result = analyze(spec, path_sum=False)
    highlight = None
    if args.weight:
        page = path_contributions(spec, args.weight, limit=drawing.DEFAULT_PATHS)
        highlight = drawing.Highlight.of_page("weight", page["weight"], page)
    elif args.node:
        node_flow(spec, args.node)  # checks the name, naming the neurons there are
        through = top_paths(spec, through=args.node, limit=drawing.DEFAULT_PATHS)
        highlight = drawing.Highlight.of_page("node", args.node, through)
    scene = drawing.scene(spec, result)
    suffix = args.out.suffix.lower() if args.out is not None else ".svg"
    return drawing.dot(scene, highlight) if suffix == ".dot" else drawing.svg(scene, highlight)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(f"--out: cannot write {path}: {error.strerror}") from None


# --- PNG ------------------------------------------------------------------------------


def _rsvg(source: Path, out: Path) -> list[str] | None:
    found = shutil.which("rsvg-convert")
    return [found, "--format=png", "--zoom=2", f"--output={out}", str(source)] if found else None


def _inkscape(source: Path, out: Path) -> list[str] | None:
    found = shutil.which("inkscape")
    return [found, str(source), "--export-type=png", f"--export-filename={out}",
            "--export-dpi=192"] if found else None


def _magick(source: Path, out: Path) -> list[str] | None:
    # ImageMagick 7's name only: `convert` is also other programs' name.
    found = shutil.which("magick")
    return [found, "-density", "192", str(source), str(out)] if found else None


def _chromium(source: Path, out: Path) -> list[str] | None:
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                 "google-chrome"))), None)
    if found is None:
        return None
    width, height = _svg_size(source)
    command = [found, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--force-device-scale-factor=2", f"--window-size={width},{height}",
               f"--screenshot={out}", source.as_uri()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses root otherwise; our own SVG
    return command


#: PNG converters, tried in this order: the first one installed is used.
CONVERTERS: dict[str, Callable[[Path, Path], list[str] | None]] = {
    "rsvg-convert": _rsvg, "inkscape": _inkscape, "magick": _magick, "chromium": _chromium,
}


def to_png(svg_text: str, out: Path) -> str:
    """Write ``svg_text`` as a PNG with the first converter installed; return its name."""
    with tempfile.TemporaryDirectory(prefix="pathgrad-draw-") as folder:
        source = Path(folder) / "network.svg"
        source.write_text(svg_text, encoding="utf-8")
        for name, command_of in CONVERTERS.items():
            command = command_of(source, out.resolve())
            if command is None:
                continue
            done = subprocess.run(command, capture_output=True, timeout=120, check=False)
            if done.returncode == 0 and out.exists() and out.stat().st_size > 0:
                return name
            raise InputError(f"--out: {name} could not write {out} (exit status "
                             f"{done.returncode})")
    raise InputError("--out: writing PNG needs one of rsvg-convert (Debian: librsvg2-bin), "
                     "inkscape, ImageMagick 7 (magick) or Chromium; none is installed. "
                     "Write .svg or .dot instead")


def _svg_size(source: Path) -> tuple[int, int]:
    import re

    head = source.read_text(encoding="utf-8")[:2000]
    width = re.search(r'<svg[^>]*\swidth="(\d+)', head)
    height = re.search(r'<svg[^>]*\sheight="(\d+)', head)
    return (int(width[1]) if width else 800), (int(height[1]) if height else 600)
