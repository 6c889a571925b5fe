"""Batches over HTTP with a real Redis and a real Celery worker: validation, order, cache."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from conftest import TEST_SETTINGS, unique_seed
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.batches import MIN_SHARE, chunk_size
from service.models import BatchLine, BatchStatus
from worker.engine import analyze

NDJSON = "application/x-ndjson"


def _ndjson(jobs: list[Any]) -> bytes:
    return b"".join(json.dumps(job).encode() + b"\n" for job in jobs)


def _submit(client: FlaskClient, jobs: list[Any], *, ndjson: bool = False) -> dict[str, Any]:
    if ndjson:
        response = client.post("/v1/batches", data=_ndjson(jobs), content_type=NDJSON)
    else:
        response = client.post("/v1/batches", json={"jobs": jobs})
    assert response.status_code == 202, response.get_json()
    batch = response.get_json()
    assert response.headers["Location"] == f"/v1/batches/{batch['id']}"
    BatchStatus.model_validate(batch)
    return dict(batch)


def _results(client: FlaskClient, batch_id: str, query: str = "timeout=60") -> list[dict[str, Any]]:
    response = client.get(f"/v1/batches/{batch_id}/results?{query}")
    assert response.status_code == 200
    assert response.mimetype == NDJSON
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    for line in lines:
        BatchLine.model_validate(line)
    return lines


def _engine(network: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(json.loads(json.dumps(analyze(network, **(options or {})))))


def _single_job_problem(client: FlaskClient, job: Any) -> dict[str, Any]:
    """What POST /v1/jobs answers for the same job (a 4xx problem)."""
    response = client.post("/v1/jobs", data=json.dumps(job), content_type="application/json")
    assert response.status_code in (400, 422), response.get_json()
    return dict(response.get_json())


def _invalid_jobs() -> list[Any]:
    wrong_shape = unique_seed(1.0)
    wrong_shape["weights"][1] = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    unknown_activation = unique_seed(1.0) | {"activation": "softplus"}
    return [
        {"network": wrong_shape},
        {"network": unknown_activation},
        {"network": unique_seed(1.0), "options": {"subgradient": "sideways"}},
        {"network": unique_seed(1.0), "options": {"max_paths": 3}},
        {"options": {}},
        {"network": unique_seed(1.0), "extra": 1},
        [1, 2, 3],
    ]


@pytest.mark.parametrize("ndjson", [False, True], ids=["json", "ndjson"])
def test_invalid_lines_fail_alone_with_the_problem_a_single_job_gets(
    client: FlaskClient, ndjson: bool
) -> None:
    valid = [{"network": unique_seed(10.0 + i)} for i in range(4)]
    invalid = _invalid_jobs()
    jobs = [valid[0], invalid[0], valid[1], *invalid[1:], valid[2], valid[3]]
    batch = _submit(client, jobs, ndjson=ndjson)
    assert batch["total"] == len(jobs)

    lines = _results(client, batch["id"])
    assert [line["index"] for line in lines] == list(range(len(jobs)))
    for job, line in zip(jobs, lines, strict=True):
        if job in valid:
            assert line["status"] == "succeeded", line
            assert line["result"] == _engine(job["network"])
        else:
            assert line["status"] == "failed" and "result" not in line
            assert line["error"] == _single_job_problem(client, job), job
    status = client.get(f"/v1/batches/{batch['id']}").get_json()
    assert status == batch | {"status": "failed", "succeeded": len(valid),
                              "failed": len(invalid), "pending": 0}


def test_an_ndjson_line_that_is_not_json_fails_with_the_malformed_json_problem(
    client: FlaskClient
) -> None:
    network = unique_seed(20.0)
    body = (json.dumps({"network": network}) + "\n{\"network\": [1,\n\n"
            + json.dumps({"network": network}) + "\n").encode()
    batch = client.post("/v1/batches", data=body, content_type=NDJSON).get_json()
    assert batch["total"] == 3  # blank lines are not jobs
    lines = _results(client, batch["id"])
    assert [line["status"] for line in lines] == ["succeeded", "failed", "succeeded"]
    single = client.post("/v1/jobs", data=b'{"network": [1,', content_type="application/json")
    assert single.status_code == 400
    assert lines[1]["error"] == single.get_json()
    assert lines[0]["result"] == lines[2]["result"] == _engine(network)


@pytest.mark.parametrize("odd", ["1,2,3", '{"network": {}},{"network": {}}', "[{}", "{}]"],
                         ids=["numbers", "two-objects", "open-bracket", "close-bracket"])
def test_an_ndjson_line_is_one_job_even_when_it_would_join_its_neighbours(
    client: FlaskClient, odd: str
) -> None:
    # Joined with commas inside [...] these lines would parse, as more or fewer values.
    network = unique_seed(21.0)
    good = json.dumps({"network": network})
    body = "\n".join([good, odd, good, odd, good]).encode()
    batch = client.post("/v1/batches", data=body, content_type=NDJSON).get_json()
    assert batch["total"] == 5
    lines = _results(client, batch["id"])
    assert [line["index"] for line in lines] == [0, 1, 2, 3, 4]
    assert [line["status"] for line in lines] == ["succeeded", "failed"] * 2 + ["succeeded"]
    single = client.post("/v1/jobs", data=odd.encode(), content_type="application/json")
    assert lines[1]["error"] == single.get_json() and single.status_code in (400, 422)


def test_two_broken_ndjson_lines_do_not_combine_into_jobs(client: FlaskClient) -> None:
    good = json.dumps({"network": unique_seed(22.0)})
    # Joined with commas these two would read as one job and one list of jobs.
    body = "\n".join([good, good[:-1] + '},[{"network": 1}', '{"network": 2}]', good])
    batch = client.post("/v1/batches", data=body.encode(), content_type=NDJSON).get_json()
    assert batch["total"] == 4
    statuses = [line["status"] for line in _results(client, batch["id"])]
    assert statuses == ["succeeded", "failed", "failed", "succeeded"]


def test_results_come_in_submission_order_with_per_line_options_and_shapes(
    client: FlaskClient
) -> None:
    small = {"layers": [1, 2, 1], "weights": [[[0.5], [-1.5]], [[2.0, 1.0]]],
             "activation": "relu", "input": [time.time() % 1 + 1], "target": [0.25],
             "loss": "half_sse"}
    exact = unique_seed(1.0) | {"input": ["1/3", "2"]}
    jobs: list[dict[str, Any]] = []
    for i in range(60):
        options = [{}, {"subgradient": "right"}, {"finite_difference": True},
                   {"path_sum": False}][i % 4]
        network = unique_seed(1000.0 + i) if i % 3 else dict(small, target=[i / 7])
        jobs.append({"network": network, "options": options})
    jobs.insert(17, {"network": exact, "options": {"arithmetic": "exact"}})
    batch = _submit(client, jobs, ndjson=True)
    lines = _results(client, batch["id"])
    assert [line["index"] for line in lines] == list(range(len(jobs)))
    for job, line in zip(jobs, lines, strict=True):
        assert line["status"] == "succeeded", line
        assert line["result"] == _engine(job["network"], job["options"])
    assert isinstance(lines[17]["result"]["weights"][0]["gradient_exact"], str)


def test_a_network_the_engine_refuses_fails_only_its_line_with_the_jobs_error(
    client: FlaskClient, submit: Any
) -> None:
    overflow = unique_seed(1.0)
    for matrix in overflow["weights"]:
        matrix[0][0] = 1e300
    fine = [unique_seed(40.0 + i) for i in range(3)]
    batch = _submit(client, [{"network": fine[0]}, {"network": overflow},
                             {"network": fine[1]}, {"network": fine[2]}])
    lines = _results(client, batch["id"])
    assert [line["status"] for line in lines] == ["succeeded", "failed", "succeeded",
                                                  "succeeded"]
    assert [line["result"] for line in lines if "result" in line] == [_engine(n) for n in fine]
    job = submit(overflow)  # the same network as a single job fails in the worker the same way
    assert job["status"] == "failed"
    assert lines[1]["error"] == job["error"]


def test_identical_networks_are_computed_once_and_then_answered_from_the_cache(
    app: Flask, client: FlaskClient
) -> None:
    network = unique_seed(50.0)
    # The same network 50 times, in two key orders: one content hash.
    spellings = [network, {k: network[k] for k in reversed(list(network))}]
    jobs = [{"network": spellings[i % 2]} for i in range(50)]
    batch = _submit(client, jobs)
    assert batch["pending"] == 50
    lines = _results(client, batch["id"])
    assert all(line["result"] == _engine(network) for line in lines)
    redis = app.extensions["pathgrad_store"].redis
    assert redis.hlen(f"pathgrad:batch:{batch['id']}:done") == 1  # one computation

    again = _submit(client, jobs, ndjson=True)
    assert again | {"id": None, "created_at": None} == {
        "id": None, "status": "succeeded", "total": 50, "succeeded": 50, "failed": 0,
        "pending": 0, "created_at": None}
    assert _results(client, again["id"], "timeout=0") == lines
    single = client.post("/v1/jobs", json={"network": network})
    assert single.status_code == 200 and single.get_json()["cached"] is True


def test_small_chunks_count_every_line_once_across_slices(
    redis_url: str, queue: str, client: FlaskClient
) -> None:
    # Chunks (and slices) of 4 jobs: repeats of a network come in later slices, some
    # while the first is being computed, some after; one network is cached already.
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                      "BATCH_CHUNK": 4, **TEST_SETTINGS})
    small = app.test_client()
    networks = [unique_seed(90.0 + i) for i in range(5)]
    cached = _submit(small, [{"network": networks[0]}])
    _results(small, cached["id"])
    order = [0, 1, 2, 1, 3, 0, 4, 2, 2, 1, 0, 3, 4, 4, 1, 3, 0, 2, 1, 4, 3, 0]
    jobs: list[Any] = [{"network": networks[i]} for i in order]
    jobs[5:5] = [{"options": {}}]  # one invalid line among them
    batch = _submit(small, jobs)
    assert (batch["total"], batch["failed"]) == (len(jobs), 1)
    assert batch["succeeded"] == order.count(0)  # the cached network, known at once
    lines = _results(small, batch["id"])
    expected = [_engine(network) for network in networks]
    assert [line.get("result") for line in lines] == [
        None if "network" not in job else expected[networks.index(job["network"])]
        for job in jobs]
    status = small.get(f"/v1/batches/{batch['id']}").get_json()
    assert (status["succeeded"], status["failed"], status["pending"]) == (len(order), 1, 0)
    redis = app.extensions["pathgrad_store"].redis
    assert redis.hlen(f"pathgrad:batch:{batch['id']}:done") == len(networks)


def test_counts_while_running_and_results_from_start(client: FlaskClient) -> None:
    jobs = [{"network": unique_seed(60.0 + i)} for i in range(5)]
    batch = _submit(client, jobs)
    assert batch["status"] == "running" and batch["pending"] == 5
    assert batch["succeeded"] == batch["failed"] == 0
    lines = _results(client, batch["id"])
    tail = _results(client, batch["id"], "start=3")
    assert tail == lines[3:] and [line["index"] for line in tail] == [3, 4]
    status = client.get(f"/v1/batches/{batch['id']}").get_json()
    assert (status["status"], status["succeeded"], status["pending"]) == ("succeeded", 5, 0)
    assert client.get(f"/v1/batches/{batch['id']}/results?start=6").status_code == 422


def test_the_stream_ends_at_the_first_unfinished_line_when_its_timeout_runs_out(
    redis_url: str,
) -> None:
    # A queue no worker listens to: the valid line stays pending.
    app = create_app({"REDIS_URL": redis_url, "QUEUE": f"nobody-{uuid.uuid4().hex[:8]}",
                      "TESTING": True, **TEST_SETTINGS})
    client = app.test_client()
    batch = _submit(client, [{"options": {}}, {"network": unique_seed(70.0)}, {"options": {}}])
    started = time.monotonic()
    lines = _results(client, batch["id"], "timeout=0.3")
    assert 0.25 < time.monotonic() - started < 5
    assert [(line["index"], line["status"]) for line in lines] == [(0, "failed")]
    status = client.get(f"/v1/batches/{batch['id']}").get_json()
    assert (status["status"], status["failed"], status["pending"]) == ("running", 2, 1)


def test_unknown_batch_is_404(app: Flask) -> None:
    client = app.test_client()
    for path in ("/v1/batches/nope", "/v1/batches/nope/results"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["title"] == "Unknown batch"


def test_whole_body_problems(redis_url: str, queue: str) -> None:
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                      "MAX_BATCH_JOBS": 3, "MAX_BATCH_BODY": 5000, "MAX_BODY": 100})
    client = app.test_client()
    job = {"network": unique_seed(80.0)}
    too_many = client.post("/v1/batches", json={"jobs": [job] * 4})
    assert too_many.status_code == 422
    assert too_many.get_json()["errors"] == [{"field": "jobs",
                                              "message": "expected 1 to 3 jobs, got 4"}]
    assert client.post("/v1/batches", json={"jobs": []}).status_code == 422
    assert client.post("/v1/batches", json=[job]).status_code == 422
    assert client.post("/v1/batches", data=b"{", content_type="application/json"
                       ).get_json()["title"] == "Malformed JSON"
    # Over MAX_BODY (single jobs) but within MAX_BATCH_BODY: accepted.
    assert client.post("/v1/batches", json={"jobs": [job]}).status_code == 202
    large = client.post("/v1/batches", data=_ndjson([job] * 20), content_type=NDJSON)
    assert large.status_code == 413
    assert large.get_json()["limit"] == 5000


def test_a_batch_is_cut_into_tasks_every_worker_can_share(app: Flask) -> None:
    with app.app_context():
        assert app.config["BATCH_CHUNK"] == 2000
        assert chunk_size(100_000) == 2000  # capped: 50 tasks
        assert chunk_size(4000) == 1000  # four tasks
        assert chunk_size(10) == MIN_SHARE  # one task: too small to cut
        app.config["BATCH_CHUNK"] = 4
        assert chunk_size(4000) == 4  # the setting always caps it
