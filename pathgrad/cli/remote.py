"""``pathgrad submit`` and ``pathgrad batch``: send work to a running pathgrad server.

Exit status: 0 when every job succeeded; 1 when a job failed (``submit``: the job;
``batch``: at least one line, the others are still written); 2 for input that cannot be
read, a request the server refused, or a server that cannot be reached (one line on
stderr); 130 when interrupted. An interrupted ``batch`` says how to read on: the
server batches keep running, and ``--resume ID,...`` reads their lines from where the
output stopped (the lines already in ``--out``, or ``--start N``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from ..client import (
    DEFAULT_URL,
    FINISHED,
    BatchInterrupted,
    BatchResults,
    Client,
    PathgradClientError,
)
from .files import InputError, read_json, read_text

__all__ = ["add_parser", "run"]

_EPILOG = ("The server is --url, else $PATHGRAD_URL, else " + DEFAULT_URL + "; the API key "
           "is --api-key, else $PATHGRAD_API_KEY (prefer the variable: arguments are visible "
           "to other users of the machine). Exit status: 0 all succeeded, 1 a job failed, "
           "2 bad input or the server refused or cannot be reached.")
_OPTION_NAMES = ("subgradient", "arithmetic", "finite_difference", "path_sum", "max_paths")
# Plain progress lines (stderr not a terminal): about one per tenth of the batch.
_PROGRESS_STEPS = 10


def add_parser(commands: Any) -> None:
    """Add the ``submit`` and ``batch`` subcommands."""
    submit = commands.add_parser(
        "submit", help="submit a network to a pathgrad server", epilog=_EPILOG,
        description="Submit a network (or a job {\"network\", \"options\"}) and print the "
                    "job: its result once finished, else its id and status.")
    submit.add_argument("network", type=Path,
                        help="network spec or job JSON file ('-' for stdin)")
    _add_server_arguments(submit)
    submit.add_argument("--wait", type=float, default=0.0, metavar="S",
                        help="wait up to S seconds for the result (default: do not wait)")
    submit.add_argument("--format", choices=("table", "json"), default="table")
    submit.add_argument("--subgradient", choices=("min_norm", "left", "right"))
    submit.add_argument("--arithmetic", choices=("float", "exact"))
    submit.add_argument("--finite-difference", action="store_true", default=None,
                        help="add central finite differences as a third witness")
    submit.add_argument("--no-path-sum", dest="path_sum", action="store_false", default=None,
                        help="skip path enumeration (backprop only, any size)")
    submit.add_argument("--max-paths", type=int, help="path enumeration limit")

    batch = commands.add_parser(
        "batch", help="run many networks on a pathgrad server", epilog=_EPILOG,
        description="Submit every job of FILE and write one result line per job, in the "
                    "order of FILE, as they finish: {\"index\", \"status\", \"result\" | "
                    "\"error\"}. FILE is NDJSON (one job {\"network\", \"options\"} or bare "
                    "network a line; blank lines are skipped) or JSON {\"jobs\": [...]}. "
                    "Progress goes to stderr: a bar on a terminal, else a line per tenth. "
                    "Interrupted (Ctrl-C), it prints how to resume: the server batches run "
                    "on, and --resume reads them from where the output stopped.")
    batch.add_argument("file", type=Path, nargs="?",
                       help="jobs file ('-' for stdin); with --resume, only needed when the "
                       "submission itself was interrupted (its jobs not yet sent are sent)")
    _add_server_arguments(batch)
    batch.add_argument("--out", type=Path, metavar="PATH",
                       help="write the result lines to PATH (default: stdout)")
    batch.add_argument("--chunk", type=int, default=10_000, metavar="N",
                       help="jobs per server batch (default 10000)")
    batch.add_argument("--resume", type=_ids, metavar="BATCH_ID[,...]",
                       help="read on server batches an interrupted run submitted, in order; "
                       "with --out, after the lines already in that file")
    batch.add_argument("--start", type=int, metavar="N",
                       help="with --resume and no --out: the lines already read (default 0)")


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("PATHGRAD_URL") or DEFAULT_URL,
                        help="server base URL (default: $PATHGRAD_URL or %(default)s)")
    parser.add_argument("--api-key", default=os.environ.get("PATHGRAD_API_KEY"),
                        help="API key (default: $PATHGRAD_API_KEY)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="seconds to wait for the server to answer a request")


def run(args: argparse.Namespace) -> int:
    """Run ``submit`` or ``batch``; return the exit status."""
    try:
        with Client(args.url, api_key=args.api_key, timeout=args.timeout) as client:
            if args.command == "submit":
                return _submit(client, args)
            return _batch(client, args)
    except (PathgradClientError, InputError) as error:
        print(f"pathgrad: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pathgrad: interrupted", file=sys.stderr)
        return 130


# --- submit -----------------------------------------------------------------------------


def _submit(client: Client, args: argparse.Namespace) -> int:
    document = read_json(args.network)
    if not isinstance(document, dict):
        raise InputError(f"{args.network}: expected a JSON object (a network or a job)")
    network, options = _job(document)
    options |= {name: getattr(args, name) for name in _OPTION_NAMES
                if getattr(args, name) is not None}
    job = client.submit(network, options, wait=args.wait or None)
    if args.format == "json":
        print(json.dumps(job, indent=2))
    else:
        print(_render_job(job))
    return 1 if job["status"] == "failed" else 0


def _job(document: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    if "network" in document:
        return document["network"], dict(document.get("options") or {})
    return document, {}


def _render_job(job: dict[str, Any]) -> str:
    from .render import render_analysis

    head = f"job {job['id']}: {job['status']}" + (" (cached)" if job.get("cached") else "")
    if job["status"] not in FINISHED:
        return f"{head}\nnot finished yet: submit again with --wait S, or GET /v1/jobs/{job['id']}"
    lines = [head]
    if job["status"] == "failed":
        error = job.get("error") or {}
        lines.append(f"error: {error.get('detail') or error.get('title') or 'unknown'}")
    if job.get("result"):
        lines += ["", render_analysis(job["result"], None, None)]
    return "\n".join(lines)


# --- batch ------------------------------------------------------------------------------


def _batch(client: Client, args: argparse.Namespace) -> int:
    if args.chunk < 1:
        raise InputError(f"--chunk: expected at least 1, got {args.chunk}")
    if args.resume is None and args.file is None:
        raise InputError("FILE: give the jobs file (or --resume BATCH_ID,... to read on "
                         "batches already submitted)")
    if args.start is not None and (args.resume is None or args.out is not None):
        raise InputError("--start: only with --resume and without --out (with --out, the "
                         "lines already in the file say where to read on)")
    jobs = _read_jobs(args.file) if args.file is not None else []
    start = _lines_written(args.out) if args.resume is not None and args.out else (
        args.start or 0)
    counter = _Counter(start)
    results: BatchResults | None = None
    try:
        results = _results(client, args, jobs, start)
        return _write_all(args, results, counter)
    except BatchInterrupted as interrupted:
        _resume_hint(args, (args.resume or []) + interrupted.ids, start, unsent=True)
        return 130
    except KeyboardInterrupt:
        if results is None:
            raise  # before anything was submitted: nothing to resume
        # Every batch is on the server: read on from the lines written.
        _resume_hint(args, results.ids, counter.done, unsent=False)
        return 130


def _write_all(args: argparse.Namespace, results: BatchResults, counter: _Counter) -> int:
    label = _label(results.ids)
    if args.out is None:
        return _write_results(results, label, sys.stdout, counter)
    try:
        with args.out.open("a" if args.resume is not None else "w", encoding="utf-8") as out:
            return _write_results(results, label, out, counter)
    except OSError as error:
        raise InputError(f"{args.out}: cannot write: {error.strerror}") from None


class _Counter:
    """The result lines written so far (those of earlier runs included)."""

    def __init__(self, done: int) -> None:
        self.done = done

    def __repr__(self) -> str:
        return f"_Counter({self.done})"


def _results(
    client: Client, args: argparse.Namespace, jobs: list[dict[str, Any]], start: int
) -> BatchResults:
    """Submit the jobs, or read on the batches of ``--resume`` (sending jobs not yet sent)."""
    if args.resume is None:
        return client.batch(jobs, chunk=args.chunk)
    covered = sum(int(client.batch_status(batch_id)["total"]) for batch_id in args.resume)
    if jobs and len(jobs) < covered:
        raise InputError(f"{args.file}: {len(jobs)} jobs, but the batches of --resume hold "
                         f"{covered}: is it the file they were submitted from?")
    return client.resume(args.resume, start=start, jobs=jobs[covered:], chunk=args.chunk)


def _resume_hint(args: argparse.Namespace, ids: list[str], done: int, *, unsent: bool) -> None:
    """Say how to read on after Ctrl-C: the server batches run on without this client."""
    command = ["pathgrad", "batch"]
    if unsent and args.file is not None:
        command.append(str(args.file))  # the jobs not yet sent are sent on resuming
    if ids:
        command += ["--resume", ",".join(ids)]
    command += ["--out", str(args.out)] if args.out is not None else ["--start", str(done)]
    if args.url != DEFAULT_URL:
        command += ["--url", args.url]
    where = (f"while sending the jobs ({len(ids)} batches sent)" if unsent
             else f"after {done} result lines")
    print(f"pathgrad: interrupted {where}; the server goes on with the batches sent. "
          f"Resume with: {' '.join(command)}", file=sys.stderr)


def _lines_written(path: Path) -> int:
    """The complete lines of an output file (a partial last line is cut off), or 0."""
    try:
        with path.open("rb+") as out:
            data = out.read()
            complete = data.rfind(b"\n") + 1
            if complete < len(data):
                out.truncate(complete)
    except FileNotFoundError:
        return 0
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    return data[:complete].count(b"\n")


def _ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch ids, got {text!r}")
    return ids


def _write_results(
    results: BatchResults, label: str, out: TextIO, counter: _Counter
) -> int:
    """Write each result line as it arrives and report progress; return the exit status."""
    progress = _Progress(label, results.total, sys.stderr, done=results.start)
    try:
        for line in results:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            counter.done += 1
            progress.advance(line["status"] == "failed")
    finally:
        results.close()
        progress.close()
    return 1 if progress.failed else 0


def _label(ids: list[str]) -> str:
    if not ids:
        return "batch (empty)"
    if len(ids) == 1:
        return f"batch {ids[0]}"
    return f"batches {ids[0]}..{ids[-1]} ({len(ids)})"


class _Progress:
    """A tqdm bar when ``stream`` is a terminal, else a plain line every tenth and at the end."""

    def __init__(self, label: str, total: int, stream: IO[str], done: int = 0) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.done, self.failed = done, 0
        self._every = max(1, math.ceil(total / _PROGRESS_STEPS))
        self._bar: Any = None
        if stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, desc=label, unit="job", file=stream,
                             dynamic_ncols=True)
        elif done:
            print(f"{label}: {total} jobs, reading on after {done}", file=stream, flush=True)
        else:
            print(f"{label}: {total} jobs submitted", file=stream, flush=True)

    def __repr__(self) -> str:
        return f"_Progress({self.label!r}, {self.done}/{self.total}, failed={self.failed})"

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self._bar is not None:
            if failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)
            self._bar.update(1)
        elif self.done % self._every == 0 and self.done < self.total:
            self._line()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._line()

    def _line(self) -> None:
        print(f"{self.label}: {self.done}/{self.total} done, {self.failed} failed",
              file=self.stream, flush=True)


def _read_jobs(path: Path) -> list[dict[str, Any]]:
    """Read NDJSON (one job or network a line) or JSON ``{"jobs": [...]}`` / a list."""
    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return list(_ndjson(path, text))
    if isinstance(document, dict) and "jobs" in document:
        document = document["jobs"]
        where = "jobs"
    else:
        where = ""
    if isinstance(document, dict):
        return [document]
    if not isinstance(document, list):
        raise InputError(f"{path}: expected NDJSON or {{\"jobs\": [...]}}, got "
                          f"{type(document).__name__}")
    for number, job in enumerate(document):
        if not isinstance(job, dict):
            raise InputError(f"{path}: {where}[{number}]: expected an object (a job or a "
                              f"network), got {type(job).__name__}")
    return document


def _ndjson(path: Path, text: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            job = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{number}: not valid JSON: {error}") from None
        if not isinstance(job, dict):
            raise InputError(f"{path}:{number}: expected an object (a job or a network), "
                              f"got {type(job).__name__}")
        yield job
