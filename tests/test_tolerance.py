"""Grading tolerances: rtol/atol, and sigfig/decdig on both sides of PrairieLearn's bounds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from worker.coursework.grading import AnswerKey, GradingError
from worker.coursework.tolerance import Tolerance, parse_tolerance

# (tolerance, expected, answer, accepted): each bound worked out by hand from
# PrairieLearn's rule (eps = 0.51 * 10**-n; n = -floor(log10|expected|) + digits - 1 for
# sigfig, n = digits for decdig; expected - eps < answer < expected + eps).
BOUNDARIES = [
    # sigfig 3 of 1.234: n = 2, eps = 0.0051, bounds (1.2289, 1.2391)
    ({"sigfig": 3}, 1.234, 1.2290, True), ({"sigfig": 3}, 1.234, 1.2288, False),
    ({"sigfig": 3}, 1.234, 1.2390, True), ({"sigfig": 3}, 1.234, 1.2392, False),
    # sigfig 2 across a decade: 100 has n = -1 (eps 5.1), 99 has n = 0 (eps 0.51)
    ({"sigfig": 2}, 100, 94.95, True), ({"sigfig": 2}, 100, 94.85, False),
    ({"sigfig": 2}, 100, 105.05, True), ({"sigfig": 2}, 100, 105.15, False),
    ({"sigfig": 2}, 99, 98.5, True), ({"sigfig": 2}, 99, 98.48, False),
    ({"sigfig": 2}, 99, 99.5, True), ({"sigfig": 2}, 99, 99.52, False),
    # negative values: the same bounds mirrored
    ({"sigfig": 2}, -250, -255.0, True), ({"sigfig": 2}, -250, -255.2, False),
    # small values: sigfig 1 of 0.004, n = 3, eps = 0.00051
    ({"sigfig": 1}, 0.004, 0.0035, True), ({"sigfig": 1}, 0.004, 0.00348, False),
    # expected 0: n = digits - 1, eps = 0.051 for 2 figures
    ({"sigfig": 2}, 0, 0.05, True), ({"sigfig": 2}, 0, -0.05, True),
    ({"sigfig": 2}, 0, 0.052, False),
    # decdig 2 of 3.14159: eps = 0.0051, bounds (3.13649, 3.14669)
    ({"decdig": 2}, 3.14159, 3.1366, True), ({"decdig": 2}, 3.14159, 3.1364, False),
    ({"decdig": 2}, 3.14159, 3.1466, True), ({"decdig": 2}, 3.14159, 3.1468, False),
    # decdig 0 of 12.3: eps = 0.51, bounds (11.79, 12.81); the size of the value is no matter
    ({"decdig": 0}, 12.3, 11.8, True), ({"decdig": 0}, 12.3, 11.78, False),
    ({"decdig": 0}, 1234.3, 1234.8, True), ({"decdig": 0}, 1234.3, 1234.82, False),
    # relabs is a closed interval: |answer - expected| <= atol + rtol * |expected|
    ({"rtol": 0, "atol": 0.5}, 1.0, 1.5, True), ({"rtol": 0, "atol": 0.5}, 1.0, 1.5000001, False),
    ({"rtol": 0.25, "atol": 0}, -2.0, -2.5, True), ({"rtol": 0.25, "atol": 0}, -2.0, -2.51, False),
]


@pytest.mark.parametrize(("tolerance", "expected", "answer", "accepted"), BOUNDARIES)
def test_each_definition_on_both_sides_of_its_bounds(
    tolerance: dict[str, Any], expected: float, answer: float, accepted: bool
) -> None:
    tol = parse_tolerance(tolerance)
    assert tol.equal(answer, expected, exact=False) is accepted
    assert bool(tol.accepts(answer, np.array([expected]))[0]) is accepted


@pytest.mark.parametrize(("tolerance", "expected", "answer", "accepted"), BOUNDARIES)
def test_the_grader_uses_the_same_bounds(
    tolerance: dict[str, Any], expected: float, answer: float, accepted: bool
) -> None:
    # Under half_sse with X1 = 1 and Y = 0, dLoss/dW1 = X1 * (W1 * X1 - Y) = W1 exactly.
    spec = {"layers": [1, 1], "weights": [[[expected]]], "activation": "identity",
            "input": [1.0], "target": [0.0], "loss": "half_sse"}
    record = AnswerKey(spec).grade({"W1": answer}, ask=["W1"], tolerance=tolerance)
    assert record["answers"][0]["expected"] == expected
    assert record["answers"][0]["correct"] is accepted
    assert record["tolerance"] == parse_tolerance(tolerance).to_dict()


def test_half_widths_vectorised_are_the_scalar_ones_bit_for_bit() -> None:
    values = [0.0, 1e-7, 0.001, 0.5, 1.0, 9.99, 10.0, 99.5, 100.0, -1234.5, 1e10, -0.0049]
    for tol in (Tolerance(), Tolerance(sigfig=1), Tolerance(sigfig=3), Tolerance(decdig=2)):
        assert tol.half_widths(np.array(values)).tolist() == [tol.half_width(v) for v in values]


def test_disjoint_means_no_answer_is_accepted_as_both() -> None:
    tol = Tolerance(sigfig=2)  # 100 accepts (94.9, 105.1), 95 (94.49, 95.51), 94 (93.49, 94.51)
    assert not tol.disjoint(100, 95)
    assert tol.equal(94.95, 100, exact=False) and tol.equal(94.95, 95, exact=False)
    assert tol.disjoint(100, 94)
    grid = np.linspace(90, 110, 20_001)
    both = [x for x in grid.tolist() if tol.equal(x, 100, exact=False)
            and tol.equal(x, 94, exact=False)]
    assert both == []


@pytest.mark.parametrize(("tolerance", "field"), [
    ("3", "tolerance"),
    ({"sigfig": 0}, "tolerance.sigfig"),
    ({"sigfig": 2.5}, "tolerance.sigfig"),
    ({"sigfig": True}, "tolerance.sigfig"),
    ({"decdig": -1}, "tolerance.decdig"),
    ({"decdig": 16}, "tolerance.decdig"),
    ({"sigfig": 3, "rtol": 0.1}, "tolerance.sigfig"),
    ({"sigfig": 3, "decdig": 2}, "tolerance.sigfig"),
    ({"rtol": -1}, "tolerance.rtol"),
    ({"digits": 3}, "tolerance.digits"),
])
def test_a_malformed_tolerance_names_its_field(tolerance: Any, field: str) -> None:
    with pytest.raises(GradingError) as caught:
        parse_tolerance(tolerance)
    assert caught.value.field == field


def test_the_dict_round_trips_and_defaults_are_kept() -> None:
    assert parse_tolerance({"sigfig": 3}).to_dict() == {"sigfig": 3}
    assert parse_tolerance({"decdig": 0}).to_dict() == {"decdig": 0}
    assert parse_tolerance({"rtol": 0.01}).to_dict() == {"rtol": 0.01, "atol": 1e-9}
    assert parse_tolerance(None).to_dict() == {"rtol": 1e-6, "atol": 1e-9}
