"""Grading: every diagnosis on the seed network, exact answers, formats and the offline CLI.

Expected values come from the seed question's own formula, written out here with
NumPy (the chain rule over the 2-3-2-1 network), never from the engine.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, SEED

from pathgrad.cli import main
from worker.coursework.formats import gradescope, junit, junit_suites
from worker.coursework.grading import AnswerKey, GradingError, grade
from worker.engine.errors import PathgradError

# --- an independent reference: the seed network's chain rule ------------------------------

_PRIME = {
    "identity": lambda z: np.ones_like(z),
    "sigmoid": lambda z: (1 / (1 + np.exp(-z))) * (1 - 1 / (1 + np.exp(-z))),
}
_ACT = {"identity": lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def reference(net: dict[str, Any], *, sigma: bool = True, loss: bool = True) -> dict[str, float]:
    """dLoss/dW and dLoss/db of a one-output network, with sigma' or dLoss/dOut optionally 1."""
    weights = [np.array(w, dtype=float) for w in net["weights"]]
    biases = [np.array(b, dtype=float) for b in net.get("biases") or
              [[0.0] * len(w) for w in net["weights"]]]
    act, prime = _ACT[net["activation"]], _PRIME[net["activation"]]
    a, zs, acts = np.array(net["input"], dtype=float), [], []
    for w, b in zip(weights, biases, strict=True):
        acts.append(a)
        z = w @ a + b
        zs.append(z)
        a = act(z)
    diff = a - np.array(net["target"], dtype=float)
    slope = {"l1": np.sign(diff), "half_sse": diff}[net["loss"]] if loss else np.ones_like(diff)
    delta = slope * (prime(zs[-1]) if sigma else 1.0)
    grads: list[tuple[np.ndarray, np.ndarray]] = []
    for l in range(len(weights) - 1, -1, -1):
        grads.insert(0, (np.outer(delta, acts[l]), delta))
        if l:
            delta = (weights[l].T @ delta) * (prime(zs[l - 1]) if sigma else 1.0)
    out: dict[str, float] = {}
    count = 0
    hidden = ["H" + str(k) for k in range(1, 100)]
    nodes = iter(hidden)
    for l, (gw, gb) in enumerate(grads):
        for value in gw.ravel():
            count += 1
            out[f"W{count}"] = float(value)
        for value in gb:
            name = "Out" if l == len(grads) - 1 else next(nodes)
            out[f"b_{name}"] = float(value)
    return out


def _seed(**changes: Any) -> dict[str, Any]:
    net = copy.deepcopy(SEED)
    net.update(changes)
    return net


def _integer_seed(**changes: Any) -> dict[str, Any]:
    """The seed with weights 1..14: every value is an integer, so kinks are hit exactly."""
    weights = [[[1, 2], [3, 4], [5, 6]], [[7, 8, 9], [10, 11, 12]], [[13, 14]]]
    net = {"layers": [2, 3, 2, 1], "weights": weights, "activation": "identity",
           "input": [1, 2], "target": [0], "loss": "l1"}
    net.update(changes)
    return net


def _one(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in result["answers"] if a["name"] == name)


