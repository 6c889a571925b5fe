"""Chains: the paths of a layered graph whose contribution is a product, without enumerating.

A :class:`Chain` has positions t = 0 ... T, each a set of neurons of one layer; a
path picks one neuron i_t at every position. With N samples (a mini-batch,
docs/CONTRACT.md section 10) its contribution is the sum over the samples n of

    start[n, i_0] * steps[0][i_0, i_1] * gates[0][n, i_1] * ...
        * steps[T-1][i_{T-1}, i_T] * gates[T-1][n, i_T] * end[n, i_T]

(one sample: N = 1). The paths of a weight W on the edge u -> v of layer l are a
chain: position 0 is v alone, with ``start = a_u * sigma'_l(v)``; step t enters layer
l+t+1 through the weights (``steps``, shared by the samples) and that neuron's
sigma' (``gates``, per sample); ``end`` is dLoss/dOut (with the mean's 1/N). A bias
is the same without a_u, and the network's input-to-output paths are a chain from
the inputs (``start = x``), restricted to a neuron or a weight by keeping one neuron
at its positions.

Everything asked of the paths is answered by sums and products over the layers,
never by listing them: their count, their total (the gradient: backprop restricted
to the chain), the total of their absolute values, the total of the first N in
index order and a page at any position in index order; :mod:`.ranking` finds the
k largest or smallest by |contribution|. The same code runs on float64 and on
object arrays of ``Fraction``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Chain", "blocks"]

Array = npt.NDArray[Any]

# Most path-samples whose products a block holds (:func:`blocks`).
BLOCK = 1 << 21


@dataclass(frozen=True, eq=False)
class Chain:
    """The paths of a layered product graph (see the module docstring).

    Attributes
    ----------
    start : ndarray
        (N, n_0) the factor of each neuron of position 0, per sample.
    steps : list of ndarray
        ``steps[t]``: (n_t, n_{t+1}), the weight of going from neuron i_t to i_{t+1}.
    gates : list of ndarray
        ``gates[t]``: (N, n_{t+1}), the factor of entering neuron i_{t+1}, per sample.
    end : ndarray
        (N, n_T) the factor of each neuron of the last position, per sample.
    neurons : tuple of ndarray
        Per position, the index in its layer of each neuron kept (all, or one).
    layers : tuple of int
        The network layer of each position.
    exact : bool
        Whether the factors are ``Fraction`` objects.
    """

    start: Array
    steps: list[Array]
    gates: list[Array]
    end: Array
    neurons: tuple[Array, ...]
    layers: tuple[int, ...]
    exact: bool

    @property
    def sizes(self) -> tuple[int, ...]:
        """Neurons at each position."""
        return tuple(len(n) for n in self.neurons)

    @property
    def count(self) -> int:
        """How many paths: the product of the sizes (a Python int, of any size)."""
        return math.prod(self.sizes)

    @property
    def samples(self) -> int:
        """N, the samples each path's contribution sums over."""
        return int(self.start.shape[0])

    def magnitudes(self) -> Chain:
        """The same chain with every factor's absolute value.

        Its paths' values are the sums over the samples of each sample's
        |contribution|: for one sample, |contribution|; for a mini-batch, at least it.
        """
        return Chain(np.abs(self.start), [np.abs(s) for s in self.steps],
                     [np.abs(g) for g in self.gates], np.abs(self.end), self.neurons,
                     self.layers, self.exact)

    def suffix_sums(self) -> list[Array]:
        """Per position t, (N, n_t): for each sample and neuron, the sum of the paths' rest."""
        sums = [self.end]
        for step, gate in zip(reversed(self.steps), reversed(self.gates), strict=True):
            sums.append((gate * sums[-1]) @ step.T)
        return sums[::-1]

    def total(self) -> Any:
        """The sum of every path's contribution (for a weight: dLoss/dW)."""
        return (self.start * self.suffix_sums()[0]).sum()

    def first_sum(self, count: int) -> Any:
        """The sum of the contributions of the first ``count`` paths in index order.

        The paths before position N are, position by position, those that keep N's
        neurons up to t-1 and take a lower one at t: each such set is a whole
        subtree, summed by :meth:`suffix_sums`. O(sum of the sizes), whatever N.
        """
        if count >= self.count:
            return self.total()
        digits = np.unravel_index(count, self.sizes)
        suffix = self.suffix_sums()
        total, prefix, previous = self.start[:, :0].sum(), None, 0
        for t, digit in enumerate(int(d) for d in digits):
            entering = self.start if prefix is None else prefix[:, None] * self.enter(
                t - 1, previous)
            total = total + (entering[:, :digit] * suffix[t][:, :digit]).sum()
            prefix, previous = entering[:, digit], digit
        return total

    def enter(self, t: int, source: Any, target: Any = slice(None)) -> Array:
        """The factors (N, ...) of step t from neuron(s) ``source`` to ``target``."""
        return self.steps[t][source, target] * self.gates[t][:, target]

    def page(self, offset: int, count: int) -> tuple[list[tuple[int, ...]], list[Any]]:
        """Paths ``offset`` ... ``offset + count - 1`` in index order, and their contributions.

        Each path is a tuple of positions into :attr:`neurons`; its contribution is
        the product of its factors, left to right, summed over the samples.
        """
        stop = min(offset + count, self.count)
        if stop <= offset:
            return [], []
        index = np.unravel_index(np.arange(offset, stop), self.sizes)
        values = [self.values_at(tuple(i[block] for i in index))
                  for block in blocks(stop - offset, self.samples)]
        joined = np.concatenate(values) if len(values) > 1 else values[0]
        return list(zip(*(i.tolist() for i in index), strict=True)), joined.tolist()

    def values_at(self, index: tuple[Array, ...]) -> Array:
        """The contributions of the paths whose positions are ``index`` (one array each)."""
        values = self.start[:, index[0]]
        for t in range(len(self.steps)):
            values = values * self.enter(t, index[t], index[t + 1])
        return (values * self.end[:, index[-1]]).sum(axis=0)

    def values_of(self, paths: Sequence[Sequence[int]]) -> list[Any]:
        """The contributions of ``paths`` (tuples of positions), as :meth:`page` computes them."""
        if not paths:
            return []
        index = [np.array(column, dtype=np.int64) for column in zip(*paths, strict=True)]
        return np.concatenate([
            self.values_at(tuple(i[block] for i in index))
            for block in blocks(len(paths), self.samples)]).tolist()

    def __repr__(self) -> str:
        return (f"Chain(layers={list(self.layers)}, sizes={list(self.sizes)}, "
                f"samples={self.samples}, paths={self.count})")


def blocks(count: int, samples: int) -> list[slice]:
    """Slices of ``count`` paths small enough that a block's (N, paths) products fit."""
    step = max(1, BLOCK // samples)
    return [slice(first, first + step) for first in range(0, count, step)]
