"""A batch of 10,000 distinct seed-shaped networks end to end vs ``analyze_many`` in-process.

End to end: ``POST /v1/batches`` (NDJSON) to the last line of
``GET /v1/batches/{id}/results`` read over HTTP, against a real ``pathgrad serve``
(waitress, the default worker pool of one process per core, embedded Redis in a
temporary home). In-process: ``analyze_many`` on the same networks, in the same run.
Each side is the best of ``--repeat`` runs (every run is reported), each end-to-end
run on fresh networks (nothing cached), after a warm-up batch of the same size. The
client reads every line without parsing it (the lines of the first run are checked
against ``analyze_many`` afterwards, untimed). The embedded Redis keeps its append-only
file, as ``pathgrad serve`` does: a run that coincides with its rewrite (every few
batches of this size) is slower. Target: end to end within 3x of in-process.

Run: ``.venv/bin/python -m benchmarks.bench_batch [--count 10000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import best_of, report, seed_specs
from worker.engine import analyze_many

__all__ = ["main", "run"]

ROOT = Path(__file__).resolve().parent.parent
COUNT = 10_000
TARGET = 3.0


@contextmanager
def _pathgrad_serve() -> Iterator[int]:
    """Run ``pathgrad serve`` on a free port with a temporary home; yield the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    # A short home: unix socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="pg-") as home:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"PATHGRAD_HOME": home}
        process = subprocess.Popen(
            [sys.executable, "-m", "pathgrad", "serve", "--port", str(port)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            _wait_healthy(port, process)
            yield port
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pathgrad serve exited with code {process.returncode}")
        try:
            status, body = _request(port, "GET", "/v1/health")
            if status == 200 and json.loads(body)["workers"] >= 1:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("pathgrad serve was not healthy within 60 s")


def _request(port: int, method: str, path: str, body: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def end_to_end(port: int, specs: list[dict[str, Any]]) -> tuple[float, list[bytes]]:
    """Submit ``specs`` as one NDJSON batch and read every result line; return (s, lines)."""
    body = b"".join(json.dumps({"network": s}).encode() + b"\n" for s in specs)
    started = time.perf_counter()
    status, answer = _request(port, "POST", "/v1/batches", body, "application/x-ndjson")
    if status != 202:
        raise RuntimeError(f"POST /v1/batches: {status} {answer[:500]!r}")
    batch = json.loads(answer)
    status, data = _request(port, "GET", f"/v1/batches/{batch['id']}/results?timeout=300")
    elapsed = time.perf_counter() - started
    lines = data.splitlines()
    if status != 200 or len(lines) != len(specs):
        raise RuntimeError(f"results: {status}, {len(lines)} of {len(specs)} lines")
    return elapsed, lines


def run(count: int = COUNT, repeat: int = 5) -> dict[str, Any]:
    """Measure both sides, check the lines equal the in-process results, report."""
    specs = seed_specs(count, seed=int(time.time()))
    times, first = [], []
    with _pathgrad_serve() as port:
        end_to_end(port, seed_specs(count, seed=int(time.time()) + repeat))  # warm up
        for attempt in range(repeat):
            fresh = specs if attempt == 0 else seed_specs(count, seed=int(time.time()) - attempt)
            time.sleep(0.5)  # let the previous run's stragglers (Redis, workers) settle
            elapsed, lines = end_to_end(port, fresh)
            times.append(elapsed)
            first = first or lines
    in_process = best_of(lambda: analyze_many(specs), repeat)
    expected = json.loads(json.dumps(analyze_many(specs)))
    results = [json.loads(line) for line in first]
    if [r["index"] for r in results] != list(range(count)) or any(
            r["status"] != "succeeded" or r["result"] != e
            for r, e in zip(results, expected, strict=True)):
        raise RuntimeError("a result line differs from analyze_many's result")
    best = min(times)
    ratio = best / in_process
    return report("batch", {
        "networks": count,
        "end_to_end_s": best,
        "end_to_end_runs_s": [round(t, 3) for t in times],
        "end_to_end_median_s": statistics.median(times),
        "analyze_many_s": in_process,
        "ratio": ratio,
        "median_ratio": statistics.median(times) / in_process,
        "target": f"<= {TARGET:g}x",
        "met": ratio <= TARGET,
        "workers": os.cpu_count(),
    })


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    figures = run(args.count, args.repeat)
    print(f"end to end {figures['end_to_end_s']:.3f} s vs analyze_many "
          f"{figures['analyze_many_s']:.3f} s: ratio {figures['ratio']:.2f} (target <= 3)")
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