def _plain(markdown: str) -> str:
    """Markdown text as it reads: CommonMark drops the backslash of an escaped character."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


# --- the seed question ---------------------------------------------------------------------


def test_the_seed_formula_is_graded_correct_for_every_parameter() -> None:
    expected = reference(SEED)
    # The question's answer: dLoss/dW1 = (W13*W7 + W14*W10) * X1, Out > Y.
    assert expected["W1"] == pytest.approx((1.3 * 0.7 + 1.4 * 1.0) * 1.0)
    result = grade(SEED, {name: value for name, value in expected.items()})
    assert result["score"] == result["max_score"] == len(expected) == 20
    for answer in result["answers"]:
        assert answer["correct"] and answer["diagnosis"] == "correct", answer
        assert answer["expected"] == pytest.approx(expected[answer["name"]], rel=1e-12)


def test_answers_as_strings_decimals_and_fractions() -> None:
    result = grade(SEED, {"W7": "0.65", "W13": "69/25", "W1": " 2.31 ", "W14": "3.75e0"})
    assert [a["correct"] for a in result["answers"]] == [True, True, True, True]
    assert _one(result, "W13")["given"] == "69/25"
    assert _one(result, "W13")["given_value"] == pytest.approx(2.76)


def test_sign_error() -> None:
    w1 = reference(SEED)["W1"]
    answer = _one(grade(SEED, {"W1": -w1}), "W1")
    assert not answer["correct"] and answer["points"] == 0
    assert answer["diagnosis"] == "sign_error"
    assert "negative of dLoss/dW1" in answer["feedback"]


def test_a_sum_over_some_of_the_paths_names_the_missing_path() -> None:
    # The path through H4 alone: X1 * W7 * W13 * dLoss/dOut (= +1 here).
    answer = _one(grade(SEED, {"W1": 1.0 * 0.7 * 1.3}), "W1")
    assert answer["diagnosis"] == "missing_paths"
    assert "the path through H4 alone" in answer["feedback"]
    assert "the path X1\u2192H1\u2192H5\u2192Out (W10\u00b7W14) is missing" in answer["feedback"]
    details = answer["details"]
    assert (details["paths_total"], details["paths_used"], details["paths_missing"]) == (2, 1, 1)
    assert details["missing"][0]["nodes"] == ["X1", "H1", "H5", "Out"]
    assert details["missing"][0]["contribution"] == pytest.approx(1.0 * 1.0 * 1.4)


def test_many_paths_single_path_and_all_but_one() -> None:
    # X1 -> H1 -> (12 neurons) -> Out: W1 has 12 paths, over the subset limit.
    size = 12
    net = {"layers": [1, 1, size, 1], "weights": [[[2.0]], [[float(k + 1)] for k in range(size)],
                                                  [[1.0] * size]],
           "activation": "identity", "input": [1.0], "target": [-1000.0], "loss": "half_sse"}
    out = 2.0 * sum(range(1, size + 1))
    contributions = [1.0 * (k + 1) * 1.0 * (out + 1000.0) for k in range(size)]
    key = AnswerKey(net)
    all_but_7 = key.grade({"W1": sum(contributions) - contributions[6]})
    answer = _one(all_but_7, "W1")
    assert answer["diagnosis"] == "missing_paths", answer
    assert "X1\u2192H1\u2192H8\u2192Out (W8\u00b7W20) is missing" in answer["feedback"]
    assert answer["details"]["paths_used"] == 11
    single = _one(key.grade({"W1": contributions[3]}), "W1")
    assert single["diagnosis"] == "missing_paths"
    assert "alone, X1\u2192H1\u2192H5\u2192Out" in single["feedback"]
    assert single["details"]["paths_missing"] == 11


def test_missing_activation_derivative() -> None:
    net = _seed(activation="sigmoid", loss="half_sse")
    without_sigma = reference(net, sigma=False)
    assert without_sigma["W7"] != pytest.approx(reference(net)["W7"])
    result = grade(net, {"W7": without_sigma["W7"], "W1": without_sigma["W1"]})
    for answer in result["answers"]:
        assert answer["diagnosis"] == "missing_activation_derivative", answer
        assert "sigmoid'(z)" in answer["feedback"]


def test_missing_loss_derivative() -> None:
    net = _seed(loss="half_sse")
    without_loss = reference(net, loss=False)
    expected = reference(net)
    assert expected["W1"] == pytest.approx(without_loss["W1"] * (8.838 - 1.0))
    answer = _one(grade(net, {"W1": without_loss["W1"]}), "W1")
    assert answer["diagnosis"] == "missing_loss_derivative"
    assert "Multiply each path by dLoss/dOut (Out - Y = 7.838 here)" in answer["feedback"]


def test_missing_both_derivatives() -> None:
    net = _seed(activation="sigmoid", loss="half_sse")
    answer = _one(grade(net, {"W2": reference(net, sigma=False, loss=False)["W2"]}), "W2")
    assert answer["diagnosis"] == "missing_activation_and_loss_derivatives"


def test_at_the_loss_kink_every_subgradient_is_accepted_and_named() -> None:
    net = _integer_seed()
    net["target"] = [int(np.array([13, 14]) @ np.array([[7, 8, 9], [10, 11, 12]])
                         @ np.array([[1, 2], [3, 4], [5, 6]]) @ np.array([1, 2]))]  # Out == Y
    right = (13 * 7 + 14 * 10) * 1  # the seed's "Delta >= 0" case
    key = AnswerKey(net)
    result = key.grade({"W1": right, "W2": -2 * right, "W3": 0, "W4": 5})
    assert result["score"] == 3
    assert any("kink" in w for w in result["warnings"])
    w1, w2, w3, w4 = result["answers"]
    assert w1["subgradient"] == "right" and "uses right" in w1["feedback"]
    assert w2["subgradient"] == "left" and "uses left" in w2["feedback"]
    assert w3["subgradient"] == "min_norm" and "uses min_norm" in w3["feedback"]
    accepted = {a["subgradient"]: a["expected"] for a in w1["accepted"]}
    assert accepted == {"min_norm": 0.0, "left": -right, "right": right}
    assert not w4["correct"]


def test_at_a_relu_kink_both_derivatives_are_accepted() -> None:
    net = _integer_seed(activation="relu", biases=[[-5, 0, 0], [0, 0], [0]])  # H1 pre = 0
    right = (13 * 7 + 14 * 10) * 1
    result = grade(net, {"W1": right, "W2": 0})
    assert result["score"] == 2
    w1, w2 = result["answers"]
    assert w1["subgradient"] == "right" and "H1 has pre-activation 0" in w1["feedback"]
    assert w2["subgradient"] == "min_norm"
    assert "uses min_norm" in w2["feedback"] and " / left" in w2["feedback"]


def test_exact_answers_are_compared_exactly() -> None:
    # Out = (1/2)(1/3) X1 = 1/6 with X1 = 1, Y = 0, half_sse: dLoss/dOut = Out, and
    # dLoss/dW1 = Out * W2 * X1 = 1/12, dLoss/dW2 = Out * H1 = 1/18, dLoss/db_H1 = Out * W2.
    net = {"layers": [1, 1, 1], "weights": [[["1/3"]], [["1/2"]]], "activation": "identity",
           "input": [1], "target": [0], "loss": "half_sse"}
    out = Fraction(1, 2) * Fraction(1, 3)
    w1 = out * Fraction(1, 2)
    result = grade(net, {"W1": str(w1), "W2": "0.0555555555", "b_H1": "1/6"},
                   arithmetic="exact")
    first, second, bias = result["answers"]
    assert first["correct"] and first["expected_exact"] == str(w1) == "1/12"
    assert not second["correct"] and second["diagnosis"] == "inexact"
    assert second["expected_exact"] == str(out * Fraction(1, 3))
    assert bias["correct"] is False and bias["expected_exact"] == str(out * Fraction(1, 2))
    assert result["comparison"] == "exact" and result["tolerance"] is None
    # The same rounded answer passes a float grading at a loose tolerance.
    loose = grade(_seed(), {"W1": 2.3100001}, tolerance={"rtol": 1e-6})
    assert _one(loose, "W1")["correct"]


def test_exact_sign_error_and_missing_paths() -> None:
    net = _seed(weights=[[["1/10", "2/10"], ["3/10", "4/10"], ["5/10", "6/10"]],
                         [["7/10", "8/10", "9/10"], ["1", "11/10", "12/10"]],
                         [["13/10", "14/10"]]])
    result = grade(net, {"W1": "-231/100", "W2": str(Fraction(2) * Fraction(7, 10)
                                                     * Fraction(13, 10))}, arithmetic="exact")
    assert [a["diagnosis"] for a in result["answers"]] == ["sign_error", "missing_paths"]


def test_unknown_names_are_ignored_and_unreadable_answers_graded_wrong() -> None:
    result = grade(SEED, {"W99": 1, "w1": 2.31, "W7": "abc", "W8": True, "W9": None,
                          "W10": [1], "W13": 2.76},
                   ask=["W1", "W7", "W8", "W9", "W10", "W13"])
    by_name = {a["name"]: a for a in result["answers"]}
    assert result["score"] == 1 and result["max_score"] == 6
    assert list(by_name) == ["W1", "W7", "W8", "W9", "W10", "W13"]
    assert by_name["W1"]["diagnosis"] == "unanswered"  # "w1" is not W1
    ignored = {i["name"]: i for i in result["ignored"]}
    assert set(ignored) == {"W99", "w1"}
    assert ignored["W99"]["reason"] == "no such parameter"
    assert "W1..W14" in ignored["W99"]["feedback"]
    assert "Did you mean 'W1'?" in ignored["w1"]["feedback"]
    for name in ("W7", "W8", "W9", "W10"):
        assert by_name[name]["diagnosis"] == "unparsable" and not by_name[name]["correct"]
    assert "'abc'" in by_name["W7"]["feedback"]
    assert by_name["W13"]["correct"]


def test_points_and_unanswered_questions() -> None:
    expected = reference(SEED)
    result = grade(SEED, {"W1": expected["W1"], "W7": 0}, points={"W1": 2, "W7": 3, "W13": 5})
    assert (result["score"], result["max_score"]) == (2, 10)
    w13 = _one(result, "W13")
    assert w13["diagnosis"] == "unanswered" and w13["max_points"] == 5
    assert w13["expected"] == pytest.approx(expected["W13"])


def test_an_unasked_answer_earns_nothing_and_is_reported() -> None:
    expected = reference(SEED)
    # A 2-point question on W1; b_Out answered right as well, though not asked.
    answers = {"W1": expected["W1"], "b_Out": expected["b_Out"]}
    for asked in ({"points": {"W1": 2}}, {"ask": ["W1"], "points": {"W1": 2}}):
        result = grade(SEED, answers, **asked)
        assert (result["score"], result["max_score"]) == (2, 2), asked
        assert [a["name"] for a in result["answers"]] == ["W1"]
        assert result["ignored"] == [{"name": "b_Out", "reason": "not asked",
                                      "feedback": "b_Out was not asked: this answer is not "
                                      "graded."}]


def test_the_asked_set_is_kept_in_order_without_duplicates_and_unanswered_scores_0() -> None:
    expected = reference(SEED)
    key = AnswerKey(SEED)
    result = key.grade({"W1": expected["W1"]}, ask=["W7", "W1", "W7", "b_H1"])
    assert [a["name"] for a in result["answers"]] == ["W7", "W1", "b_H1"]
    assert [a["diagnosis"] for a in result["answers"]] == ["unanswered", "correct", "unanswered"]
    assert (result["score"], result["max_score"]) == (1, 3) and result["ignored"] == []
    empty = key.grade({}, ask=["W1", "W7"], points={"W7": 4})
    assert (empty["score"], empty["max_score"]) == (0, 5)
    assert [a["max_points"] for a in empty["answers"]] == [1, 4]


def test_without_ask_or_points_a_self_check_grades_the_parameters_answered() -> None:
    expected = reference(SEED)
    result = grade(SEED, {"W1": expected["W1"], "W99": 1, "b_Out": 0})
    assert [a["name"] for a in result["answers"]] == ["W1", "b_Out"]
    assert (result["score"], result["max_score"]) == (1, 2)
    assert [(i["name"], i["reason"]) for i in result["ignored"]] == [("W99", "no such parameter")]


def test_close_answers_are_told_to_keep_digits() -> None:
    answer = _one(grade(SEED, {"W1": 2.3105}), "W1")
    assert answer["diagnosis"] == "close" and "0.02% off" in answer["feedback"]
    assert _one(grade(SEED, {"W1": 2.3105}, tolerance={"rtol": 1e-3}), "W1")["correct"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"answers": [1, 2]}, "answers"),
    ({"answers": {}, "tolerance": {"rtol": -1}}, "tolerance.rtol"),
    ({"answers": {}, "tolerance": {"atol": "big"}}, "tolerance.atol"),
    ({"answers": {}, "tolerance": {"eps": 1}}, "tolerance.eps"),
    ({"answers": {}, "tolerance": 0.1}, "tolerance"),
    ({"answers": {}, "points": {"W1": -1}}, "points.W1"),
    ({"answers": {}, "points": {"W99": 1}}, "points.W99"),
    ({"answers": {}, "points": [1]}, "points"),
    ({"answers": {}, "points": {}}, "points"),
    ({"answers": {}, "ask": "W1"}, "ask"),
    ({"answers": {}, "ask": []}, "ask"),
    ({"answers": {}, "ask": ["W1", 7]}, "ask[1]"),
    ({"answers": {}, "ask": ["W1", "W99"]}, "ask[1]"),
    ({"answers": {}, "ask": ["W1", "b_X"]}, "ask[1]"),
    ({"answers": {}, "ask": ["W1"], "points": {"W7": 1}}, "points.W7"),
    ({"answers": {}, "ask": ["W1"], "points": {"W99": 1}}, "points.W99"),
])
def test_malformed_requests_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(GradingError) as info:
        grade(SEED, **kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(field + ": ")


def test_an_invalid_network_is_a_pathgrad_error() -> None:
    with pytest.raises(PathgradError, match="loss"):
        grade(_seed(loss="hinge"), {"W1": 1})


# --- output formats ------------------------------------------------------------------------


def _mixed() -> dict[str, Any]:
    return grade(SEED, {"W1": 2.31, "W2": -4.62, "W99": 1, "W7": "?", "b_Out": 1},
                 ask=["W1", "W2", "W7", "W13"], points={"W1": 2})


def test_gradescope_results_json_has_a_test_per_asked_name_and_no_overriding_score() -> None:
    grading = _mixed()
    document = json.loads(json.dumps(gradescope(grading)))
    # A top-level score would override the tests' total in Gradescope.
    assert "score" not in document
    assert [t["name"] for t in document["tests"]] == ["W1", "W2", "W7", "W13"]
    for test, answer in zip(document["tests"], grading["answers"], strict=True):
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["name"] == answer["name"]
        assert test["status"] == ("passed" if answer["correct"] else "failed")
        assert _plain(test["output"]) == answer["feedback"] and test["visibility"] == "visible"
        assert test["output_format"] == "md"
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
    assert [t["max_score"] for t in document["tests"]] == [2.0, 1.0, 1.0, 1.0]
    assert sum(t["score"] for t in document["tests"]) == grading["score"] == 2.0
    assert document["tests"][3]["extra_data"]["diagnosis"] == "unanswered"
    assert document["output_format"] == "md" and "execution_time" not in document
    assert "b_Out was not asked" in _plain(document["output"])
    assert "No parameter named 'W99'" in _plain(document["output"])


def test_gradescope_markdown_shows_the_feedback_as_written() -> None:
    grading = grade(SEED, {"W7": 9}, ask=["W7"])
    output = gradescope(grading)["tests"][0]["output"]
    # Unescaped, "a_H1 * sigma'(z) ... * the later weights" would turn into italics.
    assert "a\\_H1 \\* sigma'(z)" in output and _plain(output) == grading["answers"][0][
        "feedback"]
    timed = gradescope(grading, execution_time=0.01234, visibility="after_published")
    assert timed["execution_time"] == 0.012 and timed["visibility"] == "after_published"
    assert {t["visibility"] for t in timed["tests"]} == {"after_published"}


def test_gradescope_without_any_test_still_carries_a_score() -> None:
    document = gradescope(grade(SEED, {}))  # a self-check of nothing
    assert document["tests"] == [] and document["score"] == 0.0


def test_junit_xml_has_a_testcase_per_asked_name_and_failures_with_feedback() -> None:
    grading = _mixed()
    suite = ET.fromstring(junit(grading))
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures")) == ("4", "3")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["W1", "W2", "W7", "W13"]
    assert {c.get("classname") for c in cases} == {"pathgrad.grade"}
    assert cases[0].find("failure") is None
    for case, answer in zip(cases[1:], grading["answers"][1:], strict=True):
        failure = case.find("failure")
        assert failure is not None and failure.get("message") == answer["feedback"]
        assert failure.get("type") == answer["diagnosis"]
    assert "b_Out was not asked" in (suite.findtext("system-out") or "")
    named = ET.fromstring(junit(grading, "hw3.alice"))
    assert {c.get("classname") for c in named.iter("testcase")} == {"hw3.alice"}


def test_junit_class_names_keep_every_answer_set_apart() -> None:
    grading = _mixed()
    many = ET.fromstring(junit_suites([("alice", grading), ("bob", grading)]))
    assert many.tag == "testsuites" and many.get("tests") == "8"
    assert [s.get("name") for s in many.findall("testsuite")] == ["alice", "bob"]
    # A report keyed by (classname, name), as CI servers keep them, loses no case.
    keys = {(c.get("classname"), c.get("name")) for c in many.iter("testcase")}
    assert len(keys) == 8
    assert {c.get("classname") for c in many.iter("testcase")} == {
        "pathgrad.grade.alice", "pathgrad.grade.bob"}


# --- the offline CLI -----------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    expected = reference(SEED)
    paths = {"network": tmp_path / "net.json", "right": tmp_path / "right.json",
             "half": tmp_path / "half.json", "sets": tmp_path / "sets.ndjson",
             "points": tmp_path / "points.json", "extra": tmp_path / "extra.json",
             "empty": tmp_path / "empty.json"}
    paths["network"].write_text(json.dumps(SEED))
    paths["right"].write_text(json.dumps({"W1": expected["W1"], "W7": expected["W7"]}))
    paths["half"].write_text(json.dumps({"W1": expected["W1"], "W7": -expected["W7"]}))
    paths["points"].write_text(json.dumps({"W1": 3}))
    paths["extra"].write_text(json.dumps({"W1": expected["W1"], "b_Out": expected["b_Out"]}))
    paths["empty"].write_text("{}")
    paths["sets"].write_text("\n".join(json.dumps(s) for s in [
        {"id": "alice", "W1": expected["W1"]},
        {"id": "bob", "answers": {"W1": -expected["W1"]}},
        {"W1": "3/4"},
    ]) + "\n")
    return paths


def _grade(files: dict[str, Path], answers: str, *extra: str, ask: str = "W1,W7") -> list[str]:
    return ["grade", "--network", str(files["network"]), "--answers", str(files[answers]),
            *(["--ask", ask] if ask else []), *extra]


def test_cli_json_and_fail_under(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_grade(files, "right")) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 2
    assert main(_grade(files, "half", "--fail-under", "0.5")) == 0
    capsys.readouterr()
    assert main(_grade(files, "half", "--fail-under", "0.51")) == 1
    capsys.readouterr()
    # With W1 worth 3 points the half-right set scores 3/4.
    assert main(_grade(files, "half", "--points", str(files["points"]),
                       "--fail-under", "0.75")) == 0
    assert json.loads(capsys.readouterr().out)["max_score"] == 4


def test_cli_formats_and_out_file(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert main(_grade(files, "half", "--format", "gradescope", "--out", str(out))) == 0
    document = json.loads(out.read_text())
    assert "score" not in document and sum(t["score"] for t in document["tests"]) == 1
    assert [t["status"] for t in document["tests"]] == ["passed", "failed"]
    xml_out = tmp_path / "junit.xml"
    assert main(_grade(files, "half", "--format", "junit", "--out", str(xml_out))) == 0
    assert ET.parse(xml_out).getroot().get("failures") == "1"


def test_cli_options_flags(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_grade(files, "right", "--arithmetic", "exact", "--subgradient", "right")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arithmetic"] == "exact" and result["subgradient"] == "right"
    assert result["answers"][0]["expected_exact"] == "231/100"


def test_cli_an_unasked_answer_cannot_raise_the_gradescope_score(
    files: dict[str, Path], tmp_path: Path
) -> None:
    # A 2-point question on W1; the student also answers b_Out, correctly.
    points = tmp_path / "two.json"
    points.write_text(json.dumps({"W1": 2}))
    out = tmp_path / "results.json"
    for ask in ("", "W1"):
        assert main(_grade(files, "extra", "--points", str(points), "--format", "gradescope",
                           "--out", str(out), ask=ask)) == 0
        document = json.loads(out.read_text())
        assert "score" not in document
        assert [(t["name"], t["score"], t["max_score"]) for t in document["tests"]] == [
            ("W1", 2.0, 2.0)]
        assert "b_Out was not asked" in _plain(document["output"])


def test_cli_an_empty_answer_set_scores_0_of_every_asked_point(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    assert main(_grade(files, "empty", "--format", "gradescope", "--out", str(out))) == 0
    tests = json.loads(out.read_text())["tests"]
    assert [(t["name"], t["score"], t["max_score"]) for t in tests] == [
        ("W1", 0.0, 1.0), ("W7", 0.0, 1.0)]
    assert main(_grade(files, "empty", "--fail-under", "0.5")) == 1
    result = json.loads(capsys.readouterr().out)
    assert (result["score"], result["max_score"]) == (0, 2)
    assert {a["diagnosis"] for a in result["answers"]} == {"unanswered"}


@pytest.mark.parametrize(("content", "why"), [
    (b"{nope", "answers.json is not valid JSON"),
    (b"[1, 2]", "answers.json holds a list, not a JSON object of answers"),
    (b'"W1"', "answers.json holds a string"),
    (b'{"W1": 1} {"W7": 2}', "answers.json holds more than one JSON value"),
    (b"\xff\xfe{\x00}\x00", "answers.json is not UTF-8 text"),
    (b"", "answers.json is empty"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"W1": ' + b"9" * 5000 + b"}", "a number is too long"),
    (None, "answers.json is missing"),
], ids=["not-json", "list", "string", "two-values", "utf-16", "empty", "deep", "long-integer",
        "missing"])
def test_cli_a_malformed_submission_still_writes_results_json(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    content: bytes | None, why: str,
) -> None:
    submission = tmp_path / "answers.json"
    if content is not None:
        submission.write_bytes(content)
    out = tmp_path / "results.json"
    command = ["grade", "--network", str(files["network"]), "--answers", str(submission),
               "--ask", "W1,W7", "--points", str(files["points"]), "--format", "gradescope",
               "--out", str(out)]
    assert main(command) == 0
    document = json.loads(out.read_text())
    assert "score" not in document
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in document["tests"]] == [
        ("W1", 0.0, 3.0, "failed"), ("W7", 0.0, 1.0, "failed")]
    assert all("could not be read" in t["output"] for t in document["tests"])
    assert "could not be graded" in document["output"] and why in document["output"]
    assert str(tmp_path) not in document["output"]  # the grader's folders stay private
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err


def test_cli_a_malformed_submission_in_json_and_junit(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submission = tmp_path / "answers.json"
    submission.write_text("{nope")
    command = ["grade", "--network", str(files["network"]), "--answers", str(submission),
               "--ask", "W1,W7"]
    assert main(command) == 0
    result = json.loads(capsys.readouterr().out)
    assert "not valid JSON" in result["submission_error"]
    assert (result["score"], result["max_score"]) == (0, 2)
    assert [a["diagnosis"] for a in result["answers"]] == ["unanswered", "unanswered"]
    assert main([*command, "--fail-under", "0.5"]) == 1
    capsys.readouterr()
    assert main([*command, "--format", "junit"]) == 0
    suite = ET.fromstring(capsys.readouterr().out)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "2")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert "not valid JSON" in (properties["submission_error"] or "")


def test_cli_a_byte_order_mark_is_not_a_malformed_submission(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submission = tmp_path / "answers.json"
    submission.write_bytes(b"\xef\xbb\xbf" + files["right"].read_bytes())
    assert main(["grade", "--network", str(files["network"]), "--answers", str(submission),
                 "--ask", "W1,W7"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 2


def test_cli_many_answer_sets(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_grade(files, "sets", "--fail-under", "1")) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["alice", "bob", None]
    assert [(line["score"], line["max_score"]) for line in lines] == [(1, 2), (0, 2), (0, 2)]
    assert lines[1]["answers"][0]["diagnosis"] == "sign_error"
    assert main(_grade(files, "sets", "--format", "junit")) == 0
    root = ET.fromstring(capsys.readouterr().out)
    assert [s.get("name") for s in root.findall("testsuite")] == ["alice", "bob", "set 3"]
    assert [{c.get("classname") for c in s.iter("testcase")} for s in root] == [
        {"pathgrad.grade.alice"}, {"pathgrad.grade.bob"}, {"pathgrad.grade.set 3"}]


def test_cli_junit_class_names_stay_apart_for_repeated_ids_and_take_name(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = tmp_path / "twice.ndjson"
    sets.write_text('{"id": "alice", "W1": 1}\n{"id": "alice", "W1": 2}\n')
    command = ["grade", "--network", str(files["network"]), "--answers", str(sets),
               "--ask", "W1,W7", "--format", "junit", "--name", "hw3"]
    assert main(command) == 0
    root = ET.fromstring(capsys.readouterr().out)
    keys = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert len(set(keys)) == len(keys) == 4
    assert {c for c, _ in keys} == {"hw3.alice", "hw3.alice (set 2)"}
    assert main(_grade(files, "right", "--format", "junit", "--name", "hw3.bob")) == 0
    suite = ET.fromstring(capsys.readouterr().out)
    assert suite.get("name") == "hw3.bob"
    assert {c.get("classname") for c in suite.iter("testcase")} == {"hw3.bob"}


def test_cli_unreadable_answer_sets_are_graded_0_and_the_rest_graded(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_sets = tmp_path / "bad.ndjson"
    bad_sets.write_text('{"id": 1, "W1": 2.31}\n[1]\n{nope\n')
    command = ["grade", "--network", str(files["network"]), "--answers", str(bad_sets),
               "--ask", "W1,W7"]
    assert main(command) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["score"] for line in lines] == [1, 0, 0]
    assert "submission_error" not in lines[0]
    assert lines[1]["submission_error"] == "line 2 holds a list, not a JSON object of answers"
    assert "line 3 is not valid JSON" in lines[2]["submission_error"]
    assert captured.err.count("\n") == 1 and "2 of 3 answer sets" in captured.err
    assert main([*command, "--fail-under", "0.5"]) == 1
    capsys.readouterr()
    empty = tmp_path / "none.ndjson"
    empty.write_text("\n")
    command[4] = str(empty)
    assert main([*command, "--fail-under", "0.5"]) == 1  # an empty class file is no pass
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["submission_error"] == "none.ndjson holds no answer set"


def test_cli_asks_from_an_exercise_answer_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exercise", "--layers", "2,3,2,1", "--seed", "7", "--ask", "W1,W7",
                 "--out", str(tmp_path / "ex")]) == 0
    capsys.readouterr()
    (variant,) = (tmp_path / "ex").glob("variant-*")
    key = json.loads((variant / "answers.json").read_text())
    answers = tmp_path / "student.json"
    answers.write_text(json.dumps({"W1": key["W1"]["value"], "W2": 0}))
    assert main(["grade", "--network", str(variant / "network.json"), "--answers",
                 str(answers), "--ask", str(variant / "answers.json")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(a["name"], a["diagnosis"]) for a in result["answers"]] == [
        ("W1", "correct"), ("W7", "unanswered")]
    assert result["ignored"][0]["name"] == "W2" and result["score"] == 1


def test_cli_bad_input_is_one_line_and_exit_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    assert main(["grade", "--network", str(broken), "--answers", str(files["right"]),
                 "--ask", "W1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid JSON" in err
    assert main(_grade(files, "right", "--tolerance-rtol", "-1")) == 2
    assert "tolerance.rtol" in capsys.readouterr().err
    assert main(["grade", "--network", str(files["network"]), "--answers",
                 str(tmp_path / "class.ndjson"), "--ask", "W1"]) == 2
    assert "class.ndjson: cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(("ask", "extra", "message"), [
    ("", [], "--ask: name the graded parameters"),
    ("W1,W99", [], "ask[1]: no parameter 'W99'"),
    ("W1", ["--points", "points13.json"], "points.W13: 'W13' is not asked"),
    ("", ["--points", "nothing.json"], "points: expected at least one name"),
    ("broken.json", [], "broken.json: not valid JSON"),
    ("number.json", [], "expected a JSON list of names"),
], ids=["no-ask", "unknown-name", "points-not-asked", "no-points", "ask-file-broken",
        "ask-file-number"])
def test_cli_the_instructors_mistakes_exit_2_even_before_a_bad_submission(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    ask: str, extra: list[str], message: str,
) -> None:
    (tmp_path / "points13.json").write_text('{"W13": 1}')
    (tmp_path / "nothing.json").write_text("{}")
    (tmp_path / "broken.json").write_text("[nope")
    (tmp_path / "number.json").write_text("7")
    missing = tmp_path / "no-such-submission.json"
    command = ["grade", "--network", str(files["network"]), "--answers", str(missing),
               "--format", "gradescope", "--out", str(tmp_path / "results.json"),
               *(["--ask", str(tmp_path / ask) if ask.endswith(".json") else ask] if ask
                 else []),
               *[str(tmp_path / e) if e.endswith(".json") else e for e in extra]]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "results.json").exists()


def test_cli_starts_without_flask_celery_or_sympy(files: dict[str, Path]) -> None:
    code = ("import sys; from pathgrad.cli import main; sys.stdout = open('/dev/null', 'w'); "
            f"main({_grade(files, 'right')!r}); "
            "sys.stderr.write(repr(sorted(m for m in ('flask', 'celery', 'sympy', 'redis') "
            "if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stderr == "[]"


def test_exact_answers_beyond_float64_are_graded_not_a_crash() -> None:
    net = copy.deepcopy(SEED)
    net["weights"] = [[["1e200"] * 2] * 3, [["1e200"] * 3] * 2, [["1e200"] * 2]]
    # dLoss/dW1 = (W7*W13 + W10*W14) * X1 = 2e400; dLoss/dW7 = W13 * H1 = 3e400.
    report = grade(net, {"W1": "2e400", "W7": "1e400"}, arithmetic="exact")
    by_name = {answer["name"]: answer for answer in report["answers"]}
    assert by_name["W1"]["correct"] is True and by_name["W1"]["expected"] is None
    assert Fraction(by_name["W1"]["expected_exact"]) == 2 * Fraction(10) ** 400
    assert by_name["W7"]["correct"] is False and by_name["W7"]["given_value"] is None
    assert by_name["W7"]["diagnosis"] == "wrong" and "single path" in by_name["W7"]["feedback"]
    assert json.loads(json.dumps(report)) == report


# --- partial credit, tolerance modes, more paths -----------------------------------------


def test_partial_credit_per_diagnosis() -> None:
    expected = reference(SEED)
    partial = {"sign_error": 0.5, "missing_paths": 0.25}
    result = grade(SEED, {"W1": -expected["W1"], "W2": 2 * 0.7 * 1.3, "W7": 9, "W13": "x",
                          "W14": expected["W14"]},
                   ask=["W1", "W2", "W7", "W13", "W14", "W8"], points={"W1": 4, "W2": 2},
                   partial=partial)
    rows = [(a["name"], a["diagnosis"], a["points"], a["credit"]) for a in result["answers"]]
    assert rows == [("W1", "sign_error", 2.0, 0.5), ("W2", "missing_paths", 0.5, 0.25),
                    ("W7", "wrong", 0.0, 0.0), ("W13", "unparsable", 0.0, 0.0),
                    ("W14", "correct", 1.0, 1.0), ("W8", "unanswered", 0.0, 0.0)]
    assert result["score"] == 3.5 and result["max_score"] == 10
    assert result["partial"] == partial
    assert "Partial credit: 50% of the points." in _one(result, "W1")["feedback"]
    assert "Partial credit" not in _one(result, "W7")["feedback"]


@pytest.mark.parametrize(("partial", "field"), [
    ({"typo": 0.5}, "partial.typo"),
    ({"correct": 0.5}, "partial.correct"),
    ({"sign_error": 1.5}, "partial.sign_error"),
    ({"sign_error": "half"}, "partial.sign_error"),
    ([0.5], "partial"),
])
def test_malformed_partial_credit_names_the_field(partial: Any, field: str) -> None:
    with pytest.raises(GradingError) as caught:
        grade(SEED, {}, ask=["W1"], partial=partial)
    assert caught.value.field == field


def test_significant_figures_grade_and_word_the_rule() -> None:
    expected = reference(SEED)["W1"]  # 2.31
    result = grade(SEED, {"W1": 2.3, "W7": 0.652}, ask=["W1", "W7"], tolerance={"sigfig": 2})
    assert [a["correct"] for a in result["answers"]] == [True, True]
    result = grade(SEED, {"W1": round(expected * 1.004, 4)}, ask=["W1"], tolerance={"sigfig": 4})
    assert _one(result, "W1")["diagnosis"] == "close"
    assert "4 significant figures" in _one(result, "W1")["feedback"]
    assert result["tolerance"] == {"sigfig": 4}


def test_a_sum_missing_two_of_many_paths_is_diagnosed() -> None:
    import reference as naive

    # 16 paths for W1 (1 * 4 * 4 * 1 later choices): beyond every subset, all but two.
    rng = np.random.default_rng(3)
    net = {"layers": [1, 1, 4, 4, 1], "activation": "identity", "loss": "half_sse",
           "weights": [rng.uniform(-1, 1, (n, m)).round(3).tolist()
                       for m, n in [(1, 1), (1, 4), (4, 4), (4, 1)]],
           "input": [0.8], "target": [0.1]}
    f = naive.forward(net)
    contributions = [p.contribution for p in naive.paths_of(f, 1, 0, 0)]
    total = sum(contributions)
    given = total - contributions[3] - contributions[12]
    answer = _one(grade(net, {"W1": given}, ask=["W1"]), "W1")
    assert answer["diagnosis"] == "missing_paths"
    assert answer["details"]["paths_missing"] == 2 and answer["details"]["paths_total"] == 16
    assert {tuple(p["nodes"]) for p in answer["details"]["missing"]} == {
        ("X1", "H1", "H2", "H9", "Out"), ("X1", "H1", "H5", "H6", "Out")}


# --- the CLI: an exercise's own key, times and visibility --------------------------------


@pytest.fixture
def exercise_folder(tmp_path: Path) -> Path:
    assert main(["exercise", "--layers", "2,3,2,1", "--seed", "3", "--ask", "W1,W7",
                 "--points", "W1=2", "--sigfig", "3", "--partial", "sign_error=0.5",
                 "--out", str(tmp_path / "ex")]) == 0
    return tmp_path / "ex" / "variant-1"


def test_cli_grades_against_an_exercise_key(
    exercise_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    key = json.loads((exercise_folder / "answers.json").read_text())
    answers = tmp_path / "answers.json"
    w1 = key["W1"]["float"]
    answers.write_text(json.dumps({"W1": -w1, "W7": round(key["W7"]["float"] * 1.001, 6),
                                   "W2": 1}))
    # --network defaults to the network.json beside the key.
    assert main(["grade", "--key", str(exercise_folder / "answers.json"),
                 "--answers", str(answers)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(a["name"], a["max_points"], a["points"], a["diagnosis"])
            for a in result["answers"]] == [("W1", 2.0, 1.0, "sign_error"),
                                            ("W7", 1.0, 1.0, "correct")]
    assert result["tolerance"] == {"sigfig": 3} and result["partial"] == {"sign_error": 0.5}
    assert result["ignored"][0]["name"] == "W2"
    # A flag overrides the key's tolerance: 4 figures refuse the 0.1% slip.
    assert main(["grade", "--key", str(exercise_folder / "answers.json"), "--answers",
                 str(answers), "--sigfig", "4"]) == 0
    assert _one(json.loads(capsys.readouterr().out), "W7")["correct"] is False


@pytest.mark.parametrize(("extra", "message"), [
    (["--ask", "W1"], "--ask: not with --key"),
    (["--network", "SEED"], "W1 is"),
])
def test_cli_a_key_that_is_not_the_networks_exits_2(
    exercise_folder: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str],
    extra: list[str], message: str,
) -> None:
    capsys.readouterr()
    extra = [str(files["network"]) if item == "SEED" else item for item in extra]
    code = main(["grade", "--key", str(exercise_folder / "answers.json"),
                 "--answers", str(files["right"]), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_cli_junit_times_and_gradescope_execution_time(
    files: dict[str, Path], tmp_path: Path
) -> None:
    xml_out = tmp_path / "junit.xml"
    assert main(_grade(files, "half", "--format", "junit", "--out", str(xml_out))) == 0
    suite = ET.parse(xml_out).getroot()
    cases = [float(c.get("time") or "nan") for c in suite.iter("testcase")]
    assert all(0 < t < 5 for t in cases)
    assert float(suite.get("time") or "nan") >= sum(cases)
    assert main(_grade(files, "sets", "--format", "junit", "--out", str(xml_out))) == 0
    suites = ET.parse(xml_out).getroot()
    assert all(float(c.get("time") or "nan") > 0 for c in suites.iter("testcase"))
    assert float(suites.get("time") or "nan") == pytest.approx(
        sum(float(s.get("time") or "nan") for s in suites.iter("testsuite")), abs=1e-5)
    out = tmp_path / "results.json"
    assert main(_grade(files, "half", "--format", "gradescope", "--visibility", "hidden",
                       "--out", str(out))) == 0
    document = json.loads(out.read_text())
    assert 0 < document["execution_time"] < 30 and document["visibility"] == "hidden"
    assert {t["visibility"] for t in document["tests"]} == {"hidden"}
