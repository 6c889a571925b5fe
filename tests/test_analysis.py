"""analyze / analyze_many: the seed network by hand, the result's shape, kinks, limits,
exact arithmetic, finite differences, batching and the loud failure modes."""

from __future__ import annotations

import copy
import json
import math
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reference import finite_difference, forward, path_gradients

import worker.engine.analysis
from pathgrad import examples
from worker.engine import (
    AgreementError,
    PathgradError,
    PathLimitError,
    analyze,
    analyze_many,
    path_contributions,
)

ROOT = Path(__file__).resolve().parent.parent
SEED: dict[str, Any] = examples.load("seed")

# Float results vs numbers worked out by hand here: a few roundings of O(1) values apart.
RTOL = 1e-12
ATOL = 1e-12

RESULT_KEYS = {"loss", "outputs", "nodes", "weights", "biases", "agreement",
               "paths_enumerated", "warnings"}
WEIGHT_KEYS = {"name", "layer", "from", "to", "value", "gradient", "backprop", "path_sum",
               "finite_difference", "paths"}
BIAS_KEYS = {"name", "node", "gradient", "backprop", "path_sum", "paths"}
NODE_KEYS = {"name", "layer", "pre", "value", "derivative"}
AGREEMENT_KEYS = {"ok", "max_abs_diff", "max_rel_diff", "rtol", "atol"}


def seed() -> dict[str, Any]:
    return copy.deepcopy(SEED)


def by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in records}


def seed_by_hand(spec: dict[str, Any], sign: float) -> dict[str, float]:
    """The seed question's answer for every parameter, with dLoss/dOut = sign.

    dLoss/dW1 = sign * (W13*W7 + W14*W10) * X1, and likewise for the others.
    """
    w1, w4, w6 = spec["weights"]  # shapes (3, 2), (2, 3), (1, 2)
    x = spec["input"]
    h = [row[0] * x[0] + row[1] * x[1] for row in w1]  # H1..H3 (identity, zero biases)
    h4 = sum(w4[0][i] * h[i] for i in range(3))
    h5 = sum(w4[1][i] * h[i] for i in range(3))
    w13, w14 = w6[0]
    expected = {}
    for i in range(3):  # into H1..H3: two paths, via H4 (W13) and via H5 (W14)
        through = w13 * w4[0][i] + w14 * w4[1][i]
        for j in range(2):
            expected[f"W{2 * i + j + 1}"] = sign * through * x[j]
        expected[f"b_H{i + 1}"] = sign * through
        expected[f"W{7 + i}"] = sign * w13 * h[i]
        expected[f"W{10 + i}"] = sign * w14 * h[i]
    expected.update({"W13": sign * h4, "W14": sign * h5, "b_H4": sign * w13,
                     "b_H5": sign * w14, "b_Out": sign})
    return expected


def gradients(result: dict[str, Any], key: str = "gradient") -> dict[str, Any]:
    return {r["name"]: r[key] for r in result["weights"] + result["biases"]}


# --- the seed network ---------------------------------------------------------------------


def test_seed_gradients_by_hand() -> None:
    spec = seed()
    result = analyze(spec)
    w1, w4, ((w13, w14),) = spec["weights"]
    x1, x2 = spec["input"]
    h = [r[0] * x1 + r[1] * x2 for r in w1]
    out = w13 * sum(w4[0][i] * h[i] for i in range(3)) + w14 * sum(w4[1][i] * h[i]
                                                                  for i in range(3))
    y = spec["target"][0]
    np.testing.assert_allclose(result["outputs"]["Out"], out, rtol=RTOL)
    np.testing.assert_allclose(result["loss"], abs(out - y), rtol=RTOL)
    sign = math.copysign(1.0, out - y)
    assert out != y
    expected = seed_by_hand(spec, sign)
    got = gradients(result)
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=RTOL, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(gradients(result, "path_sum")[name], value, rtol=RTOL,
                                   atol=ATOL, err_msg=name)
    # The question's own line: dLoss/dW7 = 1 x W13 x H1.
    np.testing.assert_allclose(got["W7"], w13 * h[0], rtol=RTOL)
    # ... and the answer: (W13*W7 + W14*W10) * X1.
    np.testing.assert_allclose(got["W1"], (w13 * w4[0][0] + w14 * w4[1][0]) * x1, rtol=RTOL)
    assert result["agreement"]["ok"] is True
    assert result["warnings"] == []


