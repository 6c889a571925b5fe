"""Fault injection: a pool process killed and Redis restarted mid-run lose no work.

A real ``redis-server`` with its append-only file (started here, restarted here), the
real API on waitress, a real Celery worker with three pool processes. Jobs and a
batch are submitted; while they run, one pool process is SIGKILLed and Redis is
stopped (SIGTERM) and started again on the same data. Every job and every batch line
must then finish, succeed, equal the engine's own analysis, and come once.

Set ``PATHGRAD_FAULT_REPORT=path.json`` to have the run's figures written there
(``benchmarks/bench_recovery.py`` does, for the README).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import waitress
from conftest import descendants, start_worker, stop_worker

from pathgrad.client import APIError, BatchResults, Client, PathgradClientError
from pathgrad.processes.embedded import EmbeddedRedis
from service import create_app
from worker import engine
from worker.keys import PREFIX

pytestmark = pytest.mark.slow

# About 0.8 s of enumeration each (8.9e8 suffix paths): long enough to be running
# when the faults come, short enough for the test to take well under a minute.
HEAVY = [2] + [10] * 8 + [8, 1]
LIGHT = [2, 3, 2, 1]
REDIS_DOWN = 8.0  # seconds between stopping Redis and starting it again


def _network(layers: list[int], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"layers": layers, "activation": "tanh", "loss": "mse",
            "weights": [rng.normal(0.0, 0.5, (m, n)).tolist()
                        for n, m in zip(layers[:-1], layers[1:], strict=True)],
            "input": rng.normal(size=layers[0]).tolist(),
            "target": rng.normal(size=layers[-1]).tolist()}


def _retrying(call: Callable[[], Any], timeout: float = 120.0) -> Any:
    """Call until the server answers (it answers 503 while its Redis is away)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (APIError, PathgradClientError) as exc:
            if isinstance(exc, APIError) and exc.status != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, Client, Any, str]]:
    """Redis with an append-only file, the API on waitress, a worker of three processes."""
    redis_server = EmbeddedRedis(tmp_path / "redis").start()
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    settings = {"QUEUE": queue, "BATCH_CHUNK": 20, "SOFT_TIME_LIMIT": 60,
                "HARD_TIME_LIMIT": 70}
    app = create_app({"REDIS_URL": redis_server.url, **settings})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    env = {f"PATHGRAD_{k}": str(v) for k, v in settings.items()} | {
        "PATHGRAD_SWEEP_INTERVAL": "1", "PATHGRAD_QUEUED_LEASE": "10"}
    worker = start_worker(redis_server.url, queue, env, concurrency=3)
    client = Client(f"http://127.0.0.1:{server.effective_port}", timeout=10)
    try:
        yield redis_server, client, worker, queue
    finally:
        client.close()
        stop_worker(worker)
        server.close()
        redis_server.stop()


def test_a_killed_process_and_a_redis_restart_lose_no_job_and_no_batch_line(
    service: tuple[EmbeddedRedis, Client, Any, str],
) -> None:
    redis_server, client, worker, queue = service
    started = time.monotonic()
    jobs = [_network(HEAVY, seed) for seed in range(9)]
    jobs += [_network(LIGHT, 100 + seed) for seed in range(12)]
    lines = [_network(HEAVY, 200 + seed) for seed in range(4)]
    lines += [_network(LIGHT, 300 + seed) for seed in range(60)]
    lines += lines[-10:]  # duplicates: computed once, every line answered

    ids = [client.submit(network)["id"] for network in jobs]
    batch = client._json("POST", "/v1/batches", json={"jobs": [{"network": n} for n in lines]})

    # Faults, while work runs: SIGKILL one pool process, then restart Redis.
    _until(lambda: sum(client.job(i)["status"] == "running" for i in ids) >= 2)
    pool = sorted(descendants(worker.pid))
    os.kill(pool[0], signal.SIGKILL)
    running = [i for i in ids if client.job(i)["status"] == "running"]
    redis_server.stop()
    time.sleep(REDIS_DOWN)
    redis_server.start()
    back = time.time()

    finished = {i: _retrying(lambda i=i: client.wait(i, timeout=120)) for i in ids}
    got = list(BatchResults(client, [(0, batch)], len(lines)))
    done = time.monotonic()
    # The reference: the engine in this process (afterwards, not to slow the service).
    expected = {k: engine.analyze(n) for k, n in enumerate(jobs)}
    expected_lines = {k: engine.analyze(n) for k, n in enumerate(lines)}

    for k, job_id in enumerate(ids):
        job = finished[job_id]
        assert job["status"] == "succeeded", job
        assert _gradients(job["result"]) == _gradients(expected[k])
    assert [line["index"] for line in got] == list(range(len(lines)))  # each once, in order
    for line in got:
        assert line["status"] == "succeeded", line
        assert _gradients(line["result"]) == _gradients(expected_lines[line["index"]])
    status = _retrying(lambda: client.batch_status(batch["id"]))
    assert (status["succeeded"], status["failed"], status["pending"]) == (len(lines), 0, 0)
    # Nothing is left claimed or leased once everything has finished.
    store = create_app({"REDIS_URL": redis_server.url, "QUEUE": queue}) \
        .extensions["pathgrad_store"]
    redis = store.redis
    assert not redis.zrange(store.leases, 0, -1)
    assert not redis.keys(PREFIX + "inflight:*")

    # Recovery: from Redis back to the last job that was running when it went away.
    stuck = [_seconds(finished[i]["finished_at"]) - back for i in running]
    last = max(_seconds(job["finished_at"]) for job in finished.values())
    _report({"jobs": len(ids), "batch_lines": len(lines), "kills": 1, "redis_restarts": 1,
             "redis_down_seconds": REDIS_DOWN, "lost": 0, "running_at_restart": len(running),
             "recovery_seconds": round(max(stuck, default=0.0), 2),
             "last_job_after_restart_seconds": round(last - back, 2),
             "run_seconds": round(done - started, 2)})


def _until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s")
        time.sleep(0.05)


def _gradients(result: dict[str, Any]) -> list[Any]:
    return [w["gradient"] for w in result["weights"]] + [b["gradient"] for b in result["biases"]]


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _report(figures: dict[str, Any]) -> None:
    path = os.environ.get("PATHGRAD_FAULT_REPORT")
    if path:
        Path(path).write_text(json.dumps(figures, indent=2) + "\n")
