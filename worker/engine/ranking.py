"""Ranking a chain's paths: the k largest or smallest by |contribution|, without listing.

One sample's contribution is a product, whose best completions a greedy pass
finds: :func:`best` runs an exact best-first search over ranked choices. A
mini-batch's is a sum over the samples of products, which no greedy choice ranks:
its paths are listed and sorted when they are few, else found by a best-first
search over path prefixes bounded by interval arithmetic. Ties are broken by index
order either way (docs/CONTRACT.md section 8).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .chains import BLOCK, Chain, blocks
from .errors import OptionError

__all__ = ["MAX_SEARCH", "best"]

Array = npt.NDArray[Any]

#: Most prefixes the best-first search of a mini-batch's paths may push (:func:`best`).
MAX_SEARCH = 10**6
#: Most path-samples listed for a float mini-batch's smallest |contribution|: there the
#: search's bounds seldom exclude 0, and listing is faster than searching.
MAX_LISTED = 1 << 25


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

    Raises
    ------
    OptionError
        When a mini-batch's search needs more than :data:`MAX_SEARCH` steps.

    Notes
    -----
    One sample: a ranked best-first search (:func:`_best_one`), exact at every step.
    A mini-batch's |contribution| is the absolute value of a sum over the samples,
    which no greedy choice ranks; its paths are listed and sorted when they are few
    (:func:`_best_listed`), else found by a best-first search over prefixes bounded
    by interval arithmetic (:func:`_best_bounded`).
    """
    if chain.samples == 1:
        fused = [step * gate[0][None, :] for step, gate in zip(chain.steps, chain.gates,
                                                                 strict=True)]
        return _best_one(chain.start[0], fused, chain.end[0], count, largest)
    listed = chain.count * chain.samples
    if listed <= BLOCK or (not largest and not chain.exact and listed <= MAX_LISTED):
        return _best_listed(chain, count, largest)
    return _best_bounded(chain, count, largest)


def _best_one(
    start: Array, steps: list[Array], end: Array, count: int, largest: bool
) -> list[tuple[int, ...]]:
    """:func:`best` of one sample's chain, its steps and gates fused into ``steps``.

    Notes
    -----
    Every factor's absolute value is non-negative, so the best completion of a
    path's prefix is found greedily from the best value onward of each neuron (one
    backward pass with max, or min, in place of the sum). Each neuron's choices are
    ranked by that value (ties by index); a path is a sequence of ranks, the best
    path all zeros, and the paths are popped from a heap best first, each pushing
    the paths that differ from it at one later position by the next rank: each path
    is pushed once, after every path better than it. About ``count`` times the depth
    squared steps, and a sort of the choices of each neuron a path reaches.

    The first ``count`` paths are the first ``count`` of any longer list: pages cut
    from them never overlap. In exact arithmetic the order is exact; in float64 a
    path may come one place early or late against one whose |contribution| differs
    from its own only by the rounding (or underflow) of the products.
    """
    start, steps, end = np.abs(start), [np.abs(s) for s in steps], np.abs(end)
    pick = np.max if largest else np.min
    ahead = [end]  # best |value| onward from each neuron of each position
    for step in reversed(steps):
        ahead.append(pick(step * ahead[-1][None, :], axis=1))
    ahead = ahead[::-1]
    keys = [start * ahead[0]] + [step * ahead[t + 1][None, :] for t, step in enumerate(steps)]
    # Choices ranked best first, ties by index (a stable sort of the order key): the
    # first position's at once, a later one's per neuron when a path first reaches it
    # (the best paths share most of their prefixes, so few rows are ever sorted).
    # Rows are lists: the search reads them one number at a time.
    first_order: list[int] = _ranked(keys[0], largest).tolist()
    orders: list[dict[int, list[int]]] = [{} for _ in keys]

    def ranked_after(position: int, neuron: int) -> list[int]:
        row = orders[position].get(neuron)
        if row is None:
            row = orders[position][neuron] = _ranked(keys[position][neuron], largest).tolist()
        return row

    depth = len(steps)
    factors = [start] + steps  # factors[p][..., i]: of entering neuron i at p

    def choices(position: int, path: Sequence[int], before: Any) -> Sequence[int]:
        """The neurons of ``position`` after ``path``, best first.

        After a prefix whose product is 0 every completion is 0, a tie: by index.
        """
        if position and not before:
            return range(len(factors[position][0]))
        return first_order if position == 0 else ranked_after(position, path[position - 1])

    def complete(path: list[int], before: Any) -> tuple[Any, tuple[int, ...]]:
        """The best completion of ``path``, whose factors' product is ``before``, keyed.

        The key is the completed path's |contribution| (negated for the largest
        first), multiplied in path order as :func:`_prefixes` does, and the path.
        """
        while len(path) <= depth:
            position = len(path)
            path.append(choices(position, path, before)[0])
            before = before * factors[position][path[position - 1], path[-1]]
        value = before * end[path[-1]]
        return (-value if largest else value), tuple(path)

    first = complete([first_order[0]], start[first_order[0]])
    heap = [(first, 0, 0)]  # ((order key, path), position of its last change, its rank)
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
                neuron = ranked[next_rank]
                entered = factors[position][neuron] if position == 0 \
                    else before * factors[position][path[position - 1], neuron]
                successor = complete([*path[:position], neuron], entered)
                heapq.heappush(heap, (successor, position, next_rank))
    return found


