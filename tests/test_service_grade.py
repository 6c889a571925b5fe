"""POST /v1/grade over HTTP with a real worker: gradings, formats, errors and the cache."""

from __future__ import annotations

import copy
import json
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest import SEED
from flask.testing import FlaskClient

from service.models import GradescopeResults, Grading

# A target no earlier run has cached: the expected values do not depend on it (Out > Y).
_TARGET = -(time.time() % 1)

# The seed question's formula: dLoss/dW1 = (W13*W7 + W14*W10) * X1 (Out > Y: dLoss/dOut = 1).
W1 = 1.3 * 0.7 + 1.4 * 1.0
W7 = 1.3 * (0.1 * 1.0 + 0.2 * 2.0)  # W13 * H1


def _network(**changes: Any) -> dict[str, Any]:
    net = copy.deepcopy(SEED)
    net["target"] = [_TARGET]
    net.update(changes)
    return net


def _post(client: FlaskClient, body: dict[str, Any], fmt: str = "json") -> Any:
    return client.post(f"/v1/grade?format={fmt}", json=body)


def test_grading_with_every_field(client: FlaskClient) -> None:
    body = {"network": _network(), "answers": {"W1": W1, "W7": -W7, "W2": "1.82", "W99": 1,
                                               "b_H1": "n/a", "W14": 5},
            "ask": ["W1", "W7", "W2", "b_H1", "W13"],
            "tolerance": {"rtol": 1e-6, "atol": 1e-9}, "points": {"W1": 2, "W13": 1}}
    response = _post(client, body)
    assert response.status_code == 200, response.get_json()
    grading = Grading.model_validate(response.get_json())
    by_name = {a.name: a for a in grading.answers}
    assert list(by_name) == ["W1", "W7", "W2", "b_H1", "W13"]
    assert (grading.score, grading.max_score) == (2, 6)
    assert by_name["W1"].correct and by_name["W1"].expected == pytest.approx(W1)
    assert by_name["W7"].diagnosis == "sign_error"
    assert by_name["W2"].diagnosis == "missing_paths"  # X2 * W7 * W13: the path through H4
    assert "X2\u2192H1\u2192H5\u2192Out (W10\u00b7W14) is missing" in by_name["W2"].feedback
    assert by_name["b_H1"].diagnosis == "unparsable"
    assert by_name["W13"].diagnosis == "unanswered"
    assert [(i.name, i.reason) for i in grading.ignored] == [
        ("W99", "no such parameter"), ("W14", "not asked")]


def test_an_unasked_answer_adds_no_points(client: FlaskClient) -> None:
    gradients = {"W1": W1, "W7": W7}
    body = {"network": _network(), "answers": gradients, "points": {"W1": 2}}
    grading = _post(client, body).get_json()
    assert (grading["score"], grading["max_score"]) == (2, 2)
    assert grading["ignored"][0]["name"] == "W7"
    document = _post(client, {**body, "ask": ["W1"]}, "gradescope").get_json()
    assert "score" not in document  # it would override the tests' total
    assert [(t["name"], t["score"], t["max_score"]) for t in document["tests"]] == [
        ("W1", 2.0, 2.0)]
    assert "W7 was not asked" in document["output"]


def test_exact_answers_over_http(client: FlaskClient) -> None:
    body = {"network": _network(target=["-1/3"]), "options": {"arithmetic": "exact"},
            "answers": {"W1": "231/100", "W7": "0.6500001"}, "ask": ["W1", "W7"]}
    grading = _post(client, body).get_json()
    w1, w7 = grading["answers"]
    assert w1["correct"] and w1["expected_exact"] == "231/100"
    assert not w7["correct"] and w7["diagnosis"] == "inexact"


