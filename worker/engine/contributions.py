"""Path pages (docs/CONTRACT.md sections 3 and 8): a parameter's paths, the network's, a flow.

A page is found without enumerating: the paths are a :class:`~worker.engine.chains.Chain`
(a weight's or a bias's from its neuron to the outputs; the network's from the inputs,
through a neuron or a weight, to all outputs or one). ``abs_desc`` and ``abs_asc`` pages
are the exact best by |contribution|, ties by index order; an ``index`` page is computed
from its position. Every page carries the certified remainder: ``abs_sum`` (the sum of
|contribution| over all the paths: backprop on absolute values) and ``listed_sum``,
``listed_abs_sum`` (over every path listed so far in this order), so that
``|total - listed_sum| <= abs_sum - listed_abs_sum``.

A mini-batch's path contributes the sum over the samples of its per-sample
contributions (each with the mean's 1/N). Its ``abs_sum`` and ``listed_abs_sum`` sum
each sample's |contribution| (the same backward pass on absolute values), which is
at least |contribution|: the bound still holds, and is what can be certified
without listing every path. For one sample they are the plain sums of |contribution|.

The enumeration of :mod:`worker.engine.paths` stays the independent check of backprop;
the tests hold these pages to it wherever it can run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .backprop import deltas
from .batch import stack
from .chains import Chain
from .cursors import decode_cursor, encode_cursor
from .errors import OptionError
from .exact import as_float
from .forward import Forward, forward
from .names import Names
from .ranking import best
from .spec import Network

__all__ = [
    "MAX_PAGE", "MAX_PAGE_WORK", "ORDERS", "check_page", "contributions", "node_flow",
    "top_paths",
]

Array = npt.NDArray[Any]

ORDERS = ("abs_desc", "abs_asc", "index")
MAX_PAGE = 100_000
# A best-first page costs about (paths up to its end) * (depth + 1)^2 steps, in Python.
MAX_PAGE_WORK = 5 * 10**7


def contributions(
    net: Network, weight: str, *, order: str = "abs_desc", limit: int | None = None,
    cursor: str | None = None, subgradient: str = "min_norm",
) -> dict[str, Any]:
    """Return one page of the paths of a weight or a bias, and what the rest can add.

    Parameters
    ----------
    net : Network
    weight : str
        ``W1`` ... (its paths start at its source neuron), or a bias ``b_H4`` (they
        start at its neuron).
    order : {"abs_desc", "abs_asc", "index"}
        By |contribution|, largest or smallest first (ties by index), or by index
        (lexicographic by the neurons after the first).
    limit : int, optional
        Paths per page, 1 ... :data:`MAX_PAGE` (None: :data:`MAX_PAGE`).
    cursor : str, optional
        ``next_cursor`` of the previous page.
    subgradient : str
        The derivative taken on a kink.

    Returns
    -------
    dict
        ``weight``, ``gradient`` (dLoss/dW by backprop), ``total_paths``, ``order``,
        ``abs_sum``, ``listed_sum``, ``listed_abs_sum``, ``paths`` (``rank``, ``nodes``,
        ``weights``, ``contribution``) and ``next_cursor``; ``*_exact`` strings too in
        exact arithmetic.

    Raises
    ------
    UnknownWeightError, OptionError

    Examples
    --------
    >>> from worker.engine.spec import parse_spec
    >>> seed = {"layers": [2, 3, 2, 1], "activation": "identity", "loss": "l1",
    ...         "weights": [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
    ...                     [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]], [[1.3, 1.4]]],
    ...         "input": [1.0, 2.0], "target": [1.0]}
    >>> page = contributions(parse_spec(seed), "W1", limit=1)
    >>> page["paths"][0]["nodes"], round(page["abs_sum"] - page["listed_abs_sum"], 12)
    (['X1', 'H1', 'H5', 'Out'], 0.91)
    """
    names = Names.of(net.layers)
    l, i, j = names.locate_parameter(weight)
    _check_order(order)
    size = _check_limit(limit)
    batch = stack([net])
    passed = forward(batch, subgradient)
    chain = _parameter_chain(net, passed, l, i, j)
    offset = decode_cursor(cursor, weight, order, chain.count)
    head = ([names.nodes[l - 1][j]], [names.weights[l - 1][i][j]]) if j is not None else ([], [])
    delta = deltas(batch.weights, passed.derivatives, passed.loss_gradient)[l][0, :, i]
    gradient = (delta * passed.values[l - 1][0, :, j]).sum() if j is not None else delta.sum()
    page = {"weight": weight, "gradient": gradient}
    return _page(page, net, names, chain, order, offset, size, head, weight)


def top_paths(
    net: Network, *, through: str | None = None, output: str | None = None,
    order: str = "abs_desc", limit: int | None = 10, cursor: str | None = None,
    subgradient: str = "min_norm",
) -> dict[str, Any]:
    """Return one page of the network's input-to-output paths, through a neuron or a weight.

    A path runs from an input X_i to an output; its contribution is
    X_i * (sigma' of every neuron on it) * (its weights) * dLoss/dOut_k, so all of them
    add up to sum_i X_i * dLoss/dX_i.

    Parameters
    ----------
    net : Network
    through : str, optional
        Keep the paths through this neuron (``H4``) or this weight (``W7``).
    output : str, optional
        Keep the paths ending at this output (``Out2``).
    order, limit, cursor, subgradient
        As for :func:`contributions`.

    Returns
    -------
    dict
        ``through``, ``output``, ``total_paths``, ``order``, ``abs_sum``,
        ``listed_sum``, ``listed_abs_sum``, ``paths`` and ``next_cursor``.

    Raises
    ------
    UnknownWeightError, OptionError
    """
    names = Names.of(net.layers)
    keep = _restriction(names, through, output)
    _check_order(order)
    size = _check_limit(limit)
    chain = _network_chain(net, forward(stack([net]), subgradient), keep)
    query = json.dumps([through, output])
    offset = decode_cursor(cursor, query, order, chain.count)
    page = {"through": through, "output": output}
    return _page(page, net, names, chain, order, offset, size, ([], []), query)


def node_flow(net: Network, node: str, *, subgradient: str = "min_norm") -> dict[str, Any]:
    """Return a neuron's value, delta, and the flow of the network's paths through it.

    Returns
    -------
    dict
        ``node``, ``value`` (its activation; an input's value), ``delta`` (dLoss/dz;
        for an input dLoss/dX) -- for a mini-batch both lists of N, one per sample --,
        ``flow`` (the sum of the contributions of the paths
        through it), ``abs_flow`` (of their absolute values), ``paths_through``.

    Raises
    ------
    UnknownWeightError
        If no neuron has that name.
    """
    names = Names.of(net.layers)
    l, i = names.locate_node(node)
    batch = stack([net])
    passed = forward(batch, subgradient)
    chain = _network_chain(net, passed, {l: i})
    delta = deltas(batch.weights, passed.derivatives, passed.loss_gradient)
    if l == 0:
        gradient = (delta[1][0] @ net.weights[0])[:, i]  # dLoss/dX of each sample
    else:
        gradient = delta[l][0, :, i]
    value = passed.values[l][0, :, i]
    per_sample = (list if net.batched else (lambda column: column[0]))
    record: dict[str, Any] = {"node": node, "value": per_sample(value),
                              "delta": per_sample(gradient), "flow": chain.total(),
                              "abs_flow": chain.magnitudes().total(),
                              "paths_through": chain.count}
    return _numbers(record, ("value", "delta", "flow", "abs_flow"), net.exact)


def check_page(
    layers: tuple[int, ...], *, weight: str | None = None, through: str | None = None,
    output: str | None = None, order: str = "abs_desc", limit: int | None = None,
    cursor: str | None = None,
) -> None:
    """Check a page request against a network's sizes alone, before any work is queued.

    The names, order, limit and cursor of :func:`contributions` (``weight`` given) or
    :func:`top_paths`, and the page's work limit (:data:`MAX_PAGE_WORK`).

    Raises
    ------
    UnknownWeightError, OptionError
        As the page itself would.
    """
    names = Names.of(layers)
    _check_order(order)
    size = _check_limit(limit)
    if weight is not None:
        l, _, _ = names.locate_parameter(weight)
        count, depth, query = math.prod(layers[l + 1:]), len(layers) - 1 - l, weight
    else:
        keep = _restriction(names, through, output)
        count = math.prod(1 if l in keep else n for l, n in enumerate(layers))
        depth, query = len(layers) - 1, json.dumps([through, output])
    offset = decode_cursor(cursor, query, order, count)
    if order != "index":
        _check_work(min(offset + size, count), depth)


# --- chains -----------------------------------------------------------------------------


def _parameter_chain(net: Network, passed: Forward, l: int, i: int, j: int | None) -> Chain:
    """The paths of weight (l, i, j), or of the bias of neuron (l, i) when j is None."""
    derivative = passed.derivatives[l]
    assert derivative is not None  # set for every layer l >= 1 by the forward pass
    source = passed.values[l - 1][0, :, j] if j is not None else _one(net.exact)
    start = (source * derivative[0, :, i])[:, None]
    steps = [net.weights[m - 1].T for m in range(l + 1, net.depth + 1)]
    gates = [_gate(passed, m) for m in range(l + 1, net.depth + 1)]
    if steps:
        steps[0] = steps[0][[i]]
    neurons = (np.array([i]), *(np.arange(n) for n in net.layers[l + 1:]))
    end = passed.loss_gradient[0] if steps else passed.loss_gradient[0][:, [i]]
    return Chain(np.asarray(start, dtype=_dtype(net)), steps, gates, end, neurons,
                 tuple(range(l, net.depth + 1)), net.exact)


def _network_chain(net: Network, passed: Forward, keep: dict[int, int]) -> Chain:
    """The input-to-output paths, through neuron ``keep[l]`` at the layers ``keep`` names."""
    neurons = tuple(np.array([keep[l]]) if l in keep else np.arange(n)
                    for l, n in enumerate(net.layers))
    steps = [net.weights[m - 1].T[np.ix_(neurons[m - 1], neurons[m])]
             for m in range(1, net.depth + 1)]
    gates = [_gate(passed, m)[:, neurons[m]] for m in range(1, net.depth + 1)]
    start = passed.values[0][0][:, neurons[0]]
    end = passed.loss_gradient[0][:, neurons[-1]]
    return Chain(start, steps, gates, end, neurons, tuple(range(net.depth + 1)), net.exact)


def _gate(passed: Forward, m: int) -> Array:
    """sigma'_m of every neuron of layer m, per sample: (N, n_m)."""
    derivative = passed.derivatives[m]
    assert derivative is not None  # set for every layer m >= 1 by the forward pass
    return derivative[0]


def _restriction(names: Names, through: str | None, output: str | None) -> dict[int, int]:
    """The layers kept to one neuron by ``through`` (a neuron or a weight) and ``output``."""
    keep: dict[int, int] = {}
    if through is not None:
        if isinstance(through, str) and through.startswith("W"):
            l, i, j = names.locate(through)
            keep = {l - 1: j, l: i}
        else:
            keep = dict([names.locate_node(through)])
    if output is not None:
        l, k = names.locate_node(output)
        if l != len(names.layers) - 1:
            raise OptionError("output", f"expected an output ({', '.join(names.nodes[-1])}), "
                              f"got {output!r}")
        if keep.get(l, k) != k:
            raise OptionError("output", f"{output} is not the output {through} leads to alone")
        keep[l] = k
    return keep


# --- pages ------------------------------------------------------------------------------


def _page(
    page: dict[str, Any], net: Network, names: Names, chain: Chain, order: str, offset: int,
    size: int, head: tuple[list[str], list[str]], query: str,
) -> dict[str, Any]:
    magnitude = chain.magnitudes()
    stop = min(offset + size, chain.count)
    if order == "index":
        positions, values = chain.page(offset, stop - offset)
        listed = (chain.first_sum(stop), magnitude.first_sum(stop))
    else:
        _check_work(stop, len(chain.steps))
        ranked = best(chain, stop, largest=order == "abs_desc")
        every = chain.values_of(ranked)
        positions, values = ranked[offset:], every[offset:]
        # One sample: sum |contribution|; a mini-batch: each sample's (see the module).
        sizes = every if chain.samples == 1 else magnitude.values_of(ranked)
        listed = (sum(every, start=_zero(net.exact)),
                  sum((abs(v) for v in sizes), start=_zero(net.exact)))
    page |= {"total_paths": chain.count, "order": order, "abs_sum": magnitude.total(),
             "listed_sum": listed[0], "listed_abs_sum": listed[1]}
    numbers = [key for key in ("gradient", "abs_sum", "listed_sum", "listed_abs_sum")
               if key in page]
    _numbers(page, numbers, net.exact)
    page["paths"] = [_record(names, chain, head, offset + rank + 1, path, value, net.exact)
                     for rank, (path, value) in enumerate(zip(positions, values, strict=True))]
    page["next_cursor"] = encode_cursor(query, order, stop) if stop < chain.count else None
    return page


def _record(
    names: Names, chain: Chain, head: tuple[list[str], list[str]], rank: int,
    path: Sequence[int], value: Any, exact: bool,
) -> dict[str, Any]:
    neurons = [int(chain.neurons[t][p]) for t, p in enumerate(path)]
    layers = chain.layers
    nodes = head[0] + [names.nodes[layers[t]][n] for t, n in enumerate(neurons)]
    weights = head[1] + [names.weights[layers[t] - 1][neurons[t]][neurons[t - 1]]
                         for t in range(1, len(neurons))]
    record: dict[str, Any] = {"rank": rank, "nodes": nodes, "weights": weights,
                              "contribution": as_float(value)}
    if exact:
        record["contribution_exact"] = str(Fraction(value))
    return record


def _numbers(record: dict[str, Any], keys: Sequence[str], exact: bool) -> dict[str, Any]:
    """Turn ``keys`` into floats (None beyond float64), with ``*_exact`` strings when exact;
    a list (one number per sample) item by item."""
    for key in keys:
        value = record[key]
        if isinstance(value, list):
            record[key] = [as_float(v) for v in value]
            if exact:
                record[f"{key}_exact"] = [str(Fraction(v)) for v in value]
            continue
        record[key] = as_float(value)
        if exact:
            record[f"{key}_exact"] = str(Fraction(value))
    return record


def _one(exact: bool) -> Any:
    return Fraction(1) if exact else 1.0


def _zero(exact: bool) -> Any:
    return Fraction(0) if exact else 0.0


def _dtype(net: Network) -> Any:
    return object if net.exact else np.float64


# --- checks -----------------------------------------------------------------


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise OptionError("order", f"expected one of {', '.join(ORDERS)}, got {order!r}")


def _check_limit(limit: int | None) -> int:
    if limit is None:
        return MAX_PAGE
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise OptionError("limit", f"expected an integer from 1 to {MAX_PAGE}, got {limit!r}")
    return limit


def _check_work(stop: int, depth: int) -> None:
    work = stop * (depth + 1) ** 2
    if work > MAX_PAGE_WORK:
        raise OptionError(
            "cursor", f"a page that ends at rank {stop} of paths {depth + 1} neurons long "
            f"takes about {work:.3g} steps, over the limit of {MAX_PAGE_WORK:.3g}; ask "
            "for fewer paths, or order index (any position, at no such cost)")
