"""Distractor-proof exercises: every slip's value, told apart, diagnosed as the key says."""

from __future__ import annotations

import dataclasses
import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import reference

from pathgrad.cli import main
from worker.coursework.distractors import slips
from worker.coursework.exercises import ExerciseError, exercise, exercises
from worker.coursework.grading import AnswerKey
from worker.coursework.slips import Parameter, RuleAnalysis
from worker.engine.batch import stack
from worker.engine.names import Names
from worker.engine.options import parse_options
from worker.engine.spec import parse_spec

SHAPES = [
    {"layers": (2, 3, 2, 1), "ask": ("W1", "W7", "W13")},
    {"layers": (2, 3, 2, 1), "activation": "relu", "ask": ("W1", "W8")},
    {"layers": (3, 2, 2), "activation": "leaky_relu", "loss": "mse", "ask": ("W2", "W9"),
     "fractions": True},
    {"layers": (2, 2, 2, 2), "activation": ["relu", "leaky_relu", "identity"],
     "loss": "half_sse", "ask": ("W3",), "integers": (-2, 4)},
    {"layers": (2, 4, 4, 1), "activation": "leaky_relu", "loss": "half_sse",
     "ask": ("W1", "W9"), "tolerance": {"sigfig": 3}},
    {"layers": (2, 3, 3, 2), "activation": "leaky_relu", "loss": "mse", "ask": ("W1",),
     "tolerance": {"decdig": 1}},
    {"layers": (2, 4, 4, 4, 1), "activation": "relu", "ask": ("W1",)},  # 16 paths
]
IDS = ["seed", "relu", "leaky-mse", "mixed", "sigfig", "decdig", "16-paths"]

# Today's network of `pathgrad exercise --layers 2,3,2,1 --seed 7`: Out = -6 < Y = 1, so
# dLoss/dOut = -1 and leaving it out gives exactly the sign error.
SEED_7_BEFORE = {
    "layers": [2, 3, 2, 1],
    "weights": [[[-2, -3], [1, -3], [1, -1]], [[-3, 1, -3], [-1, -3, -3]], [[-1, 2]]],
    "biases": [[0, 0, 0], [0, 0], [0]],
    "activation": "identity",
    "input": [-3, -2],
    "target": [1],
    "loss": "l1",
}


# --- an independent recomputation of the slips, from tests/reference.py ---------------


def _reference_slips(spec: dict[str, Any], weight: str) -> set[tuple[str, Fraction]]:
    """Each slip's value by explicit paths with sigma' or dLoss/dOut set to 1, and the
    contract's rules: none equal to the answer or 0, the combined slip only when it is
    neither of its parts, missing paths only when they add up to something."""
    f = reference.forward(spec, exact=True)
    l, i, j = reference.names(list(spec["layers"]))["weights"][weight]
    ones = [None] + [[Fraction(1)] * len(d) for d in f.derivatives[1:]]  # type: ignore[arg-type]
    unit_loss = [Fraction(1)] * len(f.loss_gradient)

    def total(g: reference.RefForward) -> Fraction:
        return sum((p.contribution for p in reference.paths_of(g, l, i, j)), Fraction(0))

    answer = total(f)
    loss = total(dataclasses.replace(f, loss_gradient=unit_loss))
    sigma = total(dataclasses.replace(f, derivatives=ones))
    both = total(dataclasses.replace(f, derivatives=ones, loss_gradient=unit_loss))
    found = {(code, value) for code, value in [
        ("sign_error", -answer), ("missing_loss_derivative", loss),
        ("missing_activation_derivative", sigma)] if value not in (answer, 0)}
    if both not in (answer, loss, sigma, 0):
        found.add(("missing_activation_and_loss_derivatives", both))
    contributions = [p.contribution for p in reference.paths_of(f, l, i, j)]
    for size in (1, 2):
        for missing in itertools.combinations(range(len(contributions)), size):
            lost = sum(contributions[k] for k in missing)
            if size < len(contributions) and lost != 0 and answer - lost != 0:
                found.add(("missing_paths", answer - lost))
    return found


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_the_distractors_are_the_slips_recomputed_independently(shape: dict[str, Any]) -> None:
    for variant in exercises(6, seed=11, **shape):
        for weight, key in variant["answers"].items():
            listed = {(d["diagnosis"], Fraction(d["value"])) for d in key["distractors"]}
            assert listed == _reference_slips(variant["network"], weight), weight
            for d in key["distractors"]:
                assert d["float"] == float(Fraction(d["value"])) and d["credit"] == 0.0


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_slips_of_different_diagnoses_are_told_apart_on_many_seeds(shape: dict[str, Any]) -> None:
    for variant in exercises(25, seed=2026, **shape):
        for key in variant["answers"].values():
            entries = [("correct", Fraction(key["value"]))] + [
                (d["diagnosis"], Fraction(d["value"])) for d in key["distractors"]]
            for (a, va), (b, vb) in itertools.combinations(entries, 2):
                if a != b:
                    gap = abs(float(va) - float(vb))
                    widths = [reference.prairielearn_half_width(key["tolerance"], float(v))
                              for v in (va, vb)]
                    assert gap > sum(widths), (a, va, b, vb)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
