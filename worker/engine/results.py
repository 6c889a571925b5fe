"""The result JSON of docs/CONTRACT.md section 2, built for a whole batch at once.

This module only turns arrays (the analysis and its agreement) into dicts. Arrays
are converted with one ``tolist()`` per batch and column: building Python dicts is
the costliest part of analysing many small networks.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .agreement import Agreement, Comparison, disagreement
from .analysis import BatchAnalysis
from .exact import as_float
from .names import Names
from .options import Options
from .paths import paths_per_node, suffix_path_count

__all__ = ["build_results"]

Array = npt.NDArray[Any]


def build_results(
    analysis: BatchAnalysis, agreement: Agreement, options: Options
) -> list[dict[str, Any]]:
    """Return one docs/CONTRACT.md section 2 result per network of the batch.

    Parameters
    ----------
    analysis : BatchAnalysis
    agreement : Agreement
        Its methods compared.
    options : Options

    Returns
    -------
    list of dict
    """
    # Results are trees of fresh dicts and lists with no cycles; the cyclic garbage
    # collector, triggered every few hundred allocations, would only re-scan them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(analysis, agreement, options)
    finally:
        if enabled:
            gc.enable()


def _build(
    analysis: BatchAnalysis, agreement: Agreement, options: Options
) -> list[dict[str, Any]]:
    batch, passed = analysis.batch, analysis.passed
    size, meta, exact = batch.size, _meta(batch.layers), batch.exact
    # The records of every network are built by one flat loop per kind over (B * n,)
    # columns, then cut into per-network lists: three loops in all rather than three
    # per network.
    weight_values = np.concatenate([w.reshape(size, -1) for w in batch.weights], 1)
    fd = _fd_arrays(analysis)
    weights = _weight_records(
        size, meta, _flat(weight_values, exact), _flat(analysis.backprop[0], exact),
        _flat_or_none(analysis.path_sum, 0, size * len(meta.weights), exact))
    biases = _bias_records(size, meta, _flat(analysis.backprop[1], exact),
                           _flat_or_none(analysis.path_sum, 1, size * len(meta.biases), exact))
    if fd is not None:
        for per_network, diffs in ((weights, fd[0]), (biases, fd[1])):
            values = iter(_flat(diffs, exact))
            for records in per_network:
                for record in records:
                    record["finite_difference"] = next(values)
    nodes = _node_records(size, meta, *(
        _flat(np.concatenate(arrays[1:], axis=1), exact)  # type: ignore[arg-type]
        for arrays in (passed.pre, passed.values, passed.derivatives)))
    agreements = _agreement(agreement, options, exact)
    losses = _flat(passed.loss, exact)
    outputs = _columns(passed.values[-1], exact)
    enumerated = suffix_path_count(batch.layers) if options.path_sum else 0
    kinks = [k.any(axis=1) for k in passed.kinks[1:] if k is not None]
    kinked: list[bool] = np.any([passed.loss_kinks.any(axis=1), *kinks], axis=0).tolist()
    # Most networks have nothing to warn about: only the others go through _warnings.
    plain = analysis.path_sum is not None and analysis.finite_differences is None
    results = []
    for b, (loss, output, agreed, kink) in enumerate(zip(losses, outputs, agreements, kinked,
                                                         strict=True)):
        results.append({
            "loss": loss,
            "outputs": dict(zip(meta.outputs, output, strict=True)),
            "nodes": nodes[b],
            "weights": weights[b],
            "biases": biases[b],
            "agreement": agreed,
            "paths_enumerated": enumerated,
            "warnings": [] if plain and not kink and agreed["ok"]
            else _warnings(analysis, agreement, options, b, agreed, kink),
        })
        if exact and _add_exact(results[-1], analysis, b):
            results[-1]["warnings"].append(
                "some values are beyond float64: their number fields are null; the "
                "*_exact strings beside them hold the exact values")
    return results


def _weight_records(
    size: int, meta: _Meta, values: list[Any], grads: list[Any], paths: list[Any],
) -> list[list[dict[str, Any]]]:
    flat: list[dict[str, Any]] = []
    append = flat.append
    # A copy of a template holding the constant fields, then a store per varying field:
    # about a third faster than a dict display of all ten fields.
    for template, value, grad, path in zip(meta.weight_templates * size, values, grads, paths,
                                           strict=True):
        record = template.copy()
        record["value"] = value
        record["gradient"] = record["backprop"] = grad
        record["path_sum"] = path
        append(record)
    return _split(flat, size, len(meta.weights))


def _bias_records(
    size: int, meta: _Meta, grads: list[Any], paths: list[Any],
) -> list[list[dict[str, Any]]]:
    flat: list[dict[str, Any]] = []
    append = flat.append
    for template, grad, path in zip(meta.bias_templates * size, grads, paths, strict=True):
        record = template.copy()
        record["gradient"] = record["backprop"] = grad
        record["path_sum"] = path
        append(record)
    return _split(flat, size, len(meta.biases))


def _node_records(
    size: int, meta: _Meta, pres: list[Any], values: list[Any], slopes: list[Any],
) -> list[list[dict[str, Any]]]:
    flat: list[dict[str, Any]] = []
    append = flat.append
    for template, pre, value, slope in zip(meta.node_templates * size, pres, values, slopes,
                                           strict=True):
        record = template.copy()
        record["pre"] = pre
        record["value"] = value
        record["derivative"] = slope
        append(record)
    return _split(flat, size, len(meta.nodes))


def _split(flat: list[Any], size: int, step: int) -> list[list[Any]]:
    """Cut a flat list of ``size * step`` items into ``size`` lists of ``step``."""
    return [flat[start:start + step] for start in range(0, size * step, step)]


class _Meta:
    """Names, layers and path counts of every node, weight and bias, in flat order."""

    def __init__(self, layers: tuple[int, ...]) -> None:
        names = Names.of(layers)
        depth = len(layers) - 1
        self.outputs = names.nodes[depth]
        self.nodes = [(name, l) for l in range(1, depth + 1) for name in names.nodes[l]]
        self.weights = [
            (names.weights[l - 1][i][j], l, names.nodes[l - 1][j], names.nodes[l][i],
             paths_per_node(layers, l))
            for l in range(1, depth + 1) for i in range(layers[l]) for j in range(layers[l - 1])
        ]
        self.biases = [
            (names.biases[l - 1][i], names.nodes[l][i], paths_per_node(layers, l))
            for l in range(1, depth + 1) for i in range(layers[l])
        ]
        # Records in the contract's field order, varying fields None until filled in.
        self.weight_templates = [
            {"name": name, "layer": layer, "from": source, "to": target, "value": None,
             "gradient": None, "backprop": None, "path_sum": None, "finite_difference": None,
             "paths": count}
            for name, layer, source, target, count in self.weights]
        self.bias_templates = [
            {"name": name, "node": node, "gradient": None, "backprop": None, "path_sum": None,
             "paths": count}
            for name, node, count in self.biases]
        self.node_templates = [
            {"name": name, "layer": layer, "pre": None, "value": None, "derivative": None}
            for name, layer in self.nodes]


_META_CACHE: dict[tuple[int, ...], _Meta] = {}


def _meta(layers: tuple[int, ...]) -> _Meta:
    if layers not in _META_CACHE:
        if len(_META_CACHE) > 64:
            _META_CACHE.clear()
        _META_CACHE[layers] = _Meta(layers)
    return _META_CACHE[layers]


def _columns(array: Array, exact: bool) -> list[list[Any]]:
    """Rows of a (B, n) array as lists of floats (None for NaN, or an exact value that is
    missing or beyond float64: its ``*_exact`` string still has it)."""
    if exact:
        return [[None if v is None else as_float(v) for v in row] for row in array.tolist()]
    if np.isnan(array).any():
        holes = array.astype(object)
        holes[np.isnan(array)] = None
        return holes.tolist()
    return array.tolist()


def _flat(array: Array, exact: bool) -> list[Any]:
    """All of an array, row after row, as floats (None for NaN or a missing exact value)."""
    flat = array.reshape(-1)
    if exact:
        return [None if v is None else as_float(v) for v in flat.tolist()]
    if np.isnan(flat).any():
        holes = flat.astype(object)
        holes[np.isnan(flat)] = None
        return holes.tolist()
    return flat.tolist()


def _flat_or_none(
    pair: tuple[Array, Array] | None, part: int, count: int, exact: bool
) -> list[Any]:
    """``_flat`` of ``pair[part]``, or ``count`` Nones when there is no such pair."""
    return [None] * count if pair is None else _flat(pair[part], exact)


def _fd_arrays(analysis: BatchAnalysis) -> tuple[Array, Array] | None:
    """Finite differences of every network as (B, n_weights) and (B, n_biases) arrays."""
    if analysis.finite_differences is None:
        return None
    weights, biases = (
        np.stack([np.concatenate([a.ravel() for a in getattr(fd, part)])
                  for fd in analysis.finite_differences])
        for part in ("weights", "biases"))
    return weights, biases


# --- agreement -------------------------------------------------------------------------


def _agreement(agreement: Agreement, options: Options, exact: bool) -> list[dict[str, Any]]:
    """The ``agreement`` record of every network, from the comparisons' arrays."""
    base: dict[str, Any] = {"rtol": options.rtol, "atol": options.atol}
    if agreement.path_sum is None:
        records = [{"ok": True, "max_abs_diff": None, "max_rel_diff": None, **base}
                   for _ in range(agreement.size)]
    else:
        records = _records(agreement.path_sum, exact, base)
    if agreement.finite_difference is not None and agreement.skipped is not None:
        fd = _records(agreement.finite_difference, exact, None)
        for record, entry, skipped in zip(records, fd, agreement.skipped, strict=True):
            entry.pop("max_abs_diff_exact", None)
            entry["skipped"] = skipped
            record["finite_difference"] = entry
    return records


