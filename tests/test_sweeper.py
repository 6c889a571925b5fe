"""The sweeper: lost work is sent again, waiting work is left alone, and the lost fail."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from conftest import start_worker, stop_worker, unique_seed
from flask import Flask

from service import create_app
from worker import engine
from worker.keys import PREFIX

# Short leases and sweeps, so a lost message is noticed within a second or two.
FAST = {"QUEUED_LEASE": 1, "SWEEP_INTERVAL": 0.3}
FAST_ENV = {f"PATHGRAD_{key}": str(value) for key, value in FAST.items()}


def _app(redis_url: str, queue: str, **config: Any) -> Flask:
    return create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True, **FAST,
                       **config})


def _until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:g} s")


def _messages(app: Flask, queue: str) -> list[str]:
    return [str(m) for m in app.extensions["pathgrad_store"].redis.lrange(queue, 0, -1)]


@pytest.fixture
def queue() -> str:
    return f"sweep-{uuid.uuid4().hex[:8]}"


def test_a_waiting_job_is_left_alone_and_a_lost_one_is_sent_again(
    redis_url: str, queue: str
) -> None:
    app = _app(redis_url, queue)
    client = app.test_client()
    network = unique_seed(301.0)
    job = client.post("/v1/jobs", json={"network": network}).get_json()
    store = app.extensions["pathgrad_store"]
    # A worker that sweeps this queue but consumes another: the job's message waits.
    sweeping = start_worker(redis_url, queue, FAST_ENV, extra=["-Q", f"{queue}-other"])
    try:
        # Its lease runs out every second; the sweeper finds the message and renews it.
        _until(lambda: store.redis.zscore(store.leases, "job:" + job["id"]) > time.time() + 0.3)
        time.sleep(2.5)
        assert len(_messages(app, queue)) == 1
        assert store.job(job["id"])["attempts"] == 1
        # The message is lost: the next sweep sends the job again, as attempt 2.
        store.redis.delete(queue)
        (message,) = _until(lambda: _messages(app, queue))
        assert f'"job:{job["id"]}.2"' in message
        assert store.job(job["id"])["attempts"] == 2
    finally:
        stop_worker(sweeping)
    worker = start_worker(redis_url, queue, FAST_ENV)
    try:
        done = _until(lambda: (found := client.get(f"/v1/jobs/{job['id']}").get_json())
                      ["status"] == "succeeded" and found)
    finally:
        stop_worker(worker)
    expected = engine.analyze(network)
    assert [w["gradient"] for w in done["result"]["weights"]] == \
        [w["gradient"] for w in expected["weights"]]
    assert store.redis.zscore(store.leases, "job:" + job["id"]) is None


def test_work_lost_as_often_as_allowed_fails_saying_so_and_frees_its_network(
    redis_url: str, queue: str
) -> None:
    app = _app(redis_url, queue, MAX_ATTEMPTS=2)
    client = app.test_client()
    network = unique_seed(305.0)
    job = client.post("/v1/jobs", json={"network": network}).get_json()
    store = app.extensions["pathgrad_store"]
    worker = start_worker(redis_url, queue, FAST_ENV | {"PATHGRAD_MAX_ATTEMPTS": "2"},
                          extra=["-Q", f"{queue}-other"])
    try:
        for _ in range(2):  # the first send and the sweeper's one more: both lost
            _until(lambda: _messages(app, queue))
            store.redis.delete(queue)
        failed = _until(lambda: (record := store.job(job["id"]))["status"] == "failed"
                        and record)
    finally:
        stop_worker(worker)
    assert failed["error"]["status"] == 503 and failed["error"]["title"] == "Lost"
    assert "2 times" in failed["error"]["detail"]
    assert "submit it again" in failed["error"]["detail"]
    # The failed job no longer holds its network: submitting it again starts a new job.
    again = client.post("/v1/jobs", json={"network": network}).get_json()
    assert again["id"] != job["id"] and again["status"] == "queued"


def test_a_lost_batch_chunk_is_sent_again_and_every_line_finishes(
    redis_url: str, queue: str
) -> None:
    app = _app(redis_url, queue)
    client = app.test_client()
    networks = [unique_seed(307.0 + k) for k in range(3)]
    body = {"jobs": [{"network": n} for n in networks + networks[:1]]}
    batch = client.post("/v1/batches", json=body).get_json()
    assert batch["pending"] == 4
    app.extensions["pathgrad_store"].redis.delete(queue)  # its chunk's message is lost
    worker = start_worker(redis_url, queue, FAST_ENV)
    try:
        _until(lambda: client.get(f"/v1/batches/{batch['id']}").get_json()["pending"] == 0)
        lines = client.get(f"/v1/batches/{batch['id']}/results?timeout=5") \
            .get_data(as_text=True).splitlines()
    finally:
        stop_worker(worker)
    parsed = [json.loads(line) for line in lines]
    assert [line["index"] for line in parsed] == [0, 1, 2, 3]
    assert all(line["status"] == "succeeded" for line in parsed)
    for line, network in zip(parsed, networks + networks[:1], strict=True):
        expected = engine.analyze(network)
        assert [w["gradient"] for w in line["result"]["weights"]] == \
            [w["gradient"] for w in expected["weights"]]
    assert not app.extensions["pathgrad_store"].redis.keys(
        PREFIX + f"batch:{batch['id']}:task:*")
