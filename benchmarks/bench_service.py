"""Service benchmarks, each measured against its floor in the same run.

(a) Throughput: 1,000 distinct seed-shaped jobs submitted over HTTP by 8 client
    threads and every result fetched, against the floor: as many no-op Celery tasks
    sent and awaited through the same Redis and the same worker. Target: >= 1/3.
(b) Latency: median of a cached ``GET /v1/jobs/{id}`` against a WSGI route that
    touches nothing, on the same waitress server. Target: within 3x. Reported with
    the API process's copy of finished jobs (the default) and without it (every read
    from Redis).

Run: ``.venv/bin/python -m benchmarks.bench_service [--jobs 1000] [--workers 2]``.
Uses ``REDIS_URL`` when set, else an embedded Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pathgrad.processes.embedded import EmbeddedRedis
from pathgrad.processes.runner import start_worker, stop_worker, wait_for_worker
from service import create_app
from worker import tasks

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent

CLIENTS = 8
FLOOR_PATH = "/__floor"
FLASK_FLOOR_PATH = "/__flask_floor"


def _seed_shaped(rng: np.random.Generator) -> dict[str, Any]:
    layers = [2, 3, 2, 1]
    return {
        "layers": layers,
        "weights": [rng.normal(size=(b, a)).tolist() for a, b in
                    zip(layers[:-1], layers[1:], strict=True)],
        "activation": "identity", "input": [1.0, 2.0], "target": [1.0], "loss": "l1",
    }


def _with_floor(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Wrap the WSGI app with a route that touches nothing: the server's floor."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == FLOOR_PATH:
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", "2")])
            return [b"{}"]
        return app(environ, start_response)

    return wsgi


@contextmanager
def _server(redis_url: str, queue: str, **settings: str) -> Iterator[int]:
    """Run the API on waitress in its own process (as in production): no shared GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = os.environ | {"REDIS_URL": redis_url, "PATHGRAD_QUEUE": queue} | {
        f"PATHGRAD_{name}": value for name, value in settings.items()}
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_service",
                                "--serve", str(port)], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _Client(port).request("GET", FLOOR_PATH)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _serve(port: int) -> int:
    import waitress

    app = create_app()
    app.add_url_rule(FLASK_FLOOR_PATH, "flask_floor", lambda: {})
    # waitress warns of its task queue depth under the 8 clients: expected here.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    waitress.serve(_with_floor(app), host="127.0.0.1", port=port, threads=8, _quiet=True)
    return 0


class _Client:
    """One keep-alive HTTP connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        self.connection.request(method, path, body=data,
                                headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())


def _run_jobs(port: int, networks: list[dict[str, Any]]) -> float:
    """Submit every network, then fetch every result; return the seconds taken."""

    def one_client(share: list[dict[str, Any]]) -> None:
        client = _Client(port)
        ids = []
        for network in share:
            status, body = client.request("POST", "/v1/jobs", {"network": network})
            if status not in (200, 202):
                raise RuntimeError(f"submit failed: {status} {body}")
            ids.append(body["id"])
        for job_id in ids:
            while True:
                status, body = client.request("GET", f"/v1/jobs/{job_id}")
                if body["status"] == "succeeded":
                    break
                if body["status"] == "failed":
                    raise RuntimeError(f"job failed: {body['error']}")
                time.sleep(0.005)

    shares = [networks[i::CLIENTS] for i in range(CLIENTS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one_client, shares))
    return time.perf_counter() - started


def _run_noops(count: int) -> float:
    """Send ``count`` no-op tasks from 8 threads and await each; return the seconds taken."""

    def one_client(n: int) -> None:
        results = [tasks.noop.apply_async() for _ in range(n)]
        for result in results:
            result.get(timeout=60)

    shares = [count // CLIENTS + (i < count % CLIENTS) for i in range(CLIENTS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one_client, shares))
    return time.perf_counter() - started


def _median_latency(port: int, path: str, count: int) -> float:
    client = _Client(port)
    for _ in range(50):
        client.request("GET", path)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        status, _ = client.request("GET", path)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print the figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="worker pool processes")
    parser.add_argument("--requests", type=int, default=2000, help="latency samples")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.serve)
    queue = f"bench-{os.getpid()}"
    with ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(
            EmbeddedRedis(Path(stack.enter_context(tempfile.TemporaryDirectory())))).url
        worker = start_worker(redis_url, args.workers, env={"PATHGRAD_QUEUE": queue},
                              name=queue)
        stack.callback(stop_worker, worker)
        app = create_app({"REDIS_URL": redis_url, "QUEUE": queue})  # the default Celery app
        wait_for_worker(worker, app.extensions["pathgrad_store"], queue)
        port = stack.enter_context(_server(redis_url, queue))

        rng = np.random.default_rng(int(time.time()))
        networks = [_seed_shaped(rng) for _ in range(args.jobs)]
        _run_noops(50)  # warm the worker's pool and connections
        floor = _run_noops(args.jobs)
        jobs = _run_jobs(port, networks)
        job_rate, floor_rate = args.jobs / jobs, args.jobs / floor
        ratio = job_rate / floor_rate
        print(f"(a) {args.jobs} jobs over HTTP, {CLIENTS} clients, {args.workers} worker "
              f"processes: {job_rate:,.0f} jobs/s; floor ({args.jobs} no-op tasks): "
              f"{floor_rate:,.0f} tasks/s; ratio {ratio:.2f} (target >= 0.33)")

        _, job = _Client(port).request("POST", "/v1/jobs", {"network": networks[0]})
        path = f"/v1/jobs/{job['id']}"
        cached = _median_latency(port, path, args.requests)
        bare = _median_latency(port, FLOOR_PATH, args.requests)
        flask_floor = _median_latency(port, FLASK_FLOOR_PATH, args.requests)
        print(f"(b) cached GET /v1/jobs/{{id}}: median {cached * 1e6:,.0f} us; WSGI floor: "
              f"{bare * 1e6:,.0f} us; ratio {cached / bare:.2f} (target <= 3); "
              f"a Flask route returning {{}}: {flask_floor * 1e6:,.0f} us, ratio "
              f"{cached / flask_floor:.2f}")
        # The same read with the API process's copy of finished jobs turned off: every
        # request reads the job and its result from Redis (one round trip).
        redis_port = stack.enter_context(_server(redis_url, queue, LOCAL_CACHE_TTL="0"))
        from_redis = _median_latency(redis_port, path, args.requests)
        redis_bare = _median_latency(redis_port, FLOOR_PATH, args.requests)
        print(f"    the same with PATHGRAD_LOCAL_CACHE_TTL=0 (read from Redis every time): "
              f"median {from_redis * 1e6:,.0f} us; WSGI floor {redis_bare * 1e6:,.0f} us; "
              f"ratio {from_redis / redis_bare:.2f}")
    return 0 if ratio >= 1 / 3 and cached / bare <= 3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
