"""`pathgrad autograder`: a complete Gradescope autograder zip for one network's questions.

The zip holds what Gradescope's autograder specification asks for
(https://gradescope-autograders.readthedocs.io/en/latest/specs/) at its root:

- ``setup.sh``, run once when Gradescope builds the image: installs pathgrad into its
  own virtual environment, ``$AUTOGRADER_ROOT/pathgrad-venv``, from a
  ``pathgrad-*.whl`` beside it when there is one (``--wheel``), else from PyPI at
  this very version;
- ``run_autograder``, run for every submission: ``pathgrad grade`` of
  ``submission/answers.json`` with what was asked, its points, tolerance, partial
  credit and options baked in, writing ``results/results.json``. It never fails
  the run: a missing, empty or malformed submission is graded 0 with the reason,
  and if pathgrad itself cannot run, a results.json with score 0 says so;
- the network and the grading's JSON files.

``AUTOGRADER_ROOT`` (default ``/autograder``) is the tree both scripts work in, so
the scripts can be run against a copy of that tree anywhere.
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import sys
import zipfile
from pathlib import Path
from typing import Any

from .coursework import VISIBILITIES
from .files import InputError
from .grade import Setup, add_grading_arguments, read_setup

__all__ = ["add_parser", "run", "scripts"]

_EPILOG = """\
example: pathgrad autograder --network net.json --ask W1,W7 --points points.json \
--out autograder.zip
         pathgrad autograder --key exercises/variant-01/answers.json --out autograder.zip

Upload the zip as the assignment's autograder ("Zip file upload"). Students submit
answers.json, e.g. {"W1": -2.5, "W7": "3/4"}. AUTOGRADER_ROOT (default /autograder)
is the tree setup.sh and run_autograder work in."""
# A fixed time for every member: the same flags give the same zip, byte for byte.
_EPOCH = (1980, 1, 1, 0, 0, 0)

_SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. Written by
# `pathgrad autograder`: it installs pathgrad {version} into its own virtual environment,
# from a pathgrad-*.whl beside this script when there is one, else from PyPI.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
VENV="$ROOT/pathgrad-venv"

python_ok() {{ "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }}
PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
        PYTHON="$candidate"
        break
    fi
done
if [ -z "$PYTHON" ]; then
    # pathgrad needs Python 3.11 or newer: older Ubuntu images have it as a package.
    apt-get update && apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
if ! "$PYTHON" -m venv "$VENV"; then
    # Ubuntu's Python has no ensurepip until its -venv package is installed.
    apt-get update && apt-get install -y "$("$PYTHON" -c \\
        'import sys; print(f"python3.{{sys.version_info[1]}}-venv")')"
    "$PYTHON" -m venv --clear "$VENV"
fi
WHEEL="$(find "$SOURCE" -maxdepth 1 -name 'pathgrad-*.whl' | sort | tail -n 1)"
if [ -n "$WHEEL" ]; then
    "$VENV/bin/python" -m pip install "$WHEEL"
else
    "$VENV/bin/python" -m pip install "pathgrad=={version}"
fi
"$VENV/bin/pathgrad" --version
"""

_RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. Written by `pathgrad autograder`: it grades
# submission/answers.json and always leaves results/results.json, so a student sees a
# score and its reason, never "autograder failed"; its exit status is always 0.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"

ANSWERS="$ROOT/submission/answers.json"
if [ ! -e "$ANSWERS" ] && [ -d "$ROOT/submission" ]; then
    # A submission uploaded as a folder or zip: its answers.json wherever it is.
    FOUND="$(find "$ROOT/submission" -name answers.json -type f | sort | head -n 1)"
    if [ -n "$FOUND" ]; then ANSWERS="$FOUND"; fi
fi

if [ -x "$ROOT/pathgrad-venv/bin/pathgrad" ]; then
    PATHGRAD="$ROOT/pathgrad-venv/bin/pathgrad"
else
    PATHGRAD="$(command -v pathgrad || true)"
fi

STATUS=127
if [ -n "$PATHGRAD" ]; then
    "$PATHGRAD" grade --network "$SOURCE/network.json" --answers "$ANSWERS" \\
        --format gradescope --out "$RESULTS" {arguments}
    STATUS=$?