def test_gradescope_format(client: FlaskClient) -> None:
    body = {"network": _network(), "answers": {"W1": W1, "W7": 0}, "ask": ["W1", "W7", "W13"]}
    response = _post(client, body, "gradescope")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert "score" not in document and sum(t["score"] for t in document["tests"]) == 1
    assert [t["max_score"] for t in document["tests"]] == [1, 1, 1]
    for test in document["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
    assert [t["status"] for t in document["tests"]] == ["passed", "failed", "failed"]


def test_junit_format(client: FlaskClient) -> None:
    body = {"network": _network(), "answers": {"W1": W1, "W7": -W7}, "ask": ["W1", "W7"]}
    response = _post(client, body, "junit")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    suite = ET.fromstring(response.get_data(as_text=True))
    assert (suite.tag, suite.get("tests"), suite.get("failures")) == ("testsuite", "2", "1")
    failure = suite.findall("testcase")[1].find("failure")
    assert failure is not None and "negative of dLoss/dW7" in (failure.get("message") or "")


def test_significant_figures_and_partial_credit_over_http(client: FlaskClient) -> None:
    body = {"network": _network(), "answers": {"W1": round(W1, 2), "W7": -W7},
            "ask": ["W1", "W7"], "tolerance": {"sigfig": 3}, "points": {"W7": 4},
            "partial": {"sign_error": 0.5}}
    grading = _post(client, body).get_json()
    Grading.model_validate(grading)
    assert [(a["diagnosis"], a["points"], a["credit"]) for a in grading["answers"]] == [
        ("correct", 1.0, 1.0), ("sign_error", 2.0, 0.5)]
    assert grading["tolerance"] == {"sigfig": 3} and grading["partial"] == {"sign_error": 0.5}
    looser = _post(client, body | {"tolerance": {"sigfig": 2}, "answers": {"W1": 2.3}})
    assert looser.get_json()["answers"][0]["correct"] is True
    tighter = _post(client, body | {"tolerance": {"sigfig": 4}, "answers": {"W1": 2.30}})
    assert tighter.get_json()["answers"][0]["diagnosis"] == "close"


def test_gradescope_times_visibility_and_junit_times(client: FlaskClient) -> None:
    body = {"network": _network(), "answers": {"W1": W1, "W7": 0}, "ask": ["W1", "W7"]}
    response = client.post("/v1/grade?format=gradescope&visibility=after_due_date", json=body)
    document = response.get_json()
    GradescopeResults.model_validate(document)
    assert 0 < document["execution_time"] < 30 and document["output_format"] == "md"
    assert document["visibility"] == "after_due_date"
    assert {(t["visibility"], t["output_format"]) for t in document["tests"]} == {
        ("after_due_date", "md")}
    suite = ET.fromstring(_post(client, body, "junit").get_data(as_text=True))
    times = [float(c.get("time") or "nan") for c in suite.iter("testcase")]
    assert all(t > 0 for t in times) and float(suite.get("time") or "nan") >= sum(times)
    bad = client.post("/v1/grade?format=gradescope&visibility=sometimes", json=body)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "visibility"


def test_an_identical_request_is_answered_from_the_cache(client: FlaskClient) -> None:
    body = {"network": _network(input=[1.0, 2.0 + abs(_TARGET)]), "answers": {"W1": 1},
            "ask": ["W1"]}
    first = _post(client, body)
    start = time.perf_counter()
    second = _post(client, body)
    assert first.get_json() == second.get_json()
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(("body", "field"), [
    ({"network": SEED, "answers": [1], "ask": ["W1"]}, "answers"),
    ({"network": SEED, "answers": {}, "ask": ["W1"], "tolerance": {"rtol": -1}},
     "tolerance.rtol"),
    ({"network": SEED, "answers": {}, "points": {"W1": -2}}, "points.W1"),
    ({"network": {**SEED, "loss": "hinge"}, "answers": {}, "ask": ["W1"]}, "network.loss"),
    ({"network": SEED, "ask": ["W1"]}, "answers"),
    ({"network": SEED, "answers": {"W1": 1}}, "ask"),
    ({"network": SEED, "answers": {}, "ask": "W1"}, "ask"),
    ({"network": SEED, "answers": {}, "ask": []}, "ask"),
    ({"network": SEED, "answers": {}, "ask": ["W1", 2]}, "ask[1]"),
    ({"network": SEED, "answers": {}, "ask": ["W1", "W99"]}, "ask[1]"),
    ({"network": SEED, "answers": {}, "points": {}}, "points"),
    ({"network": SEED, "answers": {}, "ask": ["W1"], "points": {"b_Out": 1}}, "points.b_Out"),
    ({"network": SEED, "answers": {}, "points": {"W77": 1}}, "points.W77"),
    ({"network": SEED, "answers": {}, "ask": ["W1"], "tolerance": {"sigfig": 3, "rtol": 0.1}},
     "tolerance.sigfig"),
    ({"network": SEED, "answers": {}, "ask": ["W1"], "tolerance": {"sigfig": 0}},
     "tolerance.sigfig"),
    ({"network": SEED, "answers": {}, "ask": ["W1"], "partial": {"typo": 0.5}}, "partial.typo"),
    ({"network": SEED, "answers": {}, "ask": ["W1"], "partial": {"sign_error": 2.0}},
     "partial.sign_error"),
], ids=["answers-list", "tolerance", "points-negative", "network", "no-answers", "no-ask",
        "ask-string", "ask-empty", "ask-number", "ask-unknown", "points-empty",
        "points-not-asked", "points-unknown", "tolerance-mixed", "sigfig-0", "partial-typo",
        "partial-over-1"])
def test_invalid_requests_are_422_naming_the_field(
    client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    response = _post(client, body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert field in [e["field"] for e in problem["errors"]], problem


def test_unknown_format_is_422(client: FlaskClient) -> None:
    response = _post(client, {"network": SEED, "answers": {}, "ask": ["W1"]}, "csv")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "format"


def test_the_route_is_in_openapi(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/v1/grade"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"format", "visibility"}
    assert "Grading" in json.dumps(operation["responses"]["200"])
    request = document["components"]["schemas"]["GradeRequest"]["properties"]
    assert "ask" in request and "ignored" in document["components"]["schemas"]["Grading"][
        "properties"]
