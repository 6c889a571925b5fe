"""Central finite differences: a third witness that uses the forward pass only.

For each parameter p, (Loss(p + h) - Loss(p - h)) / 2h with h relative to |p|; the
loss of a mini-batch is its mean over the samples, so every step runs every sample.
A step that moves any relu/leaky_relu pre-activation, or an l1 output difference,
across zero (or off an exact zero) crosses a kink, where the loss is not smooth:
such parameters are skipped and named.

In exact arithmetic the loss, as a function of one parameter, is piecewise
quadratic, so the central difference equals the derivative exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .batch import Batch
from .forward import Forward, forward
from .names import Names

__all__ = ["FiniteDifferences", "finite_differences"]

Array = npt.NDArray[Any]

# cbrt(machine epsilon): balances truncation (h^2) against rounding (eps / h).
_FLOAT_STEP = float(np.finfo(np.float64).eps) ** (1 / 3)
_EXACT_STEP = Fraction(1, 2**20)
_BUDGET = 1 << 21


@dataclass(frozen=True, eq=False)
class FiniteDifferences:
    """Central-difference gradients of one network; NaN (float) or None (exact) where skipped.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l-1]``: (n_l, n_{l-1}).
    biases : list of ndarray
        ``biases[l-1]``: (n_l,).
    skipped : list of str
        Names of the parameters whose step crosses a kink.
    """

    weights: list[Array]
    biases: list[Array]
    skipped: list[str]

    def __repr__(self) -> str:
        return f"FiniteDifferences(layers={len(self.weights)}, skipped={self.skipped})"


def finite_differences(batch: Batch, b: int, base: Forward, subgradient: str) -> FiniteDifferences:
    """Differentiate the loss of network ``b`` of a batch by central differences.

    Parameters
    ----------
    batch : Batch
    b : int
        Which network.
    base : Forward
        The batch's forward pass (for the kink pattern at the unperturbed point).
    subgradient : str
        Passed to the forward pass; irrelevant away from kinks.

    Returns
    -------
    FiniteDifferences
    """
    theta, shapes = _flatten(batch, b)
    count = len(theta)
    magnitude = np.abs(theta)
    if batch.exact:
        step = np.array([_EXACT_STEP * max(Fraction(1), m) for m in magnitude], dtype=object)
    else:
        raw = _FLOAT_STEP * np.maximum(1.0, magnitude)
        step = (theta + raw) - theta  # a step that is exactly representable next to theta
    signature = _kink_signature(batch, base, b)
    gradient = np.empty(count, dtype=object if batch.exact else np.float64)
    crossed = np.zeros(count, dtype=bool)
    # Each perturbed copy holds its parameters and every sample's forward pass.
    per_copy = count + batch.samples * sum(batch.layers)
    per_chunk = max(1, _BUDGET // (2 * per_copy))
    for first in range(0, count, per_chunk):
        chosen = np.arange(first, min(first + per_chunk, count))
        k = len(chosen)
        points = np.repeat(theta[None, :], 2 * k, axis=0)
        points[np.arange(k), chosen] += step[chosen]
        points[np.arange(k, 2 * k), chosen] -= step[chosen]
        moved = _unflatten(batch, b, points, shapes)
        passed = forward(moved, subgradient)
        gradient[chosen] = (passed.loss[:k] - passed.loss[k:]) / (2 * step[chosen])
        pattern = _kink_signature(moved, passed, None)
        crossed[chosen] = (pattern[:k] != signature).any(axis=1) | (
            pattern[k:] != signature).any(axis=1)
    gradient[crossed] = None if batch.exact else np.nan
    return _split(batch, gradient, shapes, crossed)


def _flatten(batch: Batch, b: int) -> tuple[Array, list[tuple[int, ...]]]:
    parts, shapes = [], []
    for w, bias in zip(batch.weights, batch.biases, strict=True):
        parts += [w[b].ravel(), bias[b]]
        shapes += [w.shape[1:], bias.shape[1:]]
    return np.concatenate(parts), shapes


def _unflatten(batch: Batch, b: int, points: Array, shapes: list[tuple[int, ...]]) -> Batch:
    """A batch of copies of network b, one per row of ``points`` (flat parameters)."""
    arrays, at = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        arrays.append(points[:, at : at + size].reshape(len(points), *shape))
        at += size
    repeat = len(points)
    inputs = np.broadcast_to(batch.input[b], (repeat, *batch.input.shape[1:]))
    targets = np.broadcast_to(batch.target[b], (repeat, *batch.target.shape[1:]))
    return Batch(
        layers=batch.layers,
        weights=arrays[0::2],
        biases=arrays[1::2],
        activations=batch.activations,
        input=inputs,
        target=targets,
        loss=batch.loss,
        exact=batch.exact,
        batched=batch.batched,
    )


def _kink_signature(batch: Batch, passed: Forward, b: int | None) -> Array:
    """Signs of everything with a kink: relu/leaky pre-activations and l1 output differences.

    One row per network: every sample's signs, side by side.
    """
    size = passed.loss.shape[0]
    parts = []
    for l, activation in enumerate(batch.activations, start=1):
        if activation.kinked:
            z = passed.pre[l]
            assert z is not None
            parts.append(_sign(z).reshape(size, -1))
    if batch.loss.kinked:
        parts.append(_sign(passed.values[-1] - batch.target).reshape(size, -1))
    if not parts:
        parts.append(np.zeros((size, 0), dtype=np.int8))
    signs = np.concatenate(parts, axis=1)
    return signs if b is None else signs[b]


def _sign(values: Array) -> Array:
    return ((values > 0).astype(np.int8) - (values < 0).astype(np.int8)).astype(np.int8)


def _split(
    batch: Batch, gradient: Array, shapes: list[tuple[int, ...]], crossed: Array
) -> FiniteDifferences:
    names = Names.of(batch.layers)
    arrays, skipped, at = [], [], 0
    for index, shape in enumerate(shapes):
        size = int(np.prod(shape))
        arrays.append(gradient[at : at + size].reshape(shape))
        flat_names = (sum(names.weights[index // 2], []) if index % 2 == 0
                      else names.biases[index // 2])
        skipped += [flat_names[k] for k in np.flatnonzero(crossed[at : at + size])]
        at += size
    return FiniteDifferences(weights=arrays[0::2], biases=arrays[1::2], skipped=skipped)