def test_seed_nodes_and_path_counts() -> None:
    spec = seed()
    result = analyze(spec)
    nodes = by_name(result["nodes"])
    ref = forward(spec)
    for layer, names in ((1, ["H1", "H2", "H3"]), (2, ["H4", "H5"]), (3, ["Out"])):
        for i, name in enumerate(names):
            assert nodes[name]["layer"] == layer
            np.testing.assert_allclose(nodes[name]["pre"], ref.pre[layer][i], rtol=RTOL)
            np.testing.assert_allclose(nodes[name]["value"], ref.values[layer][i], rtol=RTOL)
            assert nodes[name]["derivative"] == 1.0  # identity everywhere
    weights = by_name(result["weights"])
    # paths = product of the later layer sizes: 2*1 from layer 1, 1 from layers 2 and 3.
    assert [weights[f"W{k}"]["paths"] for k in range(1, 15)] == [2] * 6 + [1] * 8
    assert [b["paths"] for b in result["biases"]] == [2, 2, 2, 1, 1, 1]
    assert [w["value"] for w in result["weights"]] == [v for m in spec["weights"]
                                                       for row in m for v in row]


def test_result_shape_is_contract_section_2() -> None:
    result = analyze(seed())
    assert set(result) == RESULT_KEYS
    assert list(result["outputs"]) == ["Out"]
    assert all(set(n) == NODE_KEYS for n in result["nodes"])
    assert all(set(w) == WEIGHT_KEYS for w in result["weights"])
    assert all(set(b) == BIAS_KEYS for b in result["biases"])
    assert set(result["agreement"]) == AGREEMENT_KEYS
    assert result["agreement"]["rtol"] == 1e-9 and result["agreement"]["atol"] == 1e-12
    assert result["paths_enumerated"] > 0
    assert [w["name"] for w in result["weights"]] == [f"W{k}" for k in range(1, 15)]
    for w in result["weights"]:
        assert w["gradient"] == w["backprop"]
        assert w["finite_difference"] is None  # not asked for
    # Plain JSON: no NaN, no numpy scalars, round-trips unchanged.
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    for w in result["weights"]:
        assert type(w["gradient"]) is float and type(w["paths"]) is int


def test_result_with_finite_differences_has_the_witness() -> None:
    spec = seed()
    spec["loss"] = "half_sse"
    result = analyze(spec, finite_difference=True)
    fd = result["agreement"]["finite_difference"]
    assert fd["ok"] is True and fd["skipped"] == []
    for record in result["weights"] + result["biases"]:
        reference = finite_difference(spec, record["name"])
        # Both central differences: truncation O(h^2) is exactly zero (the loss is
        # quadratic in each parameter), so only rounding, ~eps*loss/h, separates them.
        np.testing.assert_allclose(record["finite_difference"], record["gradient"],
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(reference, record["gradient"], rtol=1e-5, atol=1e-5)


# --- kinks ----------------------------------------------------------------------------------


def dyadic_seed() -> dict[str, Any]:
    """The seed's shape with binary fractions, so Out is computed without rounding."""
    spec = seed()
    spec["weights"] = [[[0.25, 0.5], [0.75, -0.5], [0.5, 0.25]],
                       [[0.5, 1.0, -0.25], [1.5, 0.5, 0.75]],
                       [[1.25, -0.5]]]
    out = forward(spec).values[-1][0]
    spec["target"] = [out]
    return spec


@pytest.mark.parametrize(("rule", "factor"), [("min_norm", 0.0), ("left", -1.0),
                                              ("right", 1.0)])
def test_l1_kink_at_out_equals_y(rule: str, factor: float) -> None:
    spec = dyadic_seed()
    result = analyze(spec, subgradient=rule)
    assert result["outputs"]["Out"] == spec["target"][0]
    assert result["loss"] == 0.0
    expected = seed_by_hand(spec, factor)
    got = gradients(result)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=RTOL, atol=ATOL, err_msg=name)
    kinks = [w for w in result["warnings"] if "kink" in w]
    assert len(kinks) == 1
    assert "|Out - Y|" in kinks[0] and rule in kinks[0]
    assert result["agreement"]["ok"]


