"""Property-based: on random networks, path sum == backprop == the naive per-path reference,
finite differences agree where they apply, and exact arithmetic agrees with itself exactly
and with float64 within rounding."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import RefForward, forward, names, path_gradients, paths_of

from worker.engine import analyze

ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]
LOSSES = ["l1", "mse", "half_sse", "softmax_cross_entropy"]
RATIONAL_ACTIVATIONS = ["identity", "relu", "leaky_relu"]
RATIONAL_LOSSES = ["l1", "mse", "half_sse"]

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def networks(draw: st.DrawFn, exact: bool = False) -> dict[str, Any]:
    depth = draw(st.integers(1, 4))
    layers = draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1))
    number: st.SearchStrategy[Any]
    if exact:
        number = st.fractions(-2, 2, max_denominator=8).map(str)
        activation_names, loss_names = RATIONAL_ACTIVATIONS, RATIONAL_LOSSES
    else:
        number = st.floats(-2, 2, allow_nan=False, allow_infinity=False)
        activation_names, loss_names = ACTIVATIONS, LOSSES
    activation: Any = draw(st.one_of(
        st.sampled_from(activation_names),
        st.lists(st.sampled_from(activation_names), min_size=depth, max_size=depth)))
    loss = draw(st.sampled_from(loss_names))
    spec: dict[str, Any] = {
        "layers": layers,
        "weights": [[[draw(number) for _ in range(m)] for _ in range(n)]
                    for m, n in zip(layers[:-1], layers[1:], strict=True)],
        "activation": activation,
        "input": [draw(number) for _ in range(layers[0])],
        "target": [draw(number) for _ in range(layers[-1])],
        "loss": loss,
    }
    if loss == "softmax_cross_entropy":  # a target distribution (any real y works; keep it usual)
        raw = [abs(v) + 0.1 for v in spec["target"]]
        spec["target"] = [v / sum(raw) for v in raw]
    if draw(st.booleans()):
        spec["biases"] = [[draw(number) for _ in range(n)] for n in layers[1:]]
    return spec


def reference_tables(spec: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Per-path reference gradients and, per parameter, a bound on their rounding scale.

    The scale is the sum over paths of the product of the *absolute* factors (each
    path's input a_u by its magnitude, :func:`_magnitudes`), with
    |dLoss/dOut| replaced by |dLoss/dOut| + 1 and a sigmoid/tanh |sigma'| by
    |sigma'| + 1: these come from cancellation (out - y, softmax*sum(y) - y,
    1 - tanh(z)**2 near saturation), whose error is ~eps absolute, not ~eps relative.
    """
    f = forward(spec)
    depth = len(spec["layers"]) - 1
    acts = spec["activation"]
    acts = [acts] * depth if isinstance(acts, str) else acts
    smooth = [None] + [1.0 if name in ("sigmoid", "tanh") else 0.0 for name in acts]
    absolute = dataclasses.replace(
        f,
        weights=[[[abs(v) for v in row] for row in w] for w in f.weights],
        values=_magnitudes(spec, f),
        derivatives=[None] + [[abs(v) + smooth[l] for v in f.derivatives[l]]
                              for l in range(1, depth + 1)],
        loss_gradient=[abs(v) + 1 for v in f.loss_gradient],
    )
    table = names(f.layers)
    grads = path_gradients(spec)
    scale = {}
    for name, (l, i, j) in table["weights"].items():
        scale[name] = sum(p.contribution for p in paths_of(absolute, l, i, j))
    for name, (l, i) in table["biases"].items():
        scale[name] = sum(p.contribution for p in paths_of(absolute, l, i, None))
    return grads, scale


def _magnitudes(spec: dict[str, Any], f: RefForward) -> list[list[float]]:
    """|a| plus the magnitude its rounding is relative to: |W| |a_prev| + |b|, layer by layer.

    A pre-activation that cancels (1/2 * -1/3 + 1/6) is exactly 0 in fractions but
    ~eps * (|W| |a| + |b|) in float64, and every path from it carries that absolute
    error: its contribution's scale is that sum, not the (tiny) value.
    """
    layers = f.layers
    biases = spec.get("biases") or [[0.0] * n for n in layers[1:]]
    magnitudes = [[abs(v) for v in f.values[0]]]
    for l in range(1, len(layers)):
        sums = [abs(float(b)) + sum(abs(w) * m for w, m in zip(row, magnitudes[-1],
                                                                        strict=True))
                for row, b in zip(f.weights[l - 1], biases[l - 1], strict=True)]
        magnitudes.append([abs(v) + z for v, z in zip(f.values[l], sums, strict=True)])
    return magnitudes


def engine_table(result: dict[str, Any], key: str) -> dict[str, Any]:
    return {r["name"]: r.get(key) for r in result["weights"] + result["biases"]}


# Each gradient is a sum of at most 4**3 = 64 products of at most ~10 factors, each
# factor correct to a few ulps (sigmoid/tanh are evaluated by different formulas here
# and in the engine). So |error| <= (10 + 64) * few * eps * scale ~ 1e-13 * scale;
# 1e-11 leaves a wide margin while still catching any wrong term (a wrong path is
# off by O(scale)). Tiny inputs (hypothesis likes subnormals) make products lose
# relative precision below ~1e-308, so a negligible absolute floor is added.
PATH_RTOL = 1e-11
PATH_ATOL = 1e-290


