"""Layer-wise backprop: the delta recursion, batched over networks.

With delta_L = dLoss/dOut * sigma'(z_L) and, going down,

    delta_{l-1} = (W_l^T delta_l) * sigma'(z_{l-1}),

the gradient of the weight from node j of layer l-1 to node i of layer l is
``delta_l[i] * a_{l-1}[j]`` and of the bias of that node ``delta_l[i]``, each summed
over the samples of the mini-batch (their dLoss/dOut carries the mean's 1/N).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Gradients", "backprop", "deltas", "magnitudes"]

Array = npt.NDArray[Any]


@dataclass(frozen=True, eq=False)
class Gradients:
    """dLoss/dW and dLoss/db for every layer of a batch.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l-1]``: (B, n_l, n_{l-1}).
    biases : list of ndarray
        ``biases[l-1]``: (B, n_l).
    """

    weights: list[Array]
    biases: list[Array]

    def __repr__(self) -> str:
        shapes = [tuple(w.shape[1:]) for w in self.weights]
        return f"Gradients(batch={self.biases[0].shape[0]}, weights={shapes})"


def deltas(
    weights: Sequence[Array], derivatives: Sequence[Array | None], loss_gradient: Array
) -> list[Array]:
    """Return delta_l = dLoss/dz_l for l = 1 ... L (index 0 is unused and None-like).

    Parameters
    ----------
    weights : sequence of ndarray
        ``weights[l-1]``: (B, n_l, n_{l-1}).
    derivatives : sequence of ndarray
        Index l = 1 ... L: sigma'(z_l), (B, N, n_l).
    loss_gradient : ndarray
        dLoss/dOut, (B, N, nL).

    Returns
    -------
    list of ndarray
        ``result[l]``: (B, N, n_l), one row per sample; ``result[0]`` is an empty
        (B, N, 0) array.

    Examples
    --------
    >>> w = [np.array([[[2.0]]]), np.array([[[3.0]]])]
    >>> d = [None, np.array([[[1.0]]]), np.array([[[1.0]]])]
    >>> [float(x[0, 0, 0]) for x in deltas(w, d, np.array([[[1.0]]]))[1:]]
    [3.0, 1.0]
    """
    depth = len(weights)
    result: list[Array] = [np.empty((*loss_gradient.shape[:2], 0))] * (depth + 1)
    delta = loss_gradient * derivatives[depth]
    result[depth] = delta
    for l in range(depth, 1, -1):
        delta = np.matmul(delta, weights[l - 1]) * derivatives[l - 1]
        result[l - 1] = delta
    return result


def backprop(
    weights: Sequence[Array],
    values: Sequence[Array],
    derivatives: Sequence[Array | None],
    loss_gradient: Array,
) -> Gradients:
    """Compute every weight and bias gradient by the delta recursion.

    Parameters
    ----------
    weights : sequence of ndarray
        ``weights[l-1]``: (B, n_l, n_{l-1}).
    values : sequence of ndarray
        Activations a_l, l = 0 ... L, each (B, N, n_l).
    derivatives : sequence of ndarray
        Index l = 1 ... L: sigma'(z_l), (B, N, n_l).
    loss_gradient : ndarray
        dLoss/dOut, (B, N, nL).

    Returns
    -------
    Gradients
        Summed over the samples.
    """
    delta = deltas(weights, derivatives, loss_gradient)
    return Gradients(
        weights=[np.matmul(np.swapaxes(delta[l], 1, 2), values[l - 1])
                 for l in range(1, len(delta))],
        biases=[delta[l].sum(axis=1) for l in range(1, len(delta))],
    )


def magnitudes(
    weights: Sequence[Array],
    values: Sequence[Array],
    derivatives: Sequence[Array | None],
    loss_gradient: Array,
) -> Gradients:
    """Return the sum of |path contribution| over the paths of every weight and bias.

    Backprop on absolute values: every path product becomes the product of
    absolute values, so the recursion sums |contribution| instead of
    contribution. It is the scale against which rounding error is judged.
    """
    return backprop(
        [np.abs(w) for w in weights],
        [np.abs(v) for v in values],
        [None if d is None else np.abs(d) for d in derivatives],
        np.abs(loss_gradient),
    )
