"""The exact strings of an exact-arithmetic result: ``*_exact`` beside every number.

In exact mode every number of a result (docs/CONTRACT.md section 2) is also given
as its fraction string, ``"gradient_exact": "-7/12"``; a mini-batch's per-sample
node fields and outputs get lists of them. A value beyond float64 has a null number
and still its string.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .analysis import BatchAnalysis

__all__ = ["add_exact"]

Array = npt.NDArray[Any]


def add_exact(result: dict[str, Any], analysis: BatchAnalysis, b: int) -> bool:
    """Give every number of an exact result its exact string beside it (``*_exact``).

    Returns whether a number is beyond float64 (its float field null, its string not).
    """
    passed, batch = analysis.passed, analysis.batch
    text = _exact_texts
    result["loss_exact"] = str(Fraction(passed.loss[b]))
    per_sample = _sample_texts if batch.batched else (lambda a: text(a[0]))
    result["outputs_exact"] = dict(zip(result["outputs"], per_sample(passed.values[-1][b]),
                                       strict=True))
    columns = {key: np.concatenate([a[b] for a in arrays[1:]], axis=1)  # type: ignore[index]
               for key, arrays in (("pre", passed.pre), ("value", passed.values),
                                   ("derivative", passed.derivatives))}
    overflow = result["loss"] is None or any(
        v is None or (isinstance(v, list) and None in v) for v in result["outputs"].values())
    overflow |= _attach_nodes(result["nodes"], columns, batch.batched)
    weights = {"value": np.concatenate([w[b].ravel() for w in batch.weights]),
               "gradient": analysis.backprop[0][b], "backprop": analysis.backprop[0][b],
               "path_sum": None if analysis.path_sum is None else analysis.path_sum[0][b]}
    biases = {"gradient": analysis.backprop[1][b], "backprop": analysis.backprop[1][b],
              "path_sum": None if analysis.path_sum is None else analysis.path_sum[1][b]}
    if analysis.finite_differences is not None:
        fd = analysis.finite_differences[b]
        weights["finite_difference"] = np.concatenate([a.ravel() for a in fd.weights])
        biases["finite_difference"] = np.concatenate([a.ravel() for a in fd.biases])
    overflow |= _attach(result["weights"], weights)
    overflow |= _attach(result["biases"], biases)
    return overflow


def _exact_texts(values: Array | None) -> list[str | None]:
    return [None if v is None else str(Fraction(v)) for v in values.tolist()] \
        if values is not None else []


def _sample_texts(values: Array) -> list[list[str | None]]:
    """A (N, n) array as n lists of N exact strings: one list per neuron or output."""
    return [_exact_texts(column) for column in values.T]


def _attach_nodes(records: list[dict[str, Any]], columns: Mapping[str, Array],
                  batched: bool) -> bool:
    """Node records' ``*_exact`` strings: one per field, or for a mini-batch a list of N."""
    if not batched:
        return _attach(records, {key: values[0] for key, values in columns.items()})
    overflow = False
    for key, values in columns.items():
        for record, texts in zip(records, _sample_texts(values), strict=True):
            record[f"{key}_exact"] = texts
            overflow |= any(t is not None and v is None
                            for t, v in zip(texts, record[key], strict=True))
    return overflow


def _attach(records: list[dict[str, Any]], columns: Mapping[str, Array | None]) -> bool:
    """Add ``<key>_exact`` strings; return whether a float field is null beside its string."""
    overflow = False
    for key, values in columns.items():
        texts = _exact_texts(values) if values is not None else [None] * len(records)
        for record, text in zip(records, texts, strict=True):
            record[f"{key}_exact"] = text
            overflow |= text is not None and record[key] is None
    return overflow