def relu_at_zero(activation: str) -> dict[str, Any]:
    # H1's pre-activation is 1*2 + 2*(-1) = 0 exactly; Out = 3*H1 + 0.5.
    return {"layers": [2, 1, 1], "weights": [[[2.0, -1.0]], [[3.0]]],
            "biases": [[0.0], [0.5]], "activation": [activation, "identity"],
            "input": [1.0, 2.0], "target": [2.0], "loss": "half_sse"}


@pytest.mark.parametrize(("activation", "rule", "slope"), [
    ("relu", "min_norm", 0.0), ("relu", "left", 0.0), ("relu", "right", 1.0),
    ("leaky_relu", "min_norm", 0.01), ("leaky_relu", "left", 0.01),
    ("leaky_relu", "right", 1.0),
])
def test_relu_kink_at_zero(activation: str, rule: str, slope: float) -> None:
    spec = relu_at_zero(activation)
    result = analyze(spec, subgradient=rule)
    h1 = by_name(result["nodes"])["H1"]
    assert h1["pre"] == 0.0 and h1["value"] == 0.0
    assert h1["derivative"] == slope
    d_out = 0.5 - 2.0  # Out - Y with H1 = 0
    x1, x2 = spec["input"]
    w3 = spec["weights"][1][0][0]
    got = gradients(result)
    np.testing.assert_allclose(got["W1"], x1 * slope * w3 * d_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got["W2"], x2 * slope * w3 * d_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got["b_H1"], slope * w3 * d_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got["W3"], 0.0, atol=ATOL)  # a_H1 = 0
    ref = path_gradients(spec, subgradient=rule)
    np.testing.assert_allclose([got[n] for n in ref], list(ref.values()), rtol=RTOL, atol=ATOL)
    kinks = [w for w in result["warnings"] if "kink" in w]
    assert len(kinks) == 1
    assert activation in kinks[0] and "H1" in kinks[0] and rule in kinks[0]


def test_finite_difference_skips_a_step_across_a_kink() -> None:
    # H1's pre-activation is 1 - (1 - 1e-9) ~ 1e-9: not a kink, but a step of
    # any sensible size in W1 or b_H1 moves it across 0.
    spec = {"layers": [1, 1, 1], "weights": [[[1.0]], [[2.0]]],
            "biases": [[-(1.0 - 1e-9)], [0.25]], "activation": ["relu", "identity"],
            "input": [1.0], "target": [0.0], "loss": "half_sse"}
    result = analyze(spec, finite_difference=True)
    h1 = by_name(result["nodes"])["H1"]
    assert 0 < h1["pre"] < 1e-8
    assert not any("kink:" in w for w in result["warnings"])
    weights, biases = by_name(result["weights"]), by_name(result["biases"])
    assert weights["W1"]["finite_difference"] is None
    assert biases["b_H1"]["finite_difference"] is None
    skipped = [w for w in result["warnings"] if "finite_difference skipped" in w]
    assert len(skipped) == 1 and "W1" in skipped[0] and "b_H1" in skipped[0]
    assert result["agreement"]["finite_difference"]["skipped"] == ["W1", "b_H1"]
    # The parameters whose step crosses nothing still get their witness.
    for record in (weights["W2"], biases["b_Out"]):
        assert record["finite_difference"] is not None
        np.testing.assert_allclose(record["finite_difference"], record["gradient"],
                                   rtol=1e-6, atol=1e-8)
    assert result["agreement"]["finite_difference"]["ok"]


# --- limits -------------------------------------------------------------------------------


