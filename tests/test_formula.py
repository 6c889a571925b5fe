"""Symbolic formulas: the seed's answer, and random networks checked numerically.

The numeric reference (forward pass, activation derivatives, central finite
differences) is plain NumPy written here, independent of the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy

import worker.engine
from pathgrad import examples
from worker.engine import OptionError, PathLimitError, SpecError, UnknownWeightError
from worker.engine.formula import formula

SEED = examples.load("seed")


def equivalent(text: str, expected: str) -> bool:
    """True when the two expressions are equal as SymPy parses them, with no locals."""
    return bool(sympy.simplify(sympy.sympify(text) - sympy.sympify(expected)) == 0)


# --- the seed network --------------------------------------------------------------------


def test_seed_w1_is_the_seed_answer() -> None:
    result = formula(SEED, "W1")
    assert result["weight"] == "W1" and result["paths"] == 2
    assert equivalent(result["text"], "sign(Out - Y)*(W13*W7 + W14*W10)*X1")


def test_seed_w1_prints_factored_without_piecewise() -> None:
    expr = sympy.sympify(formula(SEED, "W1")["text"])
    assert isinstance(expr, sympy.Mul)
    assert set(expr.args) == {
        sympy.Symbol("X1"),
        sympy.sympify("W13*W7 + W14*W10"),
        sympy.sign(sympy.Symbol("Out") - sympy.Symbol("Y")),
    }
    assert not expr.has(sympy.Piecewise)


def test_seed_names_come_back_as_plain_symbols() -> None:
    expr = sympy.sympify(formula(SEED, "W1")["text"])
    assert {s.name for s in expr.free_symbols} == {"X1", "W7", "W10", "W13", "W14", "Out", "Y"}
    assert all(type(s) is sympy.Symbol for s in expr.free_symbols)


@pytest.mark.parametrize(
    ("weight", "expected", "paths"),
    [("W7", "sign(Out - Y)*W13*H1", 1), ("W13", "sign(Out - Y)*H4", 1),
     ("W6", "sign(Out - Y)*(W9*W13 + W12*W14)*X2", 2)],
)
def test_seed_later_weights(weight: str, expected: str, paths: int) -> None:
    result = formula(SEED, weight)
    assert result["paths"] == paths
    assert equivalent(result["text"], expected)


def test_seed_latex_renders_indexed_names() -> None:
    latex = formula(SEED, "W1")["latex"]
    for part in ("W_{13}", "W_{7}", "X_{1}", r"\operatorname{Out}", r"\operatorname{sign}"):
        assert part in latex


def test_exact_strings_in_the_spec_are_accepted() -> None:
    spec = {**SEED, "weights": [[["1/3", "-0.25"]] * 3, [["3", 0, 1]] * 2, [[1, 2]]]}
    assert equivalent(formula(spec, "W2")["text"], "sign(Out - Y)*(W13*W7 + W14*W10)*X2")


# --- activation and loss factors ---------------------------------------------------------


def test_relu_network_names_every_derivative_factor() -> None:
    result = formula({**SEED, "activation": "relu"}, "W1")
    expected = "sign(Out - Y)*X1*dact_H1*dact_Out*(W7*dact_H4*W13 + W10*dact_H5*W14)"
    assert equivalent(result["text"], expected)
    assert r"\sigma'_{H_{1}}" in result["latex"] and "dact" not in result["latex"]


def test_identity_layers_have_no_derivative_factor() -> None:
    text = formula({**SEED, "activation": ["tanh", "identity", "sigmoid"]}, "W1")["text"]
    assert "dact_H1" in text and "dact_Out" in text
    assert "dact_H4" not in text and "dact_H5" not in text


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        ("mse", "(2*(Out1 - Y1)*W5 + 2*(Out2 - Y2)*W7)*X1/2"),
        ("half_sse", "((Out1 - Y1)*W5 + (Out2 - Y2)*W7)*X1"),
        ("l1", "(sign(Out1 - Y1)*W5 + sign(Out2 - Y2)*W7)*X1"),
        ("softmax_cross_entropy",
         "((exp(Out1)/(exp(Out1) + exp(Out2))*(Y1 + Y2) - Y1)*W5"
         " + (exp(Out2)/(exp(Out1) + exp(Out2))*(Y1 + Y2) - Y2)*W7)*X1"),
    ],
)
def test_loss_derivatives_per_output(loss: str, expected: str) -> None:
    spec = {"layers": [2, 2, 2], "weights": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]],
            "activation": "identity", "input": [1, 2], "target": [0, 1], "loss": loss}
    result = formula(spec, "W1")
    assert result["paths"] == 2
    assert equivalent(result["text"], expected)


# --- random networks, checked against independent numbers ---------------------------------

LEAKY = 0.01

ACTIVATION = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "leaky_relu": (lambda z: np.where(z > 0, z, LEAKY * z), lambda z: np.where(z > 0, 1.0, LEAKY)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
}


def loss_value(loss: str, out: np.ndarray, y: np.ndarray) -> float:
    if loss == "l1":
        return float(np.abs(out - y).sum())
    if loss == "mse":
        return float(((out - y) ** 2).mean())
    if loss == "half_sse":
        return float(((out - y) ** 2).sum() / 2)
    log_softmax = out - np.log(np.exp(out).sum())
    return float(-(y * log_softmax).sum())


def run(spec: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """Return pre-activations, values (index 0 = input) and the loss."""
    acts = spec["activation"]
    acts = acts if isinstance(acts, list) else [acts] * len(spec["weights"])
    values = [np.array(spec["input"], dtype=float)]
    pres = [values[0]]
    for w, b, act in zip(spec["weights"], spec["biases"], acts, strict=True):
        pres.append(np.array(w) @ values[-1] + np.array(b))
        values.append(ACTIVATION[act][0](pres[-1]))
    return pres, values, loss_value(spec["loss"], values[-1], np.array(spec["target"]))


def random_spec(layers: list[int], activation: str | list[str], loss: str,
                seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    target = rng.uniform(0, 1, layers[-1]) if loss == "softmax_cross_entropy" else \
        rng.normal(size=layers[-1])
    shapes = zip(layers[1:], layers[:-1], strict=True)
    return {
        "layers": layers,
        "weights": [rng.normal(size=shape).tolist() for shape in shapes],
        "biases": [rng.normal(scale=0.5, size=n).tolist() for n in layers[1:]],
        "activation": activation,
        "input": rng.normal(size=layers[0]).tolist(),
        "target": target.tolist(),
        "loss": loss,
    }


def node_names(layers: list[int]) -> list[list[str]]:
    names = [[f"X{i + 1}" for i in range(layers[0])]]
    count = 0
    for size in layers[1:-1]:
        names.append([f"H{count + i + 1}" for i in range(size)])
        count += size
    names.append(["Out"] if layers[-1] == 1 else [f"Out{k + 1}" for k in range(layers[-1])])
    return names


def symbol_values(spec: dict[str, Any]) -> dict[str, float]:
    """Every symbol a formula may use, from the independent forward pass."""
    layers = spec["layers"]
    acts = spec["activation"]
    acts = acts if isinstance(acts, list) else [acts] * (len(layers) - 1)
    pres, values, _ = run(spec)
    found: dict[str, float] = {}
    for l, names in enumerate(node_names(layers)):
        for i, name in enumerate(names):
            found[name] = float(values[l][i])
            if l:
                found[f"dact_{name}"] = float(ACTIVATION[acts[l - 1]][1](pres[l][i]))
    targets = ["Y"] if layers[-1] == 1 else [f"Y{k + 1}" for k in range(layers[-1])]
    found.update(zip(targets, map(float, spec["target"]), strict=True))
    for number, (name, value) in enumerate(weight_entries(spec), start=1):
        assert name == f"W{number}"
        found[name] = value
    return found


def weight_entries(spec: dict[str, Any]) -> list[tuple[str, float]]:
    flat = [v for matrix in spec["weights"] for row in matrix for v in row]
    return [(f"W{n + 1}", float(v)) for n, v in enumerate(flat)]


def finite_difference(spec: dict[str, Any], number: int, step: float = 1e-6) -> float:
    """Central difference of the loss in weight W<number> (1-based, row by row)."""
    def loss_at(delta: float) -> float:
        weights = [np.array(w, dtype=float) for w in spec["weights"]]
        index = number - 1
        for matrix in weights:
            if index < matrix.size:
                matrix.flat[index] += delta
                break
            index -= matrix.size
        return run({**spec, "weights": [w.tolist() for w in weights]})[2]

    return (loss_at(step) - loss_at(-step)) / (2 * step)


@pytest.mark.parametrize(
    ("layers", "activation", "loss", "seed"),
    [
        ([2, 3, 2, 1], "tanh", "l1", 0),
        ([3, 2, 2, 2], ["sigmoid", "relu", "tanh"], "mse", 1),
        ([2, 2, 3, 2], "leaky_relu", "half_sse", 2),
        ([2, 3, 3], ["tanh", "identity"], "softmax_cross_entropy", 3),
        ([1, 2, 2, 2, 1], "relu", "mse", 4),
        ([2, 2, 2, 3], "sigmoid", "softmax_cross_entropy", 5),
    ],
)
def test_formula_matches_finite_differences(
    layers: list[int], activation: str | list[str], loss: str, seed: int
) -> None:
    spec = random_spec(layers, activation, loss, seed)
    pres, outs, _ = run(spec)
    # Keep clear of kinks (relu at 0, |Out - Y| at 0), where differences do not converge.
    assert min(np.abs(p).min() for p in pres[1:]) > 1e-3
    assert np.abs(outs[-1] - np.array(spec["target"])).min() > 1e-3
    values = symbol_values(spec)
    formulas, differences = [], []
    for number, (name, _) in enumerate(weight_entries(spec), start=1):
        expr = sympy.sympify(formula(spec, name)["text"])
        assert {s.name for s in expr.free_symbols} <= values.keys()
        formulas.append(float(expr.subs({sympy.Symbol(k): v for k, v in values.items()})))
        differences.append(finite_difference(spec, number))
    np.testing.assert_allclose(formulas, differences, rtol=1e-5, atol=1e-7)


# --- refusals ------------------------------------------------------------------------------

WIDE = {"layers": [1, 8, 9, 9, 1], "activation": "tanh", "loss": "half_sse", "input": [1],
        "target": [0], "weights": [[[0.1]] * 8, [[0.1] * 8] * 9, [[0.1] * 9] * 9, [[0.1] * 9]]}


def test_too_many_paths_is_refused_with_count_and_limit() -> None:
    with pytest.raises(PathLimitError) as caught:
        formula(WIDE, "W1")
    assert str(caught.value) == (
        "weight: W1 has 81 paths; a formula is refused above 64 paths (unreadable)"
    )
    assert (caught.value.field, caught.value.paths, caught.value.limit) == ("weight", 81, 64)


def test_max_paths_raises_the_limit() -> None:
    assert formula(WIDE, "W1", max_paths=81)["paths"] == 81
    with pytest.raises(PathLimitError, match="W1 has 81 paths; .* above 80 paths"):
        formula(WIDE, "W1", max_paths=80)


def test_weights_near_the_output_of_a_wide_network_still_have_formulas() -> None:
    assert formula(WIDE, "W9")["paths"] == 9
    assert formula(WIDE, "W170")["paths"] == 1


@pytest.mark.parametrize("max_paths", [0, -1, True, 1.5, "64", None])
def test_bad_max_paths_is_an_option_error(max_paths: Any) -> None:
    with pytest.raises(OptionError, match=r"^max_paths: expected a positive integer"):
        formula(SEED, "W1", max_paths=max_paths)


@pytest.mark.parametrize("weight", ["W15", "W0", "b_H1", "H1", "w1", "", None])
def test_unknown_weight(weight: Any) -> None:
    with pytest.raises(UnknownWeightError, match=r"^weight: expected a weight name W1\.\.W14"):
        formula(SEED, weight)


def test_invalid_spec_is_the_spec_error() -> None:
    bad = {**SEED, "weights": SEED["weights"][:2]}
    with pytest.raises(SpecError, match=r"^weights: "):
        formula(bad, "W1")
    with pytest.raises(SpecError, match=r"weights\[0\]\[0\]\[0\]: expected a number"):
        formula({**SEED, "activation": "tanh", "weights": [[["x", 1]] * 3] + SEED["weights"][1:]},
                "W1")


def test_public_api_is_still_the_function_after_the_module_is_imported() -> None:
    from worker.engine import formula as public

    assert callable(public) and public is worker.engine.formula
    assert public(SEED, "W1") == formula(SEED, "W1")