def _best_listed(chain: Chain, count: int, largest: bool) -> list[tuple[int, ...]]:
    """:func:`best` by listing every path, block by block, keeping the best ``count``.

    Ties keep index order: a stable sort (fractions), or a sort by (|contribution|,
    index) of each block with the best so far (float64).
    """
    if chain.exact:
        paths, values = chain.page(0, chain.count)
        magnitude = np.abs(np.array(values, dtype=object))
        order = np.argsort(-magnitude if largest else magnitude, kind="stable")
        return [paths[k] for k in order[:count].tolist()]
    kept, sizes = np.empty(0, dtype=np.int64), np.empty(0)
    for block in blocks(chain.count, chain.samples):
        numbers = np.arange(block.start, min(block.stop, chain.count), dtype=np.int64)
        index = np.unravel_index(numbers, chain.sizes)
        kept = np.concatenate([kept, numbers])
        sizes = np.concatenate([sizes, np.abs(chain.values_at(index))])
        best = np.lexsort((kept, -sizes if largest else sizes))[:count]
        kept, sizes = kept[best], sizes[best]
    return [tuple(int(d) for d in digits)
            for digits in zip(*np.unravel_index(kept, chain.sizes), strict=True)]


def _best_bounded(chain: Chain, count: int, largest: bool) -> list[tuple[int, ...]]:
    """:func:`best` of a mini-batch's chain by a best-first search over path prefixes.

    A prefix's completions have contributions sum_n p_n * r_n, where p_n is the
    prefix's product for sample n and r_n lies in the interval of the rest's product
    from its last neuron (one backward pass with min and max, :func:`_intervals`);
    so they lie in [sum min(p lo, p hi), sum max(p lo, p hi)], which bounds their
    |contribution| above (and below, when it excludes 0). Prefixes are popped by that
    bound, whole paths by their |contribution|, ties by index: a path is popped only
    once nothing left can complete to a better one. In float64 the bounds are
    widened by the rounding their sums can have.
    """
    depth = len(chain.steps)
    if depth == 0:
        return _best_listed(chain, count, largest)
    low, high = _intervals(chain)
    slack = 0.0 if chain.exact else 4 * (chain.samples + depth + 2) * float(
        np.finfo(np.float64).eps)
    sign = -1 if largest else 1

    def bound(prefix: Array, t: int) -> Array:
        """Keys of prefixes (N, k) ending at each of k neurons of position t."""
        a, b = prefix * low[t], prefix * high[t]
        under, over = np.minimum(a, b).sum(axis=0), np.maximum(a, b).sum(axis=0)
        widen = slack * np.maximum(np.abs(a), np.abs(b)).sum(axis=0) if slack else 0
        if largest:
            return -(np.maximum(np.abs(under), np.abs(over)) + widen)
        inside = (under - widen <= 0) & (over + widen >= 0)
        nearest = np.minimum(np.abs(under), np.abs(over)) - widen
        return np.where(inside, 0 * nearest, nearest)

    def children(path: tuple[int, ...]) -> Array:
        """The prefix products (N, n_{t+1}) of ``path`` extended by each neuron."""
        product = chain.start[:, path[0]]
        for t in range(len(path) - 1):
            product = product * chain.enter(t, path[t], path[t + 1])
        return product[:, None] * chain.enter(len(path) - 1, path[-1])

    # (key, path, whole): a whole path's key is its |contribution|, a prefix's its bound.
    heap: list[tuple[Any, tuple[int, ...], bool]] = [
        (key, (i,), False) for i, key in enumerate(bound(chain.start, 0).tolist())]
    heapq.heapify(heap)
    found: list[tuple[int, ...]] = []
    pushed = len(heap)
    while heap and len(found) < count:
        _, path, whole = heapq.heappop(heap)
        if whole:
            found.append(path)
            continue
        extended = children(path)
        t = len(path)
        if t == depth:
            values = (extended * chain.end).sum(axis=0)
            keys = sign * np.abs(values) if largest else np.abs(values)
            entries = [(key, (*path, i), True) for i, key in enumerate(keys.tolist())]
        else:
            keys = bound(extended, t)
            entries = [(key, (*path, i), False) for i, key in enumerate(keys.tolist())]
        pushed += len(entries)
        if pushed > MAX_SEARCH:
            raise OptionError(
                "order", f"the {'largest' if largest else 'smallest'} |contribution| of a "
                f"mini-batch's paths took over {MAX_SEARCH} steps of search (its {chain.samples} "
                "samples' contributions are too close to bound); ask for fewer paths, order "
                "index, or fewer samples")
        for entry in entries:
            heapq.heappush(heap, entry)
    return found


def _intervals(chain: Chain) -> tuple[list[Array], list[Array]]:
    """Per position t, (N, n_t): the least and greatest product of the factors after
    entering each neuron (its later steps and gates, and ``end``), per sample."""
    low, high = [chain.end], [chain.end]
    for t in range(len(chain.steps) - 1, -1, -1):
        step, gate = chain.steps[t], chain.gates[t]
        n_t, n_next = step.shape
        lows, highs = [], []
        for block in blocks(chain.samples, n_t * n_next):
            factor = step[None, :, :] * gate[block][:, None, :]  # (n, n_t, n_{t+1})
            a = factor * low[-1][block][:, None, :]
            b = factor * high[-1][block][:, None, :]
            lows.append(np.minimum(a, b).min(axis=2))
            highs.append(np.maximum(a, b).max(axis=2))
        low.append(np.concatenate(lows))
        high.append(np.concatenate(highs))
    return low[::-1], high[::-1]


def _prefixes(factors: list[Array], path: Sequence[int]) -> list[Any]:
    """The product of the factors up to and including each position of ``path``."""
    products = [factors[0][path[0]]]
    for position in range(1, len(path)):
        products.append(products[-1] * factors[position][path[position - 1], path[position]])
    return products


def _ranked(keys: Array, largest: bool) -> Array:
    """Indices of each row's choices, best first; ties keep index order (stable sort)."""
    return np.argsort(-keys if largest else keys, axis=-1, kind="stable")
