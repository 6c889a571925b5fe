"""Submit -> poll -> result over HTTP with a real Redis and a real Celery worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import SEED_JOB, unique_seed
from flask.testing import FlaskClient

from service import create_app
from service.models import Job, JobAccepted
from worker.engine import analyze

Submit = Callable[..., dict[str, Any]]


def _gradients(result: dict[str, Any]) -> dict[str, float]:
    return {w["name"]: w["gradient"] for w in result["weights"]}


def test_seed_job_is_queued_then_polled_to_the_engines_result(client: FlaskClient) -> None:
    body = json.loads(json.dumps(SEED_JOB))
    body["network"]["target"] = [1.0 + 1e-3 * time.time() % 1]  # not cached by an earlier run
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202
    accepted = JobAccepted.model_validate(response.get_json())
    assert response.headers["Location"] == f"/v1/jobs/{accepted.id}"
    assert accepted.status in ("queued", "running", "succeeded")
    deadline = time.monotonic() + 30
    while True:
        job = client.get(response.headers["Location"]).get_json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    Job.model_validate(job)
    assert job["status"] == "succeeded", job
    assert job["cached"] is False
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    assert job["result"] == json.loads(json.dumps(analyze(body["network"])))


def test_wait_returns_the_finished_seed_analysis(submit: Submit) -> None:
    job = submit(unique_seed(1.5))
    expected = analyze(unique_seed(1.5))
    assert job["status"] == "succeeded"
    assert job["result"]["loss"] == pytest.approx(expected["loss"], rel=1e-12)
    np.testing.assert_allclose(
        list(_gradients(job["result"]).values()), list(_gradients(expected).values()),
        rtol=1e-12,
    )
    assert job["result"]["agreement"]["ok"] is True


def _random_network(rng: np.random.Generator) -> dict[str, Any]:
    layers = [int(n) for n in rng.integers(1, 5, size=rng.integers(2, 5))]
    activation = str(rng.choice(["identity", "relu", "leaky_relu", "sigmoid", "tanh"]))
    loss = str(rng.choice(["l1", "mse", "half_sse", "softmax_cross_entropy"]))
    return {
        "layers": layers,
        "weights": [rng.normal(size=(b, a)).round(3).tolist()
                    for a, b in zip(layers[:-1], layers[1:], strict=True)],
        "biases": [rng.normal(size=b).round(3).tolist() for b in layers[1:]],
        "activation": activation,
        "input": rng.normal(size=layers[0]).round(3).tolist(),
        "target": rng.random(size=layers[-1]).round(3).tolist(),
        "loss": loss,
    }


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_networks_give_what_the_engine_gives(submit: Submit, seed: int) -> None:
    network = _random_network(np.random.default_rng(seed + int(time.time())))
    options = {"finite_difference": True}
    job = submit(network, options)
    assert job["status"] == "succeeded", job
    assert job["result"] == json.loads(json.dumps(analyze(network, **options)))


def test_resubmission_with_keys_reordered_and_1_as_1_0_is_answered_from_the_cache(
    client: FlaskClient, submit: Submit
) -> None:
    network = unique_seed(2.0)
    network["biases"] = [[0, 0, 0], [0, 0], [0]]
    first = submit(network, {"subgradient": "right"})
    assert first["status"] == "succeeded" and first["cached"] is False

    reordered = {key: network[key] for key in reversed(list(network))}
    reordered["biases"] = [[0.0, 0.0, 0.0], [0.0, 0.0], [0.0]]
    again = client.post("/v1/jobs", json={"options": {"subgradient": "right"},
                                          "network": reordered})
    # No ?wait and no worker round trip: answered at once, finished.
    assert again.status_code == 200
    job = again.get_json()
    Job.model_validate(job)
    assert job["cached"] is True and job["status"] == "succeeded"
    assert job["id"] != first["id"]
    assert job["result"] == first["result"]
    assert client.get(f"/v1/jobs/{job['id']}").get_json()["cached"] is True


def test_other_options_are_a_different_job(client: FlaskClient, submit: Submit) -> None:
    network = unique_seed(3.0)
    submit(network)
    other = client.post("/v1/jobs", json={"network": network, "options": {"path_sum": False}})
    assert other.status_code == 202


def test_exact_arithmetic_job_gives_exact_strings(submit: Submit) -> None:
    network = unique_seed(1.0)
    network["input"] = ["1", "2"]
    network["weights"][0][0] = ["1/10", "1/5"]
    job = submit(network, {"arithmetic": "exact"})
    assert job["status"] == "succeeded", job
    w1 = job["result"]["weights"][0]
    assert w1["name"] == "W1" and isinstance(w1["gradient_exact"], str)
    assert w1 == json.loads(json.dumps(analyze(network, arithmetic="exact")["weights"][0]))


def test_path_sum_false_runs_a_network_over_the_path_limit(submit: Submit) -> None:
    network = {
        "layers": [2, 40, 40, 40, 1],
        "weights": [np.full((b, a), 0.01).tolist() for a, b in
                    zip([2, 40, 40, 40], [40, 40, 40, 1], strict=True)],
        "activation": "tanh", "input": [1.0, 2.0], "target": [time.time() % 1], "loss": "mse",
    }
    job = submit(network, {"path_sum": False, "max_paths": 1000})
    assert job["status"] == "succeeded", job
    assert len(job["result"]["weights"]) == 2 * 40 + 40 * 40 * 2 + 40


def test_path_counts_beyond_64_bits_come_back_exact(client: FlaskClient, submit: Submit) -> None:
    # 70 layers of 2: 2^69 paths from each first-layer weight, past any 64-bit integer
    # (a fast JSON library would refuse to write it, or read it back as a float).
    layers = [2] + [2] * 70 + [1]
    rng = np.random.default_rng(int(time.time()))
    network = {"layers": layers, "activation": "tanh", "loss": "mse",
               "weights": [rng.uniform(-1, 1, (b, a)).tolist()
                           for a, b in zip(layers[:-1], layers[1:], strict=True)],
               "input": [1.0, 2.0], "target": [0.5]}
    job = submit(network, {"path_sum": False})
    assert job["status"] == "succeeded", job
    expected = json.loads(json.dumps(analyze(network, path_sum=False)))
    assert job["result"]["weights"][0]["paths"] == 2**69 == expected["weights"][0]["paths"]
    again = client.get(f"/v1/jobs/{job['id']}").get_json()
    assert again["result"] == expected


def _read_then_removed_from_redis(
    redis_url: str, queue: str, ttl: float, scale: float
) -> tuple[FlaskClient, str, bytes]:
    """Finish a job, read it once, then delete its record from Redis: (client, id, body)."""
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                      "LOCAL_CACHE_TTL": ttl})
    client = app.test_client()
    job = client.post("/v1/jobs?wait=30", json={"network": unique_seed(scale)}).get_json()
    assert job["status"] == "succeeded", job
    first = client.get(f"/v1/jobs/{job['id']}")
    assert first.status_code == 200
    app.extensions["pathgrad_store"].redis.delete(f"pathgrad:job:{job['id']}")
    return client, job["id"], first.get_data()


def test_a_succeeded_job_read_again_is_answered_by_the_api_process_until_its_ttl(
    redis_url: str, queue: str, celery_worker: object
) -> None:
    client, job_id, first = _read_then_removed_from_redis(redis_url, queue, 0.5, 7.25)
    # The record is gone from Redis: a repeat read within the TTL needs no Redis at all.
    again = client.get(f"/v1/jobs/{job_id}")
    assert again.status_code == 200 and again.get_data() == first
    assert again.get_json()["result"]["weights"][0]["gradient"] == pytest.approx(
        analyze(unique_seed(7.25))["weights"][0]["gradient"], rel=1e-12)
    time.sleep(0.6)
    gone = client.get(f"/v1/jobs/{job_id}")
    assert gone.status_code == 404 and gone.mimetype == "application/problem+json"


def test_with_the_local_cache_off_every_read_goes_to_redis(
    redis_url: str, queue: str, celery_worker: object
) -> None:
    client, job_id, _ = _read_then_removed_from_redis(redis_url, queue, 0, 7.5)
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404


def test_past_the_waiter_bound_a_request_answers_at_once_instead_of_waiting(
    redis_url: str
) -> None:
    # A queue no worker reads: any wait would last its whole timeout.
    app = create_app({"REDIS_URL": redis_url, "QUEUE": f"nobody-{time.time_ns()}",
                      "TESTING": True, "MAX_WAITERS": 1, "COMPUTE_WAIT": 20})
    client = app.test_client()
    with app.extensions["pathgrad_waiters"].slot() as taken:  # the one slot, held
        assert taken
        started = time.monotonic()
        job = client.post("/v1/jobs?wait=20", json={"network": unique_seed(9.5)})
        assert job.status_code == 202 and job.get_json()["status"] == "queued"
        batch = client.post("/v1/batches", json={"jobs": [{"network": unique_seed(9.75)}]})
        stream = client.get(f"/v1/batches/{batch.get_json()['id']}/results?timeout=20")
        assert stream.status_code == 200 and stream.get_data() == b""  # ends early: reopen
        page = client.get(f"/v1/jobs/{job.get_json()['id']}/weights/W1/paths")
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert time.monotonic() - started < 10  # none of them sat out its 20 s
    with app.extensions["pathgrad_waiters"].slot() as taken:
        assert taken  # every slot taken by those requests was given back