def big_network(rng: np.random.Generator, layers: list[int]) -> dict[str, Any]:
    return {"layers": layers,
            "weights": [(rng.normal(size=(n, m)) / math.sqrt(m)).tolist()
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "biases": [rng.normal(size=n).tolist() for n in layers[1:]],
            "activation": "tanh", "input": rng.normal(size=layers[0]).tolist(),
            "target": rng.normal(size=layers[-1]).tolist(), "loss": "half_sse"}


def numpy_backprop(spec: dict[str, Any]) -> list[np.ndarray]:
    """A tanh / half_sse network's weight gradients by the textbook delta recursion."""
    weights = [np.array(w) for w in spec["weights"]]
    values, slopes = [np.array(spec["input"])], []
    for w, b in zip(weights, spec["biases"], strict=True):
        t = np.tanh(w @ values[-1] + np.array(b))
        values.append(t)
        slopes.append(1 - t * t)
    delta = (values[-1] - np.array(spec["target"])) * slopes[-1]
    grads = [np.outer(delta, values[-2])]
    for l in range(len(weights) - 1, 0, -1):
        delta = (weights[l].T @ delta) * slopes[l - 1]
        grads.insert(0, np.outer(delta, values[l - 1]))
    return grads


def test_path_limit_refuses_with_count_and_limit_and_path_sum_false_still_works() -> None:
    layers = [50, 400, 400, 400, 10]
    spec = big_network(np.random.default_rng(1), layers)
    # Suffix paths from every non-input neuron to the outputs.
    count = sum(math.prod(layers[l:]) for l in range(1, len(layers)))
    limit = 10**6
    with pytest.raises(PathLimitError) as caught:
        analyze(spec, max_paths=limit)
    assert str(count) in str(caught.value) and str(limit) in str(caught.value)
    assert caught.value.paths == count and caught.value.limit == limit
    assert isinstance(caught.value, PathgradError)

    result = analyze(spec, max_paths=limit, path_sum=False)
    assert result["paths_enumerated"] == 0
    assert all(w["path_sum"] is None for w in result["weights"])
    assert all(b["path_sum"] is None for b in result["biases"])
    assert result["agreement"]["max_abs_diff"] is None
    assert any("path_sum is false" in w for w in result["warnings"])
    expected = np.concatenate([g.ravel() for g in numpy_backprop(spec)])
    got = np.array([w["gradient"] for w in result["weights"]])
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert result["weights"][0]["paths"] == 400 * 400 * 10


def test_analyze_many_path_limit_names_the_spec() -> None:
    small = seed()
    big = big_network(np.random.default_rng(2), [2, 30, 30, 1])
    with pytest.raises(PathLimitError) as caught:
        analyze_many([small, big], max_paths=100)
    assert str(caught.value).startswith("specs[1].")
    assert "931" in str(caught.value)  # 30*30*1 + 30*1 + 1 suffix paths


# --- exact arithmetic -----------------------------------------------------------------------


def exact_spec() -> dict[str, Any]:
    return {"layers": [2, 3, 2, 2],
            "weights": [[["1/3", "-0.25"], ["2", "1/7"], ["-3/5", "1/2"]],
                        [["1/2", "-1", "3/4"], ["2/3", "5/4", "-1/6"]],
                        [["7/8", "-2"], ["1/5", "3"]]],
            "biases": [["1/10", 0, "-1/3"], ["1/4", "-1/2"], [0, "1/9"]],
            "activation": ["leaky_relu", "relu", "identity"],
            "input": ["3/2", "-1/3"], "target": ["1/2", "-2"], "loss": "mse"}


def test_exact_gradients_equal_the_reference_fractions() -> None:
    spec = exact_spec()
    result = analyze(spec, arithmetic="exact")
    expected = path_gradients(spec, exact=True)
    for record in result["weights"] + result["biases"]:
        want = expected[record["name"]]
        assert isinstance(want, Fraction)
        for key in ("gradient_exact", "backprop_exact", "path_sum_exact"):
            assert Fraction(record[key]) == want, (record["name"], key)
        assert record["gradient"] == float(want)
    assert result["agreement"]["ok"] and result["agreement"]["max_abs_diff"] == 0.0
    assert Fraction(result["loss_exact"]) == forward(spec, exact=True).loss


def test_exact_equals_float_within_rounding() -> None:
    spec = exact_spec()
    exact = analyze(spec, arithmetic="exact")
    floats = copy.deepcopy(spec)
    for key in ("weights", "biases"):
        floats[key] = [[[float(Fraction(v)) for v in row] for row in m] if key == "weights"
                       else [float(Fraction(v)) for v in m] for m in spec[key]]
    floats["input"] = [float(Fraction(v)) for v in spec["input"]]
    floats["target"] = [float(Fraction(v)) for v in spec["target"]]
    approx = analyze(floats)
    # Inputs rounded once to float64, then a few dozen operations on O(1) values.
    want = [float(Fraction(r["gradient_exact"])) for r in exact["weights"] + exact["biases"]]
    got = [r["gradient"] for r in approx["weights"] + approx["biases"]]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(approx["loss"], float(Fraction(exact["loss_exact"])), rtol=1e-12)


def test_exact_finite_difference_is_exact_away_from_kinks() -> None:
    spec = exact_spec()
    result = analyze(spec, arithmetic="exact", finite_difference=True)
    fd = result["agreement"]["finite_difference"]
    assert fd["ok"]
    for record in result["weights"] + result["biases"]:
        if record["name"] in fd["skipped"]:
            assert record["finite_difference_exact"] is None
        else:
            assert record["finite_difference_exact"] == record["gradient_exact"]


# --- analyze_many ---------------------------------------------------------------------------


def random_spec(rng: random.Random, layers: list[int], activation: Any, loss: str,
                biases: bool) -> dict[str, Any]:
    def numbers(n: int) -> list[float]:
        return [rng.uniform(-2, 2) for _ in range(n)]

    spec = {"layers": layers,
            "weights": [[numbers(m) for _ in range(n)]
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "activation": activation, "input": numbers(layers[0]),
            "target": [rng.uniform(0, 1) for _ in range(layers[-1])], "loss": loss}
    if biases:
        spec["biases"] = [numbers(n) for n in layers[1:]]
    return spec


def test_analyze_many_identical_to_analyze() -> None:
    rng = random.Random(7)
    specs = [seed()]
    specs += [random_spec(rng, [2, 3, 2, 1], "identity", "l1", True) for _ in range(40)]
    specs += [random_spec(rng, [3, 4, 2], "sigmoid", "mse", rng.random() < 0.5)
              for _ in range(25)]
    specs += [random_spec(rng, [2, 2, 2, 3], ["tanh", "relu", "identity"],
                          "softmax_cross_entropy", True) for _ in range(15)]
    specs += [random_spec(rng, [1, 5, 1], "leaky_relu", "half_sse", False) for _ in range(5)]
    # Ints beside floats, in one of the seed-shaped specs.
    specs[3]["input"] = [1, -2]
    rng.shuffle(specs)
    together = analyze_many(specs)
    assert len(together) == len(specs)
    for spec, result in zip(specs, together, strict=True):
        assert result == analyze(spec)
    with_fd = analyze_many(specs[:12], finite_difference=True, subgradient="right")
    assert with_fd == [analyze(s, finite_difference=True, subgradient="right")
                       for s in specs[:12]]


def test_analyze_many_exact_identical_to_analyze() -> None:
    specs = [exact_spec(), seed(), exact_spec(), dyadic_seed()]
    specs[2]["input"] = ["1/2", "5"]
    together = analyze_many(specs, arithmetic="exact")
    assert together == [analyze(s, arithmetic="exact") for s in specs]
    assert analyze_many([]) == []


# --- loud failures --------------------------------------------------------------------------


def test_disagreement_is_an_error_with_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    real = worker.engine.analysis.path_sums

    def corrupted(*args: Any, **kwargs: Any) -> list[np.ndarray]:
        sums = real(*args, **kwargs)
        return [sums[0]] + [s * 1.001 + 1e-3 for s in sums[1:]]

    monkeypatch.setattr(worker.engine.analysis, "path_sums", corrupted)
    with pytest.raises(AgreementError) as caught:
        analyze(seed())
    error = caught.value
    assert isinstance(error, PathgradError)
    assert error.result is not None
    assert error.result["agreement"]["ok"] is False
    assert error.result["agreement"]["max_abs_diff"] > 1e-3
    assert error.result["warnings"][0].startswith("DISAGREEMENT")
    assert "DISAGREEMENT" in str(error)
    with pytest.raises(AgreementError) as many:
        analyze_many([seed(), dyadic_seed()])
    assert str(many.value).startswith("specs[0]")


def test_float_overflow_is_a_clear_error() -> None:
    forward_overflow = {"layers": [1, 1, 1], "weights": [[[1e200]], [[1e200]]],
                        "activation": "identity", "input": [1e200], "target": [0.0],
                        "loss": "half_sse"}
    with pytest.raises(PathgradError, match="overflow"):
        analyze(forward_overflow)
    # Forward pass finite (1e-150, 1, 1e150), but delta_1 = 1e150^3 overflows.
    gradient_overflow = {"layers": [1, 1, 1, 1], "weights": [[[1e150]], [[1e150]], [[1e150]]],
                         "activation": "identity", "input": [1e-300], "target": [0.0],
                         "loss": "half_sse"}
    with pytest.raises(PathgradError, match="overflow"):
        analyze(gradient_overflow)
    with pytest.raises(PathgradError, match="overflow"):
        analyze(gradient_overflow, path_sum=False)
    # Saturating activations are not overflow: sigmoid of a huge input is fine.
    saturated = {"layers": [1, 1], "weights": [[[1e300]]], "activation": "sigmoid",
                 "input": [10.0], "target": [1.0], "loss": "mse"}
    result = analyze(saturated)
    assert result["loss"] == 0.0 and result["weights"][0]["gradient"] == 0.0


def test_exact_values_beyond_float64_are_null_beside_their_exact_strings() -> None:
    spec = json.loads(json.dumps(SEED))
    spec["weights"] = [[["1e200"] * 2] * 3, [["1e200"] * 3] * 2, [["1e200"] * 2]]
    result = analyze(spec, arithmetic="exact")
    assert result["loss"] is None and result["outputs"] == {"Out": None}
    # Out = 1e600 * (X1 + X2) * 3 * 2 exactly; the loss is |Out - Y| = Out - 1.
    out = Fraction(10) ** 600 * 3 * 3 * 2
    assert Fraction(result["outputs_exact"]["Out"]) == out
    assert Fraction(result["loss_exact"]) == out - 1
    w1 = next(w for w in result["weights"] if w["name"] == "W1")
    assert w1["gradient"] is None and Fraction(w1["gradient_exact"]) == 2 * Fraction(10) ** 400
    assert w1["path_sum_exact"] == w1["gradient_exact"]  # still exactly agreeing
    assert result["agreement"]["ok"] is True
    assert any("beyond float64" in warning for warning in result["warnings"])
    assert json.loads(json.dumps(result)) == result  # still valid JSON: no inf, no nan
    page = path_contributions(spec, "W1", arithmetic="exact")
    assert page["gradient"] is None
    assert sum(Fraction(p["contribution_exact"]) for p in page["paths"]) == \
        Fraction(w1["gradient_exact"])


def test_exact_path_pages_need_no_enumeration_limit() -> None:
    from worker.engine.analysis import EXACT_MAX_PATHS

    spec = {"layers": [1, 1, 1001, 1001, 1], "activation": "identity", "loss": "l1",
            "weights": [[[1]], [[1]] * 1001, [[1] * 1001] * 1001, [[1] * 1001]],
            "input": [1], "target": [0]}
    with pytest.raises(PathLimitError) as caught:  # enumerating them: over the limit
        analyze(spec, arithmetic="exact")
    assert caught.value.limit == EXACT_MAX_PATHS
    page = path_contributions(spec, "W1", arithmetic="exact", limit=1)  # a page: no limit
    assert page["total_paths"] == 1001 * 1001 > EXACT_MAX_PATHS
    assert page["paths"][0]["contribution_exact"] == "1"
    assert page["gradient_exact"] == page["abs_sum_exact"] == str(1001 * 1001)