def assert_close_to_reference(got: dict[str, Any], want: dict[str, float],
                              scale: dict[str, float], what: str) -> None:
    keys = list(want)
    assert set(got) == set(keys)
    diff = np.abs(np.array([got[k] for k in keys]) - np.array([want[k] for k in keys]))
    bound = PATH_RTOL * np.array([scale[k] for k in keys]) + PATH_ATOL
    bad = [(k, got[k], want[k]) for k, d, b in zip(keys, diff, bound, strict=True) if d > b]
    assert not bad, f"{what} differs from the per-path reference: {bad[:5]}"


@SETTINGS
@given(networks())
def test_path_sum_equals_backprop_equals_reference(spec: dict[str, Any]) -> None:
    result = analyze(spec)
    assert result["agreement"]["ok"]
    want, scale = reference_tables(spec)
    assert_close_to_reference(engine_table(result, "backprop"), want, scale, "backprop")
    assert_close_to_reference(engine_table(result, "path_sum"), want, scale, "path_sum")
    ref = forward(spec)
    np.testing.assert_allclose(result["loss"], ref.loss, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(list(result["outputs"].values()), ref.values[-1],
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.sampled_from(["min_norm", "left", "right"]))
def test_finite_differences_agree_with_backprop(spec: dict[str, Any], rule: str) -> None:
    result = analyze(spec, finite_difference=True, subgradient=rule)
    fd = result["agreement"]["finite_difference"]
    loss = abs(result["loss"])
    checked = 0
    for record in result["weights"] + result["biases"]:
        if record["name"] in fd["skipped"]:
            assert record["finite_difference"] is None
            continue
        checked += 1
        # Central differences with h ~ cbrt(eps) * max(1, |p|) >= 6e-6: truncation
        # O(h^2 * L''') (zero for piecewise-linear nets with quadratic losses) plus
        # rounding ~ eps * |L| / h ~ 4e-11 * |L|.
        tolerance = 1e-6 * (1 + abs(record["gradient"])) + 1e-9 * (1 + loss)
        assert abs(record["finite_difference"] - record["gradient"]) <= tolerance, (
            record["name"], record["finite_difference"], record["gradient"])
    if fd["skipped"]:
        assert any(all(n in w for n in fd["skipped"]) for w in result["warnings"])
    assert checked + len(fd["skipped"]) == len(result["weights"]) + len(result["biases"])


def to_float_spec(spec: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        return [convert(v) for v in value] if isinstance(value, list) else float(
            Fraction(value))

    return spec | {key: convert(spec[key]) for key in ("weights", "input", "target", "biases")
                   if key in spec}


# Found by hypothesis: H5 = 1/2 * -1/3 + 1/6 is exactly 0, but ~1e-17 in float64.
_CANCELLING = {
    "layers": [1, 3, 4, 2, 4], "activation": "identity", "loss": "l1",
    "weights": [[["0"], ["0"], ["5/6"]],
                [["0", "0", "1"], ["0", "0", "1/2"], ["0", "0", "0"], ["0", "0", "0"]],
                [["0", "0", "0", "0"], ["1", "0", "0", "0"]],
                [["0", "1"], ["0", "1"], ["0", "1"], ["0", "1"]]],
    "biases": [["0", "0", "1/2"], ["0", "1/6", "0", "0"], ["0", "0"], ["0", "0", "0", "0"]],
    "input": ["-1"], "target": ["0", "0", "0", "0"],
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(exact=True), st.sampled_from(["min_norm", "left", "right"]))
@example(_CANCELLING, "min_norm")
def test_exact_methods_agree_exactly(spec: dict[str, Any], rule: str) -> None:
    result = analyze(spec, arithmetic="exact", subgradient=rule)
    want = path_gradients(spec, exact=True, subgradient=rule)
    for record in result["weights"] + result["biases"]:
        assert Fraction(record["backprop_exact"]) == want[record["name"]], record["name"]
        assert Fraction(record["path_sum_exact"]) == want[record["name"]], record["name"]
        assert record["gradient_exact"] == record["backprop_exact"]
    assert result["agreement"]["ok"] and result["agreement"]["max_abs_diff"] == 0.0
    ref: RefForward = forward(spec, exact=True, subgradient=rule)
    assert Fraction(result["loss_exact"]) == ref.loss

    # The same network in float64: equal within rounding, unless a kink sits exactly at
    # zero (rounding the inputs to float may move it off the kink, legitimately).
    if any(w.startswith("kink") for w in result["warnings"]):
        return
    approx = analyze(to_float_spec(spec), subgradient=rule)
    _, scale = reference_tables(to_float_spec(spec))
    # Inputs are rounded to float64 once (relative 2**-53), then the same error as
    # above accumulates; both are covered by PATH_RTOL * scale.
    exact_values = {name: float(value) for name, value in want.items()}
    assert_close_to_reference(engine_table(approx, "gradient"), exact_values, scale, "float")
