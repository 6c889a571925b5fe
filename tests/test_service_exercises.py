"""POST /v1/exercises: drawn by a real worker, cached, validated naming the field."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.models import ExerciseList
from worker.coursework.exercises import exercises
from worker.engine import analyze

# Differs per session, so a shared $REDIS_URL never answers from an earlier run's cache.
_SEED = int(time.time() * 1000) % 10**9


def _post(client: FlaskClient, body: Any) -> Any:
    return client.post("/v1/exercises", json=body)


def test_exercises_are_what_the_engine_draws(client: FlaskClient) -> None:
    body = {"layers": [2, 3, 2, 1], "activation": "identity", "loss": "l1", "seed": _SEED,
            "ask": ["W1", "W7"], "integers": [-3, 3], "fractions": False, "count": 3}
    response = _post(client, body)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    ExerciseList.model_validate(data)
    expected = exercises(3, layers=[2, 3, 2, 1], seed=_SEED, ask=["W1", "W7"])
    assert data == json.loads(json.dumps({"exercises": expected}))
    assert len({json.dumps(e["network"]) for e in data["exercises"]}) == 3
    for variant in data["exercises"]:
        result = analyze(variant["network"], arithmetic="exact")
        by_name = {w["name"]: w["gradient_exact"] for w in result["weights"]}
        for weight in ("W1", "W7"):
            assert Fraction(variant["answers"][weight]["value"]) == Fraction(by_name[weight])
            assert f"What is dLoss/d{weight}?" in variant["question"]


def test_the_same_request_is_answered_from_the_cache(client: FlaskClient) -> None:
    body = {"layers": [2, 2, 1], "activation": "relu", "seed": _SEED + 1, "count": 5,
            "integers": [-2, 2], "fractions": True}
    first = _post(client, body)
    assert first.status_code == 200, first.get_json()
    started = time.perf_counter()
    # The defaults spelled out, and the activation as a list: the same canonical request.
    second = _post(client, body | {"activation": ["relu", "relu"], "loss": "l1", "ask": ["W1"]})
    assert time.perf_counter() - started < 0.5
    assert second.status_code == 200 and second.get_json() == first.get_json()


def test_defaults_draw_one_variant_asking_w1(client: FlaskClient) -> None:
    response = _post(client, {"layers": [1, 2, 1], "seed": _SEED + 2})
    assert response.status_code == 200, response.get_json()
    (variant,) = response.get_json()["exercises"]
    assert list(variant["answers"]) == ["W1"] and variant["seed"] == _SEED + 2
    assert variant["network"]["activation"] == "identity" and variant["network"]["loss"] == "l1"
    assert all(-3 <= v <= 3 for v in variant["network"]["input"])


@pytest.mark.parametrize(("body", "field"), [
    ({"layers": [2]}, "layers"),
    ({"layers": [2, 11]}, "layers[1]"),
    ({"layers": [2, 10, 10, 10, 10]}, "layers"),
    ({"layers": [2, 1], "activation": "tanh"}, "activation"),
    ({"layers": [2, 2, 1], "activation": ["relu"]}, "activation"),
    ({"layers": [2, 1], "loss": "softmax_cross_entropy"}, "loss"),
    ({"layers": [2, 1], "ask": ["W3"]}, "ask[0]"),
    ({"layers": [2, 1], "ask": []}, "ask"),
    ({"layers": [2, 3, 9, 9, 1], "ask": ["W1"]}, "ask[0]"),
    ({"layers": [2, 1], "integers": [3, -3]}, "integers"),
    ({"layers": [2, 1], "integers": [1]}, "integers"),
    ({"layers": [2, 1], "fractions": "yes"}, "fractions"),
    ({"layers": [2, 1], "seed": -1}, "seed"),
    ({"layers": [2, 1], "count": 501}, "count"),
    ({"layers": [2, 1], "count": 0}, "count"),
    ({"layers": [2, 1], "colour": "red"}, "colour"),
    ({"layers": [2, 1], "tolerance": {"sigfig": 3, "atol": 0.1}}, "tolerance.sigfig"),
    ({"layers": [2, 1], "tolerance": {"decdig": 99}}, "tolerance.decdig"),
    ({"layers": [2, 1], "partial": {"sign_error": -1.0}}, "partial.sign_error"),
    ({"layers": [2, 1], "partial": {"typo": 0.5}}, "partial.typo"),
    ({"layers": [2, 2, 1], "ask": ["W1"], "points": {"W2": 1.0}}, "points.W2"),
    ({"layers": [2, 1], "max_draws": 0}, "max_draws"),
    ({"layers": [2, 1], "count": 500, "max_draws": 5000}, "max_draws"),
    ({}, "layers"),
    ([2, 1], "body"),
])
def test_bad_input_is_422_problem_naming_the_field(
    app: Flask, body: Any, field: str
) -> None:
    # Refused before any worker is asked: no worker fixture needed.
    response = _post(app.test_client(), body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]


def test_no_fitting_network_is_422_from_the_worker(client: FlaskClient) -> None:
    # Only 8 networks exist in this range, fewer than the 20 asked for.
    body = {"layers": [1, 1], "loss": "half_sse", "integers": [1, 2], "count": 20,
            "seed": _SEED}
    response = _post(client, body)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["errors"][0]["field"] == "count"
    assert problem["detail"].startswith("count: only")


def test_no_network_telling_the_slips_apart_is_422_naming_the_constraint(
    client: FlaskClient,
) -> None:
    body = {"layers": [2, 4, 4, 4, 1], "activation": "leaky_relu", "loss": "half_sse",
            "ask": ["W1"], "tolerance": {"sigfig": 2}, "max_draws": 20, "seed": 1}
    # Seed 1 is one that fails (as tests/test_distractors.py shows offline).
    response = _post(client, body)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["errors"][0]["field"] == "max_draws"
    assert "cannot tell apart" in problem["detail"] and "of W1" in problem["detail"]


def test_the_key_over_http_carries_distractors_points_and_tolerance(
    client: FlaskClient,
) -> None:
    body = {"layers": [2, 3, 2, 1], "seed": _SEED + 3, "ask": ["W1", "W7"], "count": 2,
            "tolerance": {"decdig": 2}, "partial": {"sign_error": 0.5}, "points": {"W7": 3.0}}
    response = _post(client, body)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    ExerciseList.model_validate(data)
    expected = exercises(2, layers=[2, 3, 2, 1], seed=_SEED + 3, ask=["W1", "W7"],
                         tolerance={"decdig": 2}, partial={"sign_error": 0.5},
                         points={"W7": 3.0})
    assert data == json.loads(json.dumps({"exercises": expected}))
    key = data["exercises"][0]["answers"]
    assert (key["W1"]["points"], key["W7"]["points"]) == (1.0, 3.0)
    assert key["W1"]["tolerance"] == {"decdig": 2}
    # Every asked weight with a nonzero gradient has a sign error, of credit 0.5.
    signs = [d for entry in key.values() for d in entry["distractors"]
             if d["diagnosis"] == "sign_error"]
    assert signs and {d["credit"] for d in signs} == {0.5}
    assert len(signs) == sum(1 for entry in key.values() if entry["value"] != "0")
    assert data["exercises"][0]["draws"] >= 1


def test_malformed_json_is_400(app: Flask) -> None:
    response = app.test_client().post("/v1/exercises", data="{layers",
                                      content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["title"] == "Malformed JSON"


def test_openapi_documents_the_route(app: Flask) -> None:
    document = app.test_client().get("/openapi.json").get_json()
    operation = document["paths"]["/v1/exercises"]["post"]
    assert set(operation["responses"]) == {"200", "400", "413", "422", "503"}
    schemas = document["components"]["schemas"]
    request = schemas["ExerciseRequest"]["properties"]
    assert {"layers", "activation", "loss", "seed", "ask", "integers", "fractions",
            "count", "tolerance", "partial", "points", "max_draws"} == set(request)
    assert request["count"]["maximum"] == 500 and request["max_draws"]["maximum"] == 10_000
    assert set(schemas["ExerciseAnswer"]["properties"]) == {
        "value", "float", "formula", "paths", "contributions", "distractors", "points",
        "tolerance", "partial"}
    assert {"diagnosis", "value", "float", "feedback", "credit", "missing"} == set(
        schemas["ExerciseDistractor"]["properties"])