fi

if [ ! -s "$RESULTS" ]; then
    cat > "$RESULTS" <<EOF
{{"score": 0.0,
 "output": "Not graded: pathgrad could not run (exit status $STATUS). Tell your instructor.",
 "output_format": "md", "visibility": "{visibility}", "tests": []}}
EOF
fi
exit 0
"""


def add_parser(commands: Any) -> None:
    """Register the ``autograder`` subcommand."""
    parser = commands.add_parser(
        "autograder", help="write a Gradescope autograder zip (setup.sh, run_autograder)",
        description="Write a complete Gradescope autograder: setup.sh installs pathgrad, "
        "run_autograder grades submission/answers.json with what was asked (--ask, the "
        "names of --points, or an exercise's --key), its points, tolerance and partial "
        "credit, and writes results/results.json.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grading_arguments(parser)
    parser.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                        help="when students see the results (default visible)")
    parser.add_argument("--wheel", type=Path, metavar="PATHGRAD.whl",
                        help="a pathgrad wheel to put in the zip: setup.sh installs it instead "
                        "of pathgrad from PyPI")
    parser.add_argument("--out", type=Path, required=True, metavar="autograder.zip",
                        help="the zip to write")


def run(args: argparse.Namespace) -> int:
    """Check the grading, write the zip, and return the exit status (2 on bad input)."""
    from worker.engine.errors import PathgradError

    try:
        setup = read_setup(args)
        files = scripts(setup, args.visibility, _version())
        if args.wheel is not None:
            files[args.wheel.name] = _wheel(args.wheel)
        _write_zip(args.out, files)
    except (PathgradError, InputError) as error:
        print(f"pathgrad: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(setup.ask)} question{'s' if len(setup.ask) > 1 else ''} "
          f"({', '.join(setup.ask)}), pathgrad "
          f"{'from ' + args.wheel.name if args.wheel else _version() + ' from PyPI'}")
    return 0


def scripts(setup: Setup, visibility: str, version: str) -> dict[str, str | bytes]:
    """The zip's files: the two scripts, the network and the grading's JSON files."""
    files: dict[str, str | bytes] = {"network.json": _json(setup.network)}
    arguments = ["--ask", ",".join(setup.ask)]
    if setup.points is not None:
        files["points.json"] = _json(setup.points)
        arguments += ["--points", "$SOURCE/points.json"]
    if setup.options:
        files["options.json"] = _json(setup.options)
        arguments += ["--options", "$SOURCE/options.json"]
    if setup.partial:
        files["partial.json"] = _json(setup.partial)
        arguments += ["--partial", "$SOURCE/partial.json"]
    flags = {"rtol": "--tolerance-rtol", "atol": "--tolerance-atol", "sigfig": "--sigfig",
             "decdig": "--decdig"}
    for name, value in setup.tolerance.to_dict().items():
        arguments += [flags[name], repr(value)]
    arguments += ["--visibility", visibility]
    files["setup.sh"] = _SETUP.format(version=version)
    files["run_autograder"] = _RUN.format(arguments=" ".join(_quote(a) for a in arguments),
                                          visibility=visibility)
    return files


def _quote(argument: str) -> str:
    """Shell-quote an argument; ``$SOURCE/...`` stays expandable (inside double quotes)."""
    if argument.startswith("$SOURCE/"):
        return f'"{argument}"'
    return shlex.quote(argument)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def _version() -> str:
    import pathgrad

    return str(pathgrad.__version__)


def _wheel(path: Path) -> bytes:
    if not (path.name.startswith("pathgrad-") and path.suffix == ".whl"):
        raise InputError(f"--wheel {path}: expected a pathgrad wheel, pathgrad-<version>-*.whl")
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"--wheel {path}: cannot read: {error.strerror}") from None


def _write_zip(path: Path, files: dict[str, str | bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            member = zipfile.ZipInfo(name, date_time=_EPOCH)
            executable = name in ("setup.sh", "run_autograder")
            member.external_attr = (0o100755 if executable else 0o100644) << 16
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, content)
    try:
        path.write_bytes(buffer.getvalue())
    except OSError as error:
        raise InputError(f"--out {path}: cannot write: {error.strerror}") from None
