"""The workers' reliability settings, as configured and as they behave."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
import pytest
from conftest import descendants, start_worker, stop_worker

from service import create_app
from worker.settings import VISIBILITY_MARGIN


def test_reliability_settings(redis_url: str) -> None:
    conf = create_app({"REDIS_URL": redis_url}).extensions["celery"].conf
    assert conf.task_serializer == "json" and conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_connection_retry_on_startup is True
    assert conf.task_soft_time_limit < conf.task_time_limit
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility == conf.task_time_limit + VISIBILITY_MARGIN


def test_time_limits_come_from_the_environment(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATHGRAD_SOFT_TIME_LIMIT", "5")
    monkeypatch.setenv("PATHGRAD_HARD_TIME_LIMIT", "8")
    conf = create_app({"REDIS_URL": redis_url}).extensions["celery"].conf
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (5, 8)
    assert conf.broker_transport_options["visibility_timeout"] == 8 + VISIBILITY_MARGIN


def test_unix_socket_urls_are_spelled_for_kombu(redis_url: str) -> None:
    conf = create_app({"REDIS_URL": "unix:///run/r.sock?db=2"}).extensions["celery"].conf
    assert conf.broker_url == "redis+socket:///run/r.sock?virtual_host=2"


def _slow_network() -> dict[str, Any]:
    # [2, 10 x 10, 1]: about 10^10 suffix paths, several seconds of enumeration even at
    # about a nanosecond a path (10^9 paths take under a second).
    layers = [2] + [10] * 10 + [1]
    rng = np.random.default_rng(int(time.time()))
    weights = [rng.normal(scale=0.3, size=(b, a)).tolist()
               for a, b in zip(layers[:-1], layers[1:], strict=True)]
    return {"layers": layers, "weights": weights, "activation": "tanh",
            "input": [1.0, -1.0], "target": [0.5], "loss": "mse"}


def test_a_job_over_the_soft_time_limit_fails_with_a_clear_error(redis_url: str) -> None:
    queue = f"limits-{time.time_ns()}"
    limits = {"PATHGRAD_SOFT_TIME_LIMIT": "1", "PATHGRAD_HARD_TIME_LIMIT": "3"}
    process = start_worker(redis_url, queue, limits)
    try:
        app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "SOFT_TIME_LIMIT": 1,
                          "HARD_TIME_LIMIT": 3, "MAX_PATHS": 10**11})
        client = app.test_client()
        response = client.post("/v1/jobs?wait=20", json={"network": _slow_network()})
        job = response.get_json()
        assert response.status_code == 200, job
        assert job["status"] == "failed"
        assert job["error"]["title"] == "Time limit exceeded"
        assert "1 s" in job["error"]["detail"]
        # The job is not stuck: an identical submission is queued again, not joined.
        again = client.post("/v1/jobs", json={"network": _slow_network(),
                                              "options": {"path_sum": True}})
        assert again.status_code == 202
    finally:
        stop_worker(process)


def test_a_job_whose_worker_process_dies_is_redelivered_and_finishes(redis_url: str) -> None:
    # acks_late + reject_on_worker_lost: killing the pool process mid-job puts the task
    # back on the queue; the worker's next pool process runs it to the end.
    queue = f"lost-{time.time_ns()}"
    process = start_worker(redis_url, queue)
    try:
        app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "MAX_PATHS": 10**11})
        client = app.test_client()
        layers = [2] + [11] * 9 + [1]  # 2.6 * 10^9 suffix paths: a few seconds
        network = _slow_network() | {"layers": layers, "weights": [
            np.full((b, a), 0.2).tolist() for a, b in zip(layers[:-1], layers[1:], strict=True)]}
        job = client.post("/v1/jobs", json={"network": network}).get_json()
        deadline = time.monotonic() + 30
        while client.get(f"/v1/jobs/{job['id']}").get_json()["status"] != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        (child,) = descendants(process.pid)  # concurrency 1: one pool process, busy with it
        os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while (done := client.get(f"/v1/jobs/{job['id']}").get_json())["status"] not in (
                "succeeded", "failed"):
            assert time.monotonic() < deadline, "the job was not redelivered"
            time.sleep(0.1)
        assert done["status"] == "succeeded", done.get("error")
        assert child not in descendants(process.pid)  # it really ran again, elsewhere
        assert done["result"]["agreement"]["ok"] is True
        assert done["result"]["paths_enumerated"] == sum(
            int(np.prod(layers[l:])) for l in range(1, len(layers)))
    finally:
        stop_worker(process)
