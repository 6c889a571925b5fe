"""The result JSON of docs/CONTRACT.md section 2, built for a whole batch at once.

This module only turns arrays (the analysis and its agreement) into dicts. Arrays
are converted with one ``tolist()`` per batch and column: building Python dicts is
the costliest part of analysing many small networks.

For a mini-batch (docs/CONTRACT.md section 10) ``outputs`` and the node fields
``pre``, ``value`` and ``derivative`` are lists of N, one number per sample, and the
result says ``samples``; ``loss`` and every gradient are of the mean loss.
"""

from __future__ import annotations

import gc
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .agreement import Agreement, Comparison, disagreement
from .analysis import BatchAnalysis
from .exact import as_float
from .exact_results import add_exact
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
    batched = batch.batched
    nodes = _node_records(size, meta, *(
        _per_sample(np.concatenate(arrays[1:], axis=2), batched, exact)  # type: ignore[arg-type]
        for arrays in (passed.pre, passed.values, passed.derivatives)))
    agreements = _agreement(agreement, options, exact)
    losses = _flat(passed.loss, exact)
    outputs = _split(_per_sample(passed.values[-1], batched, exact), size, len(meta.outputs))
    enumerated = suffix_path_count(batch.layers) * batch.samples if options.path_sum else 0
    kinks = [k.any(axis=(1, 2)) for k in passed.kinks[1:] if k is not None]
    kinked: list[bool] = np.any([passed.loss_kinks.any(axis=(1, 2)), *kinks], axis=0).tolist()
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
        if batched:
            results[-1]["samples"] = batch.samples
        if exact and add_exact(results[-1], analysis, b):
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


def _per_sample(array: Array, batched: bool, exact: bool) -> list[Any]:
    """A (B, N, n) array as B * n items, network after network: each item a number, or
    for a mini-batch the list of its N samples' numbers."""
    if not batched:
        return _flat(array[:, 0], exact)
    size, samples, width = array.shape
    rows = np.swapaxes(array, 1, 2).reshape(size * width, samples)
    if exact:
        return [[None if v is None else as_float(v) for v in row] for row in rows.tolist()]
    if np.isnan(rows).any():
        holes = rows.astype(object)
        holes[np.isnan(rows)] = None
        return holes.tolist()
    return rows.tolist()


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
        for i in np.flatnonzero(kinks[b].any(axis=0)).tolist():
            samples = np.flatnonzero(kinks[b][:, i])
            warnings.append(f"kink: {name} at {names.nodes[l][i]}{_where(batch, samples)} "
                            f"(pre-activation exactly 0); subgradient {rule} uses derivative "
                            f"{_show(slopes[b][samples[0], i])}")
    loss_kinks = passed.loss_kinks[b]
    for k in np.flatnonzero(loss_kinks.any(axis=0)).tolist():
        out, y = names.nodes[-1][k], names.targets[k]
        samples = np.flatnonzero(loss_kinks[:, k])
        # dLoss/dOut of the mean carries 1/N: the rule's derivative is the sample's times N.
        slope = passed.loss_gradient[b][samples[0], k] * batch.samples
        warnings.append(f"kink: |{out} - {y}| at {out} = {y}{_where(batch, samples)}; "
                        f"subgradient {rule} uses dLoss/d{out} = {_show(slope)}")
    return warnings


def _where(batch: Any, samples: Array) -> str:
    """`` in samples 0, 3 (2 of 32)`` for a mini-batch; nothing for one sample."""
    if not batch.batched:
        return ""
    shown = ", ".join(map(str, samples[:10].tolist())) + (", ..." if len(samples) > 10 else "")
    plural = "s" if len(samples) > 1 else ""
    return f" in sample{plural} {shown} ({len(samples)} of {batch.samples})"


def _show(value: Any) -> str:
    return str(Fraction(value)) if isinstance(value, Fraction | int) else f"{float(value):g}"
