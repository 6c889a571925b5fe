"""The activation and loss records: each one's numbers agree with its own symbolic form."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

from worker.engine.activations import ACTIVATIONS, Activation
from worker.engine.losses import LOSSES, Loss

Z = np.array([[-2.5, -0.3, 0.7, 3.1]])  # no kink among them


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_value_and_derivative_are_the_symbolic_forms(name: str) -> None:
    activation: Activation = ACTIVATIONS[name]()
    z = sympy.Symbol("z", real=True)
    expression = activation.symbolic(z)
    value, derivative, kinks = activation.apply(Z, "min_norm", exact=False)
    for k, point in enumerate(Z[0]):
        at = {z: sympy.Float(point, 30)}
        np.testing.assert_allclose(value[0, k], float(expression.subs(at)), rtol=1e-14)
        np.testing.assert_allclose(derivative[0, k], float(sympy.diff(expression, z).subs(at)),
                                   rtol=1e-13)
    assert not kinks.any()
    assert activation.has_unit_derivative == bool(np.all(derivative == 1.0))


@pytest.mark.parametrize("name", [n for n, record in ACTIVATIONS.items() if record.rational])
def test_rational_activations_compute_exactly_what_float_does(name: str) -> None:
    activation = ACTIVATIONS[name]()
    exact = np.array([[Fraction(-5, 2), Fraction(-3, 10), Fraction(7, 10), Fraction(31, 10)]],
                     dtype=object)
    value, derivative, _ = activation.apply(exact, "min_norm", exact=True)
    numbers = value.ravel().tolist() + derivative.ravel().tolist()
    assert all(isinstance(v, Fraction) for v in numbers)
    float_value, float_derivative, _ = activation.apply(Z, "min_norm", exact=False)
    np.testing.assert_allclose(value.astype(float), float_value, rtol=1e-15)
    np.testing.assert_allclose(derivative.astype(float), float_derivative, rtol=1e-15)


@pytest.mark.parametrize("name", [n for n, record in ACTIVATIONS.items() if record.kinked])
def test_a_kink_takes_each_rules_one_sided_derivative(name: str) -> None:
    activation = ACTIVATIONS[name]()
    _, left, _ = activation.apply(np.array([[-1.0]]), "min_norm", exact=False)
    _, right, _ = activation.apply(np.array([[1.0]]), "min_norm", exact=False)
    for rule, side in (("left", left), ("right", right)):
        _, at_zero, kinks = activation.apply(np.array([[0.0]]), rule, exact=False)
        assert kinks[0, 0] and at_zero[0, 0] == side[0, 0] == float(activation.at_kink(rule))
    # min_norm: 0 where the derivative may be 0 (relu), else the slope, as PyTorch does.
    assert activation.at_kink("min_norm") == min(activation.at_kink("left"),
                                                 activation.at_kink("right"), key=abs)


@pytest.mark.parametrize("name", LOSSES)
def test_dloss_dout_is_the_numeric_and_the_symbolic_gradient(name: str) -> None:
    loss: Loss = LOSSES[name]
    out = np.array([[0.3, -1.2, 2.0]])
    target = np.array([[0.5, 0.25, 0.25]]) if name == "softmax_cross_entropy" \
        else np.array([[1.0, -2.0, 0.5]])
    value, gradient, kinks = loss.apply(out, target, "min_norm", exact=False)
    assert not kinks.any()
    step = 1e-6
    for k in range(3):
        moved = out.copy()
        moved[0, k] += step
        plus = loss.apply(moved, target, "min_norm", exact=False)[0][0]
        moved[0, k] -= 2 * step
        minus = loss.apply(moved, target, "min_norm", exact=False)[0][0]
        np.testing.assert_allclose(gradient[0, k], (plus - minus) / (2 * step), rtol=1e-6)
    outs = sympy.symbols("Out1:4")
    targets = sympy.symbols("Y1:4")
    symbolic = loss.symbolic_gradient(outs, targets)
    at = dict(zip(outs, out[0].tolist(), strict=True)) | dict(zip(targets, target[0].tolist(),
                                                                  strict=True))
    np.testing.assert_allclose([float(g.subs(at)) for g in symbolic], gradient[0], rtol=1e-12)
    assert loss.derivative_rule and loss.describe(["Out - Y"])
