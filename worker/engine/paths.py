"""Explicit path enumeration: every suffix path from a neuron to an output, as one product.

A suffix path from neuron v of layer l runs v = i_l -> i_{l+1} -> ... -> i_L (an
output). Its product is

    T_l[i_l, ..., i_L] = s_l[i_l] * W_{l+1}[i_{l+1}, i_l] * s_{l+1}[i_{l+1}] * ...
                         * W_L[i_L, i_{L-1}] * s_L[i_L] * dLoss/dOut[i_L]

with s = sigma'(z). The contribution of a weight-path u -> v -> ... -> out is
``a_u * T_l[v, ...]``, so summing T_l over everything but its first index gives the
path-sum gradient of every weight into v. Nothing is summed before the end: each
path's product is materialised, which is what makes this a check on backprop
(where sums are taken layer by layer).

Paths are produced in lexicographic order of their node indices, in blocks of at
most ``budget`` products, so memory stays bounded for any number of paths.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHUNK_ELEMENTS",
    "SuffixPaths",
    "path_sums",
    "paths_per_node",
    "suffix_path_count",
]

Array = npt.NDArray[Any]

# Products per block: 2**21 float64 = 16 MiB, small enough to stay in cache-friendly
# territory and to keep the peak memory of a 10^8-path network far below 500 MB.
CHUNK_ELEMENTS = 1 << 21


def paths_per_node(layers: Sequence[int], l: int) -> int:
    """Number of suffix paths from one neuron of layer l to the outputs: prod n_m, m > l.

    Examples
    --------
    >>> paths_per_node((2, 3, 2, 1), 1)
    2
    """
    return math.prod(layers[l + 1 :])


def suffix_path_count(layers: Sequence[int]) -> int:
    """Total number of suffix paths, over every non-input neuron, of one network.

    Examples
    --------
    >>> suffix_path_count((2, 3, 2, 1))  # 3*2*1 + 2*1 + 1
    9
    """
    return sum(math.prod(layers[l:]) for l in range(1, len(layers)))


class SuffixPaths:
    """The suffix-path products of a batch of networks, enumerated in bounded blocks.

    Parameters
    ----------
    weights : sequence of ndarray
        ``weights[l-1]``: (B, n_l, n_{l-1}).
    derivatives : sequence of ndarray
        Index l = 1 ... L: sigma'(z_l), (B, n_l) (index 0 unused).
    loss_gradient : ndarray
        dLoss/dOut, (B, nL).
    budget : int
        Most products held in memory at once (per block).

    Notes
    -----
    The tensors T_m are built from the output layer down, each from the one above
    by one broadcast multiply, for as long as they fit in ``budget`` ("held"
    layers). Paths from lower layers are produced in blocks: a block of prefix
    rows (i_l ... i_{h-1}) times the held tensor T_h of the lowest held layer h.
    """

    def __init__(
        self,
        weights: Sequence[Array],
        derivatives: Sequence[Array | None],
        loss_gradient: Array,
        *,
        budget: int = CHUNK_ELEMENTS,
    ) -> None:
        self.weights = list(weights)
        self.derivatives = list(derivatives)
        self.batch = int(loss_gradient.shape[0])
        self.layers = (self.weights[0].shape[2], *(w.shape[1] for w in self.weights))
        self.depth = len(self.weights)
        self.budget = budget
        last = self.derivatives[self.depth]
        assert last is not None  # derivatives[1..L] are always set by the forward pass
        self.held: dict[int, Array] = {self.depth: (last * loss_gradient)[:, :, None]}
        self.lowest_held = self.depth
        for m in range(self.depth - 1, 0, -1):
            if self.batch * math.prod(self.layers[m:]) > budget:
                break
            self.held[m] = self._extend(m, self.held[m + 1])
            self.lowest_held = m

    def _extend(self, m: int, above: Array) -> Array:
        """T_m from T_{m+1}: one broadcast multiply, each path's product from its suffix's."""
        s = self.derivatives[m]
        assert s is not None
        # coef[b, i_m, i_{m+1}] = s_m[i_m] * W_{m+1}[i_{m+1}, i_m]
        # C order matters: ufunc outputs follow their inputs' layout, and a transposed
        # coef would make the reshape below copy every product.
        coef = np.ascontiguousarray(s[:, :, None] * np.swapaxes(self.weights[m], 1, 2))
        batch, n_m, n_next = coef.shape
        products = coef[:, :, :, None] * above[:, None, :, :]
        return products.reshape(batch, n_m, n_next * above.shape[2])

    @property
    def count(self) -> int:
        """Suffix paths per network."""
        return suffix_path_count(self.layers)

    def rows(self, l: int, b: int, node: int | None = None) -> Iterator[tuple[int, Array]]:
        """Yield the path products from layer l of network b, in lexicographic order.

        Parameters
        ----------
        l : int
            Layer of the first neuron of the paths, 1 ... L.
        b : int
            Which network of the batch.
        node : int, optional
            Only paths starting at this neuron of layer l.

        Yields
        ------
        start : int
            Flat (lexicographic) index of the block's first product, counted over
            the paths enumerated (those of ``node`` only when it is given).
        block : ndarray
            (rows, row_length) products; rows are consecutive prefixes.
        """
        if l >= self.lowest_held:
            tensor = self.held[l][b]
            yield 0, tensor[node : node + 1] if node is not None else tensor
            return
        yield from self._prefix_blocks(l, b, node)

    def _prefix_blocks(self, l: int, b: int, node: int | None) -> Iterator[tuple[int, Array]]:
        h = self.lowest_held
        prefix = self.layers[l:h]
        per_node = math.prod(prefix[1:])
        start, stop = (0, math.prod(prefix)) if node is None else (
            node * per_node, (node + 1) * per_node)
        suffix = self.held[h][b].reshape(self.layers[h], -1)
        row_length = suffix.size
        step = max(1, self.budget // row_length)
        into_h = self.weights[h - 1][b]
        for first in range(start, stop, step):
            index = np.unravel_index(np.arange(first, min(first + step, stop)), prefix)
            head = self._prefix_products(l, b, index)
            coef = head[:, None] * into_h[:, index[-1]].T
            block = coef[:, :, None] * suffix[None, :, :]
            yield (first - start) * row_length, block.reshape(len(head), row_length)

    def _prefix_products(self, l: int, b: int, index: tuple[Array, ...]) -> Array:
        """s_l[i_l] * W_{l+1}[i_{l+1}, i_l] * s_{l+1}[i_{l+1}] ... up to s_{h-1}[i_{h-1}]."""
        first = self.derivatives[l]
        assert first is not None
        head = first[b][index[0]]
        for k in range(1, len(index)):
            s = self.derivatives[l + k]
            assert s is not None
            head = head * self.weights[l + k - 1][b][index[k], index[k - 1]] * s[b][index[k]]
        return head

    def sums(self) -> list[Array]:
        """Return S_l = sum of the path products from each neuron, l = 1 ... L.

        Returns
        -------
        list of ndarray
            ``result[l]``: (B, n_l); ``result[0]`` is None-like (an empty array).
        """
        first = self.held[self.depth]
        result: list[Array] = [np.empty((self.batch, 0), dtype=first.dtype)]
        for l in range(1, self.depth + 1):
            if l >= self.lowest_held:
                result.append(self.held[l].sum(axis=2))
                continue
            total = np.zeros((self.batch, self.layers[l]), dtype=first.dtype)
            per_node = math.prod(self.layers[l + 1 : self.lowest_held])
            for b in range(self.batch):
                for start, block in self.rows(l, b):
                    row_start = start // block.shape[1]
                    owner = np.arange(row_start, row_start + block.shape[0]) // per_node
                    np.add.at(total[b], owner, block.sum(axis=1))
            result.append(total)
        return result

    def __repr__(self) -> str:
        return (f"SuffixPaths(batch={self.batch}, layers={list(self.layers)}, "
                f"paths={self.count}, held_from_layer={self.lowest_held})")


def path_sums(
    weights: Sequence[Array],
    derivatives: Sequence[Array | None],
    loss_gradient: Array,
    *,
    budget: int = CHUNK_ELEMENTS,
) -> list[Array]:
    """Sum every suffix path's product per starting neuron and sample, for a whole batch.

    Each sample of each network is enumerated on its own (its derivatives and dLoss/dOut
    differ; the weights are its network's): rows are taken in slices small enough that
    each slice's products fit the budget; a row too large for it alone is enumerated
    in blocks.

    Parameters
    ----------
    weights : sequence of ndarray
        ``weights[l-1]``: (B, n_l, n_{l-1}).
    derivatives : sequence of ndarray
        Index l = 1 ... L: sigma'(z_l), (B, N, n_l) (index 0 unused).
    loss_gradient : ndarray
        dLoss/dOut, (B, N, nL).
    budget : int
        Most products in memory at once.

    Returns
    -------
    list of ndarray
        ``result[l]``: (B, N, n_l) for l = 1 ... L.
    """
    batch, samples = (int(n) for n in loss_gradient.shape[:2])
    rows = batch * samples
    layers = (weights[0].shape[2], *(w.shape[1] for w in weights))
    per_slice = max(1, budget // math.prod(layers[1:]))
    parts: list[list[Array]] = []
    for first in range(0, rows, per_slice):
        if samples == 1:  # rows are networks: slices of the arrays, no copies
            rows_of: Any = slice(first, first + per_slice)
            network, sample = rows_of, 0
        else:
            rows_of = np.arange(first, min(first + per_slice, rows))
            network, sample = rows_of // samples, rows_of % samples
        parts.append(SuffixPaths(
            [w[network] for w in weights],
            [None if d is None else d[network, sample] for d in derivatives],
            loss_gradient[network, sample],
            budget=budget,
        ).sums())
    return [np.concatenate([p[l] for p in parts]).reshape(batch, samples, layers[l])
            if l else np.empty((batch, samples, 0), dtype=parts[0][0].dtype)
            for l in range(len(parts[0]))]
