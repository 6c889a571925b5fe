"""API keys: 401 without a valid key, and each key sees only its own jobs and batches."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from conftest import TEST_SETTINGS, unique_seed
from flask import Flask
from flask.testing import FlaskClient

from pathgrad.processes.runner import _announce
from service import create_app

ALICE = {"Authorization": "Bearer key-of-alice"}
BOB = {"Authorization": "Bearer key-of-bob"}


@pytest.fixture
def keyed_app(redis_url: str, queue: str) -> Flask:
    """The app with two API keys, on the test Redis and queue."""
    return create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                       "API_KEYS": "alice:key-of-alice, bob:key-of-bob", **TEST_SETTINGS})


@pytest.fixture
def keyed(keyed_app: Flask, celery_worker: subprocess.Popen[bytes]) -> FlaskClient:
    """A client of the keyed app, with a worker running."""
    return keyed_app.test_client()


def _finished_job(client: FlaskClient, headers: dict[str, str], scale: float) -> dict[str, Any]:
    response = client.post("/v1/jobs?wait=30", json={"network": unique_seed(scale)},
                           headers=headers)
    assert response.status_code == 200, response.get_json()
    job = dict(response.get_json())
    assert job["status"] == "succeeded"
    return job


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "key-of-alice"},
                                     {"Authorization": "Basic a2V5LW9mLWFsaWNl"}],
                         ids=["none", "wrong", "no-scheme", "basic"])
def test_no_key_or_a_wrong_key_is_401_with_a_bearer_challenge(
    keyed_app: Flask, headers: dict[str, str]
) -> None:
    client = keyed_app.test_client()
    for method, path in (("POST", "/v1/jobs"), ("GET", "/v1/jobs/x"), ("POST", "/v1/batches"),
                         ("GET", "/v1/batches/x/results"), ("POST", "/v1/grade")):
        response = client.open(path, method=method, json={}, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = response.get_json()
        assert body["status"] == 401 and "Bearer" in body["detail"]
        assert "key-of" not in response.get_data(as_text=True)  # never echoes a key


def test_health_and_docs_need_no_key(keyed_app: Flask) -> None:
    client = keyed_app.test_client()
    assert client.get("/v1/health").status_code in (200, 503)
    document = client.get("/openapi.json")
    assert document.status_code == 200
    assert document.get_json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert client.get("/docs", follow_redirects=True).status_code == 200


def test_a_key_cannot_see_another_keys_job(keyed: FlaskClient) -> None:
    job = _finished_job(keyed, ALICE, 101.0)
    # Alice's read leaves a copy in the API process: Bob must not be answered from it either.
    assert keyed.get(f"/v1/jobs/{job['id']}", headers=ALICE).get_json() == job
    for path in (f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/weights/W1/paths",
                 f"/v1/jobs/{job['id']}/weights/W1/formula"):
        response = keyed.get(path, headers=BOB)
        assert response.status_code == 404, path
        assert response.get_json()["title"] == "Unknown job"
    assert keyed.get(f"/v1/jobs/{job['id']}/weights/W1/paths", headers=ALICE).status_code == 200


def test_the_result_cache_is_shared_but_job_ids_are_not(keyed: FlaskClient) -> None:
    first = _finished_job(keyed, ALICE, 102.0)
    again = keyed.post("/v1/jobs", json={"network": unique_seed(102.0)}, headers=BOB)
    assert again.status_code == 200 and again.get_json()["cached"] is True
    bobs = again.get_json()
    assert bobs["id"] != first["id"] and bobs["result"] == first["result"]
    assert keyed.get(f"/v1/jobs/{bobs['id']}", headers=ALICE).status_code == 404


def test_a_key_cannot_see_another_keys_batch(keyed: FlaskClient) -> None:
    response = keyed.post("/v1/batches", json={"jobs": [{"network": unique_seed(103.0)}]},
                          headers=ALICE)
    assert response.status_code == 202
    location = response.headers["Location"]
    for path in (location, location + "/results"):
        assert keyed.get(path, headers=BOB).status_code == 404
    deadline = time.monotonic() + 30
    while keyed.get(location, headers=ALICE).get_json()["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = keyed.get(location + "/results", headers=ALICE).get_data(as_text=True).splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["succeeded"]


def test_without_keys_the_service_is_open(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/v1/jobs/unknown").status_code == 404  # not 401
    assert client.get("/v1/batches/unknown").status_code == 404


def test_serve_says_at_start_up_whether_it_needs_keys(capsys: pytest.CaptureFixture[str]) -> None:
    _announce("127.0.0.1", 8000, 2, None, keys=2)
    assert "protected by API keys: 2 key(s)" in capsys.readouterr().out
    _announce("127.0.0.1", 8000, 2, None, keys=0)
    assert "open for local use" in capsys.readouterr().out


def test_a_job_in_flight_for_one_key_is_not_handed_to_another(redis_url: str) -> None:
    # A queue no worker reads: Alice's job stays queued (in flight) for the whole test.
    app = create_app({"REDIS_URL": redis_url, "QUEUE": f"nobody-{time.time_ns()}",
                      "TESTING": True, "API_KEYS": "alice:key-of-alice, bob:key-of-bob"})
    client = app.test_client()
    network = unique_seed(104.0 + time.time() % 1)
    alices = client.post("/v1/jobs", json={"network": network}, headers=ALICE)
    assert alices.status_code == 202
    # Alice submitting again joins her own job...
    again = client.post("/v1/jobs", json={"network": network}, headers=ALICE)
    assert again.get_json()["id"] == alices.get_json()["id"]
    # ...but Bob gets a job of his own, never Alice's id.
    bobs = client.post("/v1/jobs", json={"network": network}, headers=BOB)
    assert bobs.status_code == 202
    bob_id = bobs.get_json()["id"]
    assert bob_id != alices.get_json()["id"]
    assert bobs.headers["Location"] == f"/v1/jobs/{bob_id}"
    assert client.get(f"/v1/jobs/{bob_id}", headers=BOB).get_json()["status"] == "queued"
    assert client.get(f"/v1/jobs/{bob_id}", headers=ALICE).status_code == 404
