"""Per-weight path contributions (docs/CONTRACT.md section 3): ordered, paged, exact when asked.

A path of weight W (edge u -> v) runs u -> v -> ... -> an output; its contribution
is ``a_u * T_l[v, ...]`` (see :mod:`worker.engine.paths`). The contributions of
all of W's paths sum to dLoss/dW.

Top-k by |contribution| streams over the blocks of :class:`SuffixPaths`, keeping
only the best candidates of each block (``np.partition``), so a weight with
millions of paths is never sorted whole.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .analysis import enumeration_limit
from .backprop import deltas
from .batch import stack
from .errors import OptionError, PathLimitError
from .exact import as_float
from .forward import forward
from .names import Names
from .options import Options
from .paths import SuffixPaths, paths_per_node
from .spec import Network

__all__ = ["MAX_PAGE", "ORDERS", "contributions"]

Array = npt.NDArray[Any]

ORDERS = ("abs_desc", "abs_asc", "index")
MAX_PAGE = 100_000


def contributions(
    net: Network,
    options: Options,
    weight: str,
    *,
    order: str = "abs_desc",
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Return one page of the path contributions of a weight.

    Parameters
    ----------
    net : Network
    options : Options
    weight : str
        A weight name, ``W1`` ... .
    order : {"abs_desc", "abs_asc", "index"}
        By |contribution| (ties by index), or lexicographic by node indices.
    limit : int, optional
        Paths per page, at most :data:`MAX_PAGE`; None means every path (pages of
        :data:`MAX_PAGE` beyond that).
    cursor : str, optional
        ``next_cursor`` of the previous page.

    Returns
    -------
    dict
        ``weight``, ``gradient``, ``total_paths``, ``order``, ``paths`` (each with
        ``rank``, ``nodes``, ``weights``, ``contribution``) and ``next_cursor``.

    Raises
    ------
    UnknownWeightError, OptionError, PathLimitError
    """
    names = Names.of(net.layers)
    l, i, j = names.locate(weight)
    _check_order(order)
    size = _check_limit(limit)
    total = paths_per_node(net.layers, l)
    offset = _decode_cursor(cursor, weight, order, total)
    _check_path_limit(weight, total, options)
    batch = stack([net])
    passed = forward(batch, options.subgradient)
    suffix = SuffixPaths(batch.weights, passed.derivatives, passed.loss_gradient)
    source = passed.values[l - 1][0, j]
    blocks = ((start, source * block.ravel()) for start, block in suffix.rows(l, 0, node=i))
    wanted = min(size, total - offset)
    if order == "index":
        index, values = _index_range(blocks, offset, wanted)
    elif net.exact:
        index, values = _exact_ranked(blocks, offset, wanted, descending=order == "abs_desc")
    else:
        index, values = _top(blocks, offset + wanted, descending=order == "abs_desc")
        index, values = index[offset:], values[offset:]
    # dLoss/dW by the delta recursion: the reference the page's contributions add up to.
    gradient = deltas(batch.weights, passed.derivatives, passed.loss_gradient)[l][0, i] * source
    page = {
        "weight": weight,
        "gradient": as_float(gradient),
        "total_paths": total,
        "order": order,
        "paths": _records(names, net, l, i, j, index, values, offset),
        "next_cursor": _encode_cursor(weight, order, offset + len(index))
        if offset + len(index) < total else None,
    }
    if net.exact:
        page["gradient_exact"] = str(Fraction(gradient))
    return page


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise OptionError("order", f"expected one of {', '.join(ORDERS)}, got {order!r}")


def _check_limit(limit: int | None) -> int:
    if limit is None:
        return MAX_PAGE
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise OptionError("limit", f"expected an integer from 1 to {MAX_PAGE}, got {limit!r}")
    return limit


def _check_path_limit(weight: str, total: int, options: Options) -> None:
    limit, which = enumeration_limit(options)
    if total > limit:
        shown = f"max_paths={limit}" if which == "max_paths" else f"{which} ({limit})"
        raise PathLimitError("weight", f"{weight} has {total} paths, over the limit {shown}",
                             paths=total, limit=limit)


