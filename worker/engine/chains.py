"""Chains: the paths of a layered graph whose contribution is a product, without enumerating.

A :class:`Chain` has positions t = 0 ... T, each a set of neurons of one layer; a
path picks one neuron i_t at every position, and its contribution is

    start[i_0] * steps[0][i_0, i_1] * ... * steps[T-1][i_{T-1}, i_T] * end[i_T].

The paths of a weight W on the edge u -> v of layer l are a chain: position 0 is v
alone, with ``start = a_u * sigma'_l(v)``; step t enters layer l+t+1 with factor
``W[i', i] * sigma'(i')``; ``end`` is dLoss/dOut. A bias is the same without a_u, and
the network's input-to-output paths are a chain from the inputs (``start = x``),
restricted to a neuron or a weight by keeping one neuron at its positions.

Everything asked of the paths is answered by sums and products over the layers,
never by listing them: their count, their total (the gradient: backprop restricted
to the chain), the total of their absolute values, the total of the first N in
index order, a page at any position in index order, and the k largest or smallest
by |contribution| (:func:`best`: a best-first search whose every step is exact, as a
prefix of a best path is itself among the best). The same code runs on float64 and
on object arrays of ``Fraction``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Chain", "best"]

Array = npt.NDArray[Any]



@dataclass(frozen=True, eq=False)
class Chain:
    """The paths of a layered product graph (see the module docstring).

    Attributes
    ----------
    start : ndarray
        (n_0,) the factor of each neuron of position 0.
    steps : list of ndarray
        ``steps[t]``: (n_t, n_{t+1}), the factor of going from neuron i_t to i_{t+1}.
    end : ndarray
        (n_T,) the factor of each neuron of the last position.
    neurons : tuple of ndarray
        Per position, the index in its layer of each neuron kept (all, or one).
    layers : tuple of int
        The network layer of each position.
    exact : bool
        Whether the factors are ``Fraction`` objects.
    """

    start: Array
    steps: list[Array]
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

    def magnitudes(self) -> Chain:
        """The same chain with every factor's absolute value (|contribution| of each path)."""
        return Chain(np.abs(self.start), [np.abs(s) for s in self.steps], np.abs(self.end),
                     self.neurons, self.layers, self.exact)

    def suffix_sums(self) -> list[Array]:
        """Per position t, for each neuron, the sum over the paths from it of the rest."""
        sums = [self.end]
        for step in reversed(self.steps):
            sums.append(step @ sums[-1])
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
        total, prefix, previous = self.start[:0].sum(), None, 0
        for t, digit in enumerate(int(d) for d in digits):
            entering = self.start if prefix is None else prefix * self.steps[t - 1][previous]
            total = total + (entering[:digit] * suffix[t][:digit]).sum()
            prefix, previous = entering[digit], digit
        return total

    def page(self, offset: int, count: int) -> tuple[list[tuple[int, ...]], list[Any]]:
        """Paths ``offset`` ... ``offset + count - 1`` in index order, and their contributions.

        Each path is a tuple of positions into :attr:`neurons`; its contribution is
        the product of its factors, left to right.
        """
        stop = min(offset + count, self.count)
        if stop <= offset:
            return [], []
        index = np.unravel_index(np.arange(offset, stop), self.sizes)
        values = self.start[index[0]]
        for t, step in enumerate(self.steps):
            values = values * step[index[t], index[t + 1]]
        values = values * self.end[index[-1]]
        return list(zip(*(i.tolist() for i in index), strict=True)), values.tolist()

    def value(self, path: Sequence[int]) -> Any:
        """The contribution of one path, left to right (as :meth:`page` computes it)."""
        value = self.start[path[0]]
        for t, step in enumerate(self.steps):
            value = value * step[path[t], path[t + 1]]
        return value * self.end[path[-1]]

    def __repr__(self) -> str:
        return f"Chain(layers={list(self.layers)}, sizes={list(self.sizes)}, paths={self.count})"