@pytest.mark.parametrize("arithmetic", ["float", "exact"])
def test_the_grader_diagnoses_each_distractor_as_the_key_says(
    shape: dict[str, Any], arithmetic: str
) -> None:
    checked = 0
    for variant in exercises(8, seed=5, **shape):
        key = AnswerKey(variant["network"], arithmetic=arithmetic)
        for weight, entry in variant["answers"].items():
            for d in entry["distractors"]:
                given = d["value"] if arithmetic == "exact" else d["float"]
                graded = key.grade({weight: given}, ask=[weight],
                                   tolerance=entry["tolerance"])["answers"][0]
                assert graded["diagnosis"] == d["diagnosis"], (weight, d)
                assert graded["feedback"] == d["feedback"] or arithmetic == "float"
                checked += 1
    assert checked >= 8


def test_the_seed_that_collided_today_is_redrawn() -> None:
    # Today's seed-7 network: leaving dLoss/dOut = -1 out is the sign error, exactly.
    assert reference.forward(SEED_7_BEFORE, exact=True).loss_gradient == [-1]
    values = dict(_reference_slips(SEED_7_BEFORE, "W1"))
    assert values["sign_error"] == values["missing_loss_derivative"] != 0
    drawn = exercise(layers=(2, 3, 2, 1), seed=7, ask=("W1", "W7"))
    assert drawn["network"] != SEED_7_BEFORE and drawn["draws"] > 1
    with pytest.raises(ExerciseError) as caught:  # the first draw is that network
        exercise(layers=(2, 3, 2, 1), seed=7, ask=("W1", "W7"), max_draws=1)
    assert caught.value.field == "max_draws"
    assert "sign_error and missing_loss_derivative of W1" in caught.value.message


def test_a_slip_equal_to_the_answer_by_its_nature_is_left_out() -> None:
    for variant in exercises(10, seed=3, layers=(2, 3, 2, 1), ask=("W1",)):
        out = reference.forward(variant["network"], exact=True).loss_gradient[0]
        codes = {d["diagnosis"] for d in variant["answers"]["W1"]["distractors"]}
        assert "missing_activation_derivative" not in codes  # identity: sigma' = 1
        assert ("missing_loss_derivative" in codes) is (out != 1)
        assert "missing_activation_and_loss_derivatives" not in codes


def test_missing_paths_that_sum_to_0_are_no_slip() -> None:
    # relu: H3's pre-activation is -2, so W1's path through H3 contributes 0; the other,
    # X1->H1->H2->Out, is all of dLoss/dW1 = 2 * 1 * 2 * (Out - Y = 4) = 16.
    spec = {"layers": [1, 1, 2, 1], "weights": [[[1]], [[1], [-1]], [[2, 3]]],
            "biases": [[0], [0, 0], [0]], "activation": "relu", "input": [2], "target": [0],
            "loss": "half_sse"}
    net = parse_spec(spec, exact=True)
    rule = RuleAnalysis(stack([net]), parse_options({"arithmetic": "exact"}))
    l, i, j = Names.of(net.layers).locate("W1")
    found = [(s.diagnosis, s.value) for s in slips(rule, Parameter("W1", l, i, j, 0))]
    # sigma' = 1 everywhere: 2*2*4 + 2*(-1)*3*4 = -8; without dLoss/dOut as well: -2.
    assert found == [("sign_error", -16), ("missing_loss_derivative", 4),
                     ("missing_activation_derivative", -8),
                     ("missing_activation_and_loss_derivatives", -2)]
    assert set(_reference_slips(spec, "W1")) == set(found)


def test_no_fitting_network_names_the_constraint(capsys: pytest.CaptureFixture[str]) -> None:
    request = {"layers": (2, 4, 4, 4, 1), "activation": "leaky_relu", "loss": "half_sse",
               "ask": ("W1",), "tolerance": {"sigfig": 2}, "max_draws": 20}
    with pytest.raises(ExerciseError) as caught:
        exercise(seed=1, **request)
    message = caught.value.message
    assert caught.value.field == "max_draws" and "no network of 20 drawn" in message
    assert "cannot tell apart" in message and "of W1" in message
    assert "2 significant figures" in message
    code = main(["exercise", "--layers", "2,4,4,4,1", "--activation", "leaky_relu",
                 "--loss", "half_sse", "--ask", "W1", "--sigfig", "2", "--max-draws", "20",
                 "--seed", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("pathgrad: error: max_draws:")


def test_the_key_carries_points_tolerance_and_partial(tmp_path: Path) -> None:
    code = main(["exercise", "--layers", "2,3,2,1", "--seed", "9", "--ask", "W1,W7",
                 "--points", "W1=2", "--sigfig", "3", "--partial", "sign_error=0.5",
                 "--out", str(tmp_path)])
    assert code == 0
    key = json.loads((tmp_path / "variant-1" / "answers.json").read_text())
    assert key["W1"]["points"] == 2 and key["W7"]["points"] == 1
    assert key["W1"]["tolerance"] == {"sigfig": 3} and key["W1"]["partial"] == {"sign_error": 0.5}
    sign = next(d for d in key["W1"]["distractors"] if d["diagnosis"] == "sign_error")
    assert sign["credit"] == 0.5 and sign["value"] == str(-Fraction(key["W1"]["value"]))