def _encode_cursor(weight: str, order: str, offset: int) -> str:
    raw = json.dumps({"w": weight, "o": order, "k": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, weight: str, order: str, total: int) -> int:
    if cursor is None:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = state["k"]
        valid = state["w"] == weight and state["o"] == order and type(offset) is int
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        valid, offset = False, 0
    if not valid or not 0 <= offset < total:
        raise OptionError(
            "cursor",
            f"expected the next_cursor of an earlier page of {weight} in order {order}",
        )
    return int(offset)


def _index_range(
    blocks: Iterator[tuple[int, Array]], offset: int, wanted: int
) -> tuple[Array, Array]:
    """Paths offset ... offset+wanted-1 in lexicographic order; stops once past them."""
    index_parts, value_parts = [], []
    stop = offset + wanted
    for start, values in blocks:
        if start >= stop:
            break
        low, high = max(offset, start), min(stop, start + len(values))
        if low < high:
            index_parts.append(np.arange(low, high))
            value_parts.append(values[low - start : high - start])
    if not index_parts:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(index_parts), np.concatenate(value_parts)


def _top(
    blocks: Iterator[tuple[int, Array]], count: int, *, descending: bool
) -> tuple[Array, Array]:
    """The ``count`` best paths by |contribution|, ties by index, ranked; never a full sort."""
    best_index = np.empty(0, dtype=np.int64)
    best_values = np.empty(0)
    for start, values in blocks:
        keep = _candidates(np.abs(values), count, descending=descending)
        best_index = np.concatenate([best_index, start + keep])
        best_values = np.concatenate([best_values, values[keep]])
        rank = _rank(best_index, best_values, descending=descending)[:count]
        best_index, best_values = best_index[rank], best_values[rank]
    return best_index, best_values


def _candidates(keys: Array, count: int, *, descending: bool) -> Array:
    """Positions of the ``count`` best keys of one block (ties: lowest positions)."""
    if len(keys) <= count:
        return np.arange(len(keys))
    signed = -keys if descending else keys
    threshold = np.partition(signed, count - 1)[count - 1]
    better = np.flatnonzero(signed < threshold)
    tied = np.flatnonzero(signed == threshold)[: count - len(better)]
    return np.sort(np.concatenate([better, tied]))


def _rank(index: Array, values: Array, *, descending: bool) -> Array:
    keys = np.abs(values)
    return np.lexsort((index, -keys if descending else keys))


def _exact_ranked(
    blocks: Iterator[tuple[int, Array]], offset: int, wanted: int, *, descending: bool
) -> tuple[Array, Array]:
    """Rank exact (Fraction) contributions, keeping only the best ``offset + wanted`` in a heap.

    The paths stream through ``heapq.nsmallest``: never all held, never all sorted.
    """
    sign = -1 if descending else 1
    pairs = ((start + k, v) for start, values in blocks for k, v in enumerate(values.tolist()))
    best = heapq.nsmallest(offset + wanted, pairs,
                           key=lambda pair: (sign * abs(pair[1]), pair[0]))
    chosen = best[offset:]
    values = np.empty(len(chosen), dtype=object)
    values[:] = [v for _, v in chosen]
    return np.array([k for k, _ in chosen], dtype=np.int64), values


def _records(
    names: Names, net: Network, l: int, i: int, j: int, index: Array, values: Array,
    offset: int,
) -> list[dict[str, Any]]:
    later = net.layers[l + 1 :]
    digits = np.unravel_index(index, later) if later else ()
    steps = [d.tolist() for d in digits]
    head_nodes = [names.nodes[l - 1][j], names.nodes[l][i]]
    records = []
    for rank, value in enumerate(values.tolist()):
        nodes, edge_names, prev = list(head_nodes), [names.weights[l - 1][i][j]], i
        for m, step in enumerate(steps, start=l + 1):
            node = step[rank]
            nodes.append(names.nodes[m][node])
            edge_names.append(names.weights[m - 1][node][prev])
            prev = node
        record: dict[str, Any] = {"rank": offset + rank + 1, "nodes": nodes,
                                  "weights": edge_names, "contribution": as_float(value)}
        if net.exact:
            record["contribution_exact"] = str(Fraction(value))
        records.append(record)
    return records
