"""Every error status of the API, each with its RFC 9457 problem body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SEED, unique_seed
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from service import create_app
from service.models import Problem


def _problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    Problem.model_validate(body)
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return dict(body)


def _with(**changes: Any) -> dict[str, Any]:
    network = json.loads(json.dumps(SEED))
    network.update(changes)
    return network


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    """A client for requests refused before anything is queued (no worker needed)."""
    return app.test_client()


def test_malformed_json_is_400(api: FlaskClient) -> None:
    response = api.post("/v1/jobs", data='{"network": {"layers": [2,',
                        content_type="application/json")
    body = _problem(response, 400)
    assert "JSON" in body["detail"]


def test_body_over_the_limit_is_413(redis_url: str, queue: str) -> None:
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "MAX_BODY": 2000})
    big = {"network": _with(input=[0.5] * 1000)}
    body = _problem(app.test_client().post("/v1/jobs", json=big), 413)
    assert "2000" in body["detail"]


def test_wrong_weight_shape_is_422_naming_the_field(api: FlaskClient) -> None:
    weights = json.loads(json.dumps(SEED["weights"]))
    weights[1] = [[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]]
    body = _problem(api.post("/v1/jobs", json={"network": _with(weights=weights)}), 422)
    assert body["errors"][0]["field"] == "network.weights[1]"
    message = body["errors"][0]["message"]
    assert "expected shape (2, 3)" in message and "(3, 2)" in message


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "network"),
        ({"network": _with(activation="softplus")}, "network.activation"),
        ({"network": _with(loss="hinge")}, "network.loss"),
        ({"network": _with(input=[1.0, True])}, "network.input[1]"),
        ({"network": _with(layers="2,3,2,1")}, "network.layers"),
        ({"network": SEED, "options": {"subgradient": "middle"}}, "options.subgradient"),
        ({"network": SEED, "options": {"max_paths": 0}}, "options.max_paths"),
        ({"network": SEED, "options": {"colour": "red"}}, "options.colour"),
        ({"network": SEED, "extra": 1}, "extra"),
    ],
)
def test_invalid_request_is_422_with_the_field(
    api: FlaskClient, payload: dict[str, Any], field: str
) -> None:
    body = _problem(api.post("/v1/jobs", json=payload), 422)
    assert field in [error["field"] for error in body["errors"]], body


def test_engine_checks_the_raw_numbers(api: FlaskClient) -> None:
    body = _problem(api.post("/v1/jobs", json={"network": _with(input=[1.0, "2"])}), 422)
    assert body["errors"][0]["field"] == "network.input[1]"
    assert "exact" in body["errors"][0]["message"]


def test_non_rational_activation_in_exact_mode_is_422(api: FlaskClient) -> None:
    payload = {"network": _with(activation="tanh"), "options": {"arithmetic": "exact"}}
    body = _problem(api.post("/v1/jobs", json=payload), 422)
    assert body["errors"][0]["field"] == "network.activation"


def test_network_over_the_path_limit_is_422_with_count_and_limit(
    redis_url: str, queue: str
) -> None:
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "MAX_PATHS": 1000})
    network = {
        "layers": [2, 40, 40, 1],
        "weights": [[[0.1] * 2] * 40, [[0.1] * 40] * 40, [[0.1] * 40]],
        "activation": "relu", "input": [1, 2], "target": [1], "loss": "l1",
    }
    body = _problem(app.test_client().post("/v1/jobs", json={"network": network}), 422)
    total = 40 * 40 * 1 + 40 * 1 + 1
    assert body["paths"] == total and body["limit"] == 1000
    assert body["errors"][0]["field"] == "network.layers"
    assert str(total) in body["detail"] and "1000" in body["detail"]


def test_max_paths_above_the_server_limit_is_422(redis_url: str, queue: str) -> None:
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "MAX_PATHS": 1000})
    payload = {"network": SEED, "options": {"max_paths": 10**6}}
    body = _problem(app.test_client().post("/v1/jobs", json=payload), 422)
    assert body["errors"][0]["field"] == "options.max_paths"


def test_bad_wait_is_422(api: FlaskClient) -> None:
    body = _problem(api.post("/v1/jobs?wait=soon", json={"network": SEED}), 422)
    assert body["errors"][0]["field"] == "wait"


def test_unknown_job_is_404(api: FlaskClient) -> None:
    for path in ("/v1/jobs/nope", "/v1/jobs/nope/weights/W1/paths",
                 "/v1/jobs/nope/weights/W1/formula"):
        body = _problem(api.get(path), 404)
        assert "nope" in body["detail"]


def test_unknown_weight_is_404(client: FlaskClient) -> None:
    job = client.post("/v1/jobs?wait=30", json={"network": unique_seed(7.0)}).get_json()
    for route in ("paths", "formula"):
        body = _problem(client.get(f"/v1/jobs/{job['id']}/weights/W15/{route}"), 404)
        assert "W1..W14" in body["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("order=sideways", "order"), ("limit=0", "limit"), ("limit=lots", "limit"),
     ("limit=5000", "limit"), ("cursor=not-a-cursor", "cursor")],
)
def test_bad_paths_query_is_422(client: FlaskClient, query: str, field: str) -> None:
    job = client.post("/v1/jobs?wait=30", json={"network": unique_seed(7.0)}).get_json()
    body = _problem(client.get(f"/v1/jobs/{job['id']}/weights/W1/paths?{query}"), 422)
    assert body["errors"][0]["field"] == field


def test_unknown_route_and_method_are_problems(api: FlaskClient) -> None:
    _problem(api.get("/v2/jobs"), 404)
    body = _problem(api.delete("/v1/jobs"), 405)
    assert "POST" in api.delete("/v1/jobs").headers["Allow"]
    assert body["type"] == "about:blank"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                   max_size=4),
    max_leaves=12,
)
_fields = st.fixed_dictionaries(
    {}, optional={k: _json for k in ("layers", "weights", "biases", "activation", "input",
                                     "target", "loss")}
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(network=_json | _fields, options=_json)
def test_no_client_input_gets_a_5xx(api: FlaskClient, network: Any, options: Any) -> None:
    response = api.post(
        "/v1/jobs", data=json.dumps({"network": network, "options": options}),
        content_type="application/json",
    )
    assert response.status_code < 500, response.get_data(as_text=True)


@pytest.mark.parametrize(("route", "text", "reason"), [
    ("/v1/jobs", "[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ("/v1/grade", '{"answers": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ("/v1/jobs", '{"network": {"input": [' + "7" * 5000 + "]}}", "more than 4300 digits"),
    ("/v1/exercises", '{"seed": ' + "7" * 5000 + "}", "more than 4300 digits"),
], ids=["deep-job", "deep-grade", "long-integer-job", "long-integer-exercise"])
def test_json_the_parser_cannot_hold_is_400_not_500(
    api: FlaskClient, route: str, text: str, reason: str
) -> None:
    body = _problem(api.post(route, data=text, content_type="application/json"), 400)
    assert body["title"] == "Malformed JSON" and reason in body["detail"]


@pytest.mark.parametrize(("options", "field"), [
    ({"rtol": 10**400}, "options.rtol"), ({"atol": 10**400}, "options.atol"),
    ({"arithmetic": "exact", "max_paths": 10**400}, "options.max_paths"),
])
def test_integers_beyond_float64_in_options_are_422(
    api: FlaskClient, options: dict[str, Any], field: str
) -> None:
    response = api.post("/v1/jobs", data=json.dumps({"network": SEED, "options": options}),
                        content_type="application/json")
    body = _problem(response, 422)
    assert field in body["detail"] and len(body["detail"]) < 300


def test_an_absurd_exact_number_is_refused_at_once(api: FlaskClient) -> None:
    network = _with(input=["1e999999999", 1])
    response = api.post("/v1/jobs", json={"network": network, "options": {"arithmetic": "exact"}})
    body = _problem(response, 422)
    assert "network.input[0]" in body["detail"] and "exponent" in body["detail"]


def test_grade_refuses_points_and_tolerances_beyond_float64(api: FlaskClient) -> None:
    for extra, field in (({"points": {"W1": 10**400}}, "points.W1"),
                         ({"points": {"W1": 1e308, "W2": 1e308}}, "points.W1"),
                         ({"tolerance": {"rtol": 10**400}}, "tolerance.rtol")):
        payload = {"network": SEED, "answers": {"W1": 1, "W2": 2}} | extra
        response = api.post("/v1/grade", data=json.dumps(payload),
                            content_type="application/json")
        assert field in _problem(response, 422)["detail"]


def test_an_unknown_id_is_echoed_cut_short(api: FlaskClient) -> None:
    for route in ("/v1/jobs/", "/v1/batches/"):
        body = _problem(api.get(route + "x" * 10_000), 404)
        assert "x" * 61 + "..." in body["detail"] and len(body["detail"]) < 200


LONG_NAME = "W" + "7" * 5000  # int() of it raised inside the handlers: a 500 before


def test_a_weight_name_of_thousands_of_digits_is_404_not_500(client: FlaskClient) -> None:
    job = client.post("/v1/jobs?wait=30", json={"network": unique_seed(311.0)}).get_json()
    for what in ("paths", "formula"):
        body = _problem(client.get(f"/v1/jobs/{job['id']}/weights/{LONG_NAME}/{what}"), 404)
        assert len(body["detail"]) < 300


def test_an_exercise_asking_a_name_of_thousands_of_digits_is_422(api: FlaskClient) -> None:
    body = _problem(api.post("/v1/exercises", json={"layers": [2, 3, 2, 1],
                                                    "ask": [LONG_NAME]}), 422)
    assert body["errors"][0]["field"] == "ask[0]" and len(body["detail"]) < 300


def test_grading_a_name_of_thousands_of_digits_neither_fails_nor_leaks(
    client: FlaskClient,
) -> None:
    response = client.post("/v1/grade", json={"network": SEED, "ask": ["W1"],
                                              "answers": {"W1": 2.31, LONG_NAME: 1}})
    assert response.status_code == 200, response.get_data(as_text=True)
    grading = response.get_json()
    assert grading["score"] == 1.0
    (ignored,) = grading["ignored"]
    assert ignored["reason"] == "no such parameter" and "Exceeds" not in ignored["feedback"]
    body = _problem(client.post("/v1/grade", json={"network": SEED, "ask": [LONG_NAME],
                                                   "answers": {}}), 422)
    assert body["errors"][0]["field"] == "ask[0]"


def test_finite_differences_over_their_limit_are_refused_before_queueing(
    api: FlaskClient,
) -> None:
    # 20,301 parameters: accepted with 202 before, and failed later by the worker.
    layers = [100, 100, 100, 1]
    network = {"layers": layers, "activation": "tanh", "loss": "mse",
               "weights": [[[0.01] * n for _ in range(m)]
                           for n, m in zip(layers[:-1], layers[1:], strict=True)],
               "input": [0.1] * 100, "target": [0.0]}
    for route, extra in (("/v1/jobs", {}), ("/v1/grade", {"answers": {}, "ask": ["W1"]})):
        body = _problem(api.post(route, json={"network": network, **extra,
                                              "options": {"finite_difference": True}}), 422)
        assert body["errors"][0]["field"] == "options.finite_difference"
        assert "20000" in body["detail"] and "20301" in body["detail"]
    batch = api.post("/v1/batches", json={"jobs": [{"network": network, "options":
                                                    {"finite_difference": True}}]}).get_json()
    assert batch["failed"] == 1  # refused at submission, not queued
