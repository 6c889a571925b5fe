"""The forward pass: activations, losses and dLoss/dOut, batched over networks.

Every function here works on a *batch*: arrays with a leading axis B, one entry
per network of the same shape, then an axis N, one entry per sample of the
networks' mini-batch. The loss of a network is the mean over its samples of each
sample's loss (docs/CONTRACT.md section 10), so dLoss/dOut of a sample carries 1/N.
The same code runs in float64 and, for exact arithmetic, on object arrays of
``fractions.Fraction``; each layer's activation and the loss are their records'
(:mod:`worker.engine.activations`, :mod:`.losses`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .batch import Batch

__all__ = ["Forward", "forward"]

Array = npt.NDArray[Any]


@dataclass(frozen=True, eq=False)
class Forward:
    """The forward pass of a batch.

    Attributes
    ----------
    pre, values, derivatives : list of ndarray
        Index l = 0 ... L, each (B, N, n_l): pre-activation, activation value and
        activation derivative (at a kink, the chosen subgradient). Index 0 holds
        the inputs in ``values`` and is None in the other two.
    kinks : list of ndarray
        Index l = 1 ... L (0 is None), bool (B, N, n_l): a relu/leaky_relu neuron
        whose pre-activation is exactly 0.
    loss : ndarray
        (B,) the mean over the samples of each sample's loss.
    loss_gradient : ndarray
        dLoss/dOut of each sample, (B, N, nL): the per-sample derivative over N.
    loss_kinks : ndarray
        bool (B, N, nL): an l1 output exactly on its target.
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
        for weights, biases, activation in zip(
            batch.weights, batch.biases, batch.activations, strict=True
        ):
            z = np.matmul(values[-1], np.swapaxes(weights, 1, 2)) + biases[:, None, :]
            value, derivative, kink = activation.apply(z, subgradient, batch.exact)
            pre.append(z)
            values.append(value)
            derivatives.append(derivative)
            kinks.append(kink)
        losses, gradient, loss_kinks = batch.loss.apply(values[-1], batch.target, subgradient,
                                                        batch.exact)
    samples = batch.samples
    if samples > 1:  # the mean over samples (one sample: nothing to divide)
        losses, gradient = losses.sum(axis=1) / samples, gradient / samples
    else:
        losses = losses[:, 0]
    return Forward(pre, values, derivatives, kinks, losses, gradient, loss_kinks)