def best(chain: Chain, count: int, *, largest: bool = True) -> list[tuple[int, ...]]:
    """The ``count`` paths of largest (or smallest) |contribution|, ties in index order.

    Parameters
    ----------
    chain : Chain
    count : int
        How many (fewer when the chain has fewer paths).
    largest : bool
        The largest |contribution| first; else the smallest first.

    Returns
    -------
    list of tuple of int
        The paths, best first, as positions into ``chain.neurons``.

    Notes
    -----
    Every factor's absolute value is non-negative, so the best completion of a
    path's prefix is found greedily from the best value onward of each neuron (one
    backward pass with max, or min, in place of the sum). Each neuron's choices are
    ranked by that value (ties by index); a path is a sequence of ranks, the best
    path all zeros, and the paths are popped from a heap best first, each pushing
    the paths that differ from it at one later position by the next rank: each path
    is pushed once, after every path better than it. About ``count`` times the depth
    squared steps, after a sort of every neuron's choices.

    The first ``count`` paths are the first ``count`` of any longer list: pages cut
    from them never overlap. In exact arithmetic the order is exact; in float64 a
    path may come one place early or late against one whose |contribution| differs
    from its own only by the rounding (or underflow) of the products.
    """
    magnitude = chain.magnitudes()
    steps, end = magnitude.steps, magnitude.end
    pick = np.max if largest else np.min
    ahead = [end]  # best |value| onward from each neuron of each position
    for step in reversed(steps):
        ahead.append(pick(step * ahead[-1][None, :], axis=1))
    ahead = ahead[::-1]
    keys = [magnitude.start * ahead[0]] + [step * ahead[t + 1][None, :]
                                           for t, step in enumerate(steps)]
    # Choices ranked best first, ties by index (a stable sort of the order key).
    orders = [_ranked(k, largest) for k in keys]
    depth = len(steps)
    factors = [magnitude.start] + steps  # factors[p][..., i]: of entering neuron i at p

    def choices(position: int, path: Sequence[int], before: Any) -> Array:
        """The neurons of ``position`` after ``path``, best first.

        After a prefix whose product is 0 every completion is 0, a tie: by index.
        """
        if position and not before:
            return _INDEX[len(factors[position][0])]
        return orders[0] if position == 0 else orders[position][path[position - 1]]

    def complete(path: list[int], before: Any) -> tuple[int, ...]:
        """The best completion of ``path``, whose factors' product is ``before``."""
        while len(path) <= depth:
            position = len(path)
            path.append(int(choices(position, path, before)[0]))
            before = before * factors[position][path[position - 1], path[-1]]
        return tuple(path)

    def key(path: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
        value = magnitude.value(path)
        return (-value if largest else value), path

    first = complete([int(orders[0][0])], magnitude.start[orders[0][0]])
    heap = [(key(first), 0, 0)]  # ((order key, path), position of its last change, its rank)
    found: list[tuple[int, ...]] = []
    while heap and len(found) < count:
        (_, path), changed, rank = heapq.heappop(heap)
        found.append(path)
        prefixes = _prefixes(factors, path)
        for position in range(changed, depth + 1):
            next_rank = rank + 1 if position == changed else 1
            before = prefixes[position - 1] if position else 1
            ranked = choices(position, path, before)
            if next_rank < len(ranked):
                neuron = int(ranked[next_rank])
                entered = factors[position][neuron] if position == 0 \
                    else before * factors[position][path[position - 1], neuron]
                successor = complete([*path[:position], neuron], entered)
                heapq.heappush(heap, (key(successor), position, next_rank))
    return found


def _prefixes(factors: list[Array], path: Sequence[int]) -> list[Any]:
    """The product of the factors up to and including each position of ``path``."""
    products = [factors[0][path[0]]]
    for position in range(1, len(path)):
        products.append(products[-1] * factors[position][path[position - 1], path[position]])
    return products


class _Indices(dict[int, Array]):
    """``_INDEX[n]``: the neurons 0 ... n-1 in index order (made once per size)."""

    def __missing__(self, size: int) -> Array:
        self[size] = np.arange(size)
        return self[size]


_INDEX = _Indices()


def _ranked(keys: Array, largest: bool) -> Array:
    """Indices of each row's choices, best first; ties keep index order (stable sort)."""
    return np.argsort(-keys if largest else keys, axis=-1, kind="stable")
