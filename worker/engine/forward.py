"""The forward pass: activations, losses and dLoss/dOut, batched over networks.

Every function here works on a *batch*: arrays with a leading axis B, one entry
per network of the same shape. The same code runs in float64 and, for exact
arithmetic, on object arrays of ``fractions.Fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .batch import Batch

__all__ = ["Forward", "LEAKY_SLOPE", "forward"]

Array = npt.NDArray[Any]

LEAKY_SLOPE = Fraction(1, 100)

# Derivative used at a kink, per subgradient rule (CONTRACT.md section 1, "subgradient").
_KINK_DERIVATIVE: dict[str, dict[str, Fraction]] = {
    "relu": {"min_norm": Fraction(0), "left": Fraction(0), "right": Fraction(1)},
    "leaky_relu": {"min_norm": LEAKY_SLOPE, "left": LEAKY_SLOPE, "right": Fraction(1)},
    "l1": {"min_norm": Fraction(0), "left": Fraction(-1), "right": Fraction(1)},
}


@dataclass(frozen=True, eq=False)
class Forward:
    """The forward pass of a batch.

    Attributes
    ----------
    pre, values, derivatives : list of ndarray
        Index l = 0 ... L, each (B, n_l): pre-activation, activation value and
        activation derivative (at a kink, the chosen subgradient). Index 0 holds
        the inputs in ``values`` and is None in the other two.
    kinks : list of ndarray
        Index l = 1 ... L (0 is None), bool (B, n_l): a relu/leaky_relu neuron
        whose pre-activation is exactly 0.
    loss : ndarray
        (B,)
    loss_gradient : ndarray
        dLoss/dOut, (B, nL).
    loss_kinks : ndarray
        bool (B, nL): an l1 output exactly on its target.
    """

    pre: list[Array | None]
    values: list[Array]
    derivatives: list[Array | None]
    kinks: list[Array | None]
    loss: Array
    loss_gradient: Array
    loss_kinks: Array

    def __repr__(self) -> str:
        return f"Forward(batch={self.loss.shape[0]}, layers={len(self.values) - 1})"


def forward(batch: Batch, subgradient: str = "min_norm") -> Forward:
    """Run the forward pass of every network in the batch.

    Parameters
    ----------
    batch : Batch
    subgradient : {"min_norm", "left", "right"}
        The derivative used at a kink.

    Returns
    -------
    Forward

    Examples
    --------
    >>> from worker.engine.batch import stack
    >>> from worker.engine.spec import parse_spec
    >>> net = parse_spec({"layers": [1, 1], "weights": [[[2.0]]], "activation": "relu",
    ...                   "input": [1.5], "target": [1.0], "loss": "half_sse"})
    >>> float(forward(stack([net])).loss[0])
    2.0
    """
    pre: list[Array | None] = [None]
    values: list[Array] = [batch.input]
    derivatives: list[Array | None] = [None]
    kinks: list[Array | None] = [None]
    with np.errstate(over="ignore", invalid="ignore"):
        for weights, biases, name in zip(
            batch.weights, batch.biases, batch.activations, strict=True
        ):
            z = np.matmul(weights, values[-1][:, :, None])[:, :, 0] + biases
            value, derivative, kink = _activate(name, z, subgradient, batch.exact)
            pre.append(z)
            values.append(value)
            derivatives.append(derivative)
            kinks.append(kink)
        loss, gradient, loss_kinks = _loss(batch.loss, values[-1], batch.target, subgradient,
                                           batch.exact)
    return Forward(pre, values, derivatives, kinks, loss, gradient, loss_kinks)


def _constant(value: Fraction, exact: bool) -> Any:
    return value if exact else float(value)


def _activate(name: str, z: Array, subgradient: str, exact: bool) -> tuple[Array, Array, Array]:
    one, zero = _constant(Fraction(1), exact), _constant(Fraction(0), exact)
    no_kinks = np.zeros(z.shape, dtype=bool)
    if name == "identity":
        return z, np.full(z.shape, one, dtype=z.dtype), no_kinks
    if name == "sigmoid":
        # With e = exp(-|z|) <= 1 nothing overflows, and e / (1 + e)^2 keeps the derivative's
        # relative precision where s * (1 - s) would round 1 - s to 0 (z >> 0).
        e = np.exp(-np.abs(z))
        s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return s, e / ((1.0 + e) * (1.0 + e)), no_kinks
    if name == "tanh":
        # 1 - tanh^2 = 4e / (1 + e)^2 with e = exp(-2|z|): exact where 1 - t*t cancels.
        e = np.exp(-2.0 * np.abs(z))
        return np.tanh(z), 4.0 * e / ((1.0 + e) * (1.0 + e)), no_kinks
    slope = one if name == "relu" else _constant(LEAKY_SLOPE, exact)
    low = zero if name == "relu" else slope
    at_kink = _constant(_KINK_DERIVATIVE[name][subgradient], exact)
    positive, negative = z > 0, z < 0
    value = np.where(positive, z, z * low if name == "leaky_relu" else zero)
    derivative = np.where(positive, one, np.where(negative, low, at_kink))
    return value.astype(z.dtype), derivative.astype(z.dtype), ~(positive | negative)


def _loss(
    name: str, out: Array, target: Array, subgradient: str, exact: bool
) -> tuple[Array, Array, Array]:
    diff = out - target
    count = out.shape[1]
    no_kinks = np.zeros(out.shape, dtype=bool)
    if name == "l1":
        positive, negative = diff > 0, diff < 0
        at_kink = _constant(_KINK_DERIVATIVE["l1"][subgradient], exact)
        one = _constant(Fraction(1), exact)
        sign = np.where(positive, one, np.where(negative, -one, at_kink)).astype(out.dtype)
        return np.abs(diff).sum(axis=1), sign, ~(positive | negative)
    if name == "mse":
        return (diff * diff).sum(axis=1) / count, diff * 2 / count, no_kinks
    if name == "half_sse":
        return (diff * diff).sum(axis=1) / 2, diff, no_kinks
    # softmax_cross_entropy, computed through log-sum-exp so large outputs do not overflow.
    shifted = out - out.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    softmax = np.exp(log_softmax)
    loss = -(target * log_softmax).sum(axis=1)
    gradient = softmax * target.sum(axis=1, keepdims=True) - target
    return loss, gradient, no_kinks