def _records(
    comparison: Comparison, exact: bool, base: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """One record per network: ``ok``, the largest differences, the tolerance."""
    records = []
    for b, (ok, worst, rel) in enumerate(zip(comparison.ok.tolist(), comparison.max_abs_diff,
                                             comparison.max_rel_diff, strict=True)):
        tolerance = base if base is not None else {"rtol": comparison.rtol[b],
                                                   "atol": comparison.atol[b]}
        record = {"ok": bool(ok), "max_abs_diff": as_float(worst), "max_rel_diff": rel,
                  **tolerance}
        if exact:
            record["max_abs_diff_exact"] = str(Fraction(worst))
        records.append(record)
    return records


# --- warnings --------------------------------------------------------------------------


def _warnings(
    analysis: BatchAnalysis, agreement: Agreement, options: Options, b: int,
    agreed: dict[str, Any], kinked: bool,
) -> list[str]:
    warnings: list[str] = []
    if not agreed["ok"]:
        warnings.append(disagreement(agreement, b))
    if kinked:
        warnings += _kink_warnings(analysis, options, b)
    if analysis.path_sum is None:
        warnings.append("path_sum is false: backprop only, not cross-checked by path sums")
    fd = agreed.get("finite_difference")
    if fd is not None:
        if fd["skipped"]:
            warnings.append("finite_difference skipped (the step crosses a kink): "
                            + ", ".join(fd["skipped"]))
        if not fd["ok"]:
            warnings.append("finite differences disagree with backprop beyond tolerance")
    return warnings


def _kink_warnings(analysis: BatchAnalysis, options: Options, b: int) -> list[str]:
    batch, passed = analysis.batch, analysis.passed
    names = Names.of(batch.layers)
    rule = options.subgradient
    warnings = []
    for l, name in enumerate(batch.activations, start=1):
        kinks, slopes = passed.kinks[l], passed.derivatives[l]
        if kinks is None or slopes is None or not kinks[b].any():
            continue
        for i in np.flatnonzero(kinks[b]).tolist():
            warnings.append(f"kink: {name} at {names.nodes[l][i]} (pre-activation exactly 0); "
                            f"subgradient {rule} uses derivative {_show(slopes[b][i])}")
    for k in np.flatnonzero(passed.loss_kinks[b]).tolist():
        out, y = names.nodes[-1][k], names.targets[k]
        warnings.append(f"kink: |{out} - {y}| at {out} = {y}; subgradient {rule} uses "
                        f"dLoss/d{out} = {_show(passed.loss_gradient[b][k])}")
    return warnings


def _show(value: Any) -> str:
    return str(Fraction(value)) if isinstance(value, Fraction | int) else f"{float(value):g}"


# --- exact strings ---------------------------------------------------------------------


def _add_exact(result: dict[str, Any], analysis: BatchAnalysis, b: int) -> bool:
    """Give every number of an exact result its exact string beside it (``*_exact``).

    Returns whether a number is beyond float64 (its float field null, its string not).
    """
    passed, batch = analysis.passed, analysis.batch
    text = _exact_texts
    result["loss_exact"] = str(Fraction(passed.loss[b]))
    result["outputs_exact"] = dict(zip(result["outputs"], text(passed.values[-1][b]),
                                       strict=True))
    columns = {key: np.concatenate([a[b] for a in arrays[1:]])  # type: ignore[index]
               for key, arrays in (("pre", passed.pre), ("value", passed.values),
                                   ("derivative", passed.derivatives))}
    overflow = result["loss"] is None or None in result["outputs"].values()
    overflow |= _attach(result["nodes"], columns)
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


def _attach(records: list[dict[str, Any]], columns: Mapping[str, Array | None]) -> bool:
    """Add ``<key>_exact`` strings; return whether a float field is null beside its string."""
    overflow = False
    for key, values in columns.items():
        texts = _exact_texts(values) if values is not None else [None] * len(records)
        for record, text in zip(records, texts, strict=True):
            record[f"{key}_exact"] = text
            overflow |= text is not None and record[key] is None
    return overflow
