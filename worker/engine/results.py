"""The result JSON of CONTRACT.md section 2, built for a whole batch at once.

Arrays are converted with one ``tolist()`` per batch and column, and the
agreement is computed for every network in one vectorised pass: building
Python dicts is the costliest part of analysing many small networks.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .paths import paths_per_node, suffix_path_count
from .spec import Names, Options

if TYPE_CHECKING:
    from .analysis import BatchAnalysis

__all__ = ["FD_ATOL", "FD_RTOL", "build_results"]

Array = npt.NDArray[Any]

# Central differences agree with backprop to about eps^(2/3) of the loss's scale.
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def build_results(analysis: BatchAnalysis, options: Options) -> list[dict[str, Any]]:
    """Return one CONTRACT.md section 2 result per network of the batch.

    Parameters
    ----------
    analysis : BatchAnalysis
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
        return _build(analysis, options)
    finally:
        if enabled:
            gc.enable()


def _build(analysis: BatchAnalysis, options: Options) -> list[dict[str, Any]]:
    batch, passed = analysis.batch, analysis.passed
    size, meta, exact = batch.size, _meta(batch.layers), batch.exact
    # The records of every network are built by one flat comprehension per kind over
    # (B * n,) columns, then cut into per-network lists: three loops in all rather
    # than three per network.
    weight_values = np.concatenate([w.reshape(size, -1) for w in batch.weights], 1)
    fd = _fd_arrays(analysis)
    weights = _weight_records(
        size, meta.weights, _flat(weight_values, exact), _flat(analysis.backprop[0], exact),
        _flat_or_none(analysis.path_sum, 0, size * len(meta.weights), exact),
        _flat_or_none(fd, 0, size * len(meta.weights), exact))
    biases = _bias_records(size, meta.biases, _flat(analysis.backprop[1], exact),
                           _flat_or_none(analysis.path_sum, 1, size * len(meta.biases), exact))
    if fd is not None:
        diffs = iter(_flat(fd[1], exact))
        for records in biases:
            for record in records:
                record["finite_difference"] = next(diffs)
    nodes = _node_records(size, meta.nodes, *(
        _flat(np.concatenate(arrays[1:], axis=1), exact)  # type: ignore[arg-type]
        for arrays in (passed.pre, passed.values, passed.derivatives)))
    agreement = _agreement(analysis, options)
    losses = _flat(passed.loss, exact)
    outputs = _columns(passed.values[-1], exact)
    enumerated = suffix_path_count(batch.layers) if options.path_sum else 0
    kinks = [k.any(axis=1) for k in passed.kinks[1:] if k is not None]
    kinked: list[bool] = np.any([passed.loss_kinks.any(axis=1), *kinks], axis=0).tolist()
    results = []
    for b in range(size):
        results.append({
            "loss": losses[b],
            "outputs": dict(zip(meta.outputs, outputs[b], strict=True)),
            "nodes": nodes[b],
            "weights": weights[b],
            "biases": biases[b],
            "agreement": agreement[b],
            "paths_enumerated": enumerated,
            "warnings": _warnings(analysis, options, b, agreement[b], kinked[b]),
        })
        if exact:
            _add_exact(results[-1], analysis, b)
    return results


def _weight_records(
    size: int, meta: list[tuple[str, int, str, str, int]], values: list[Any],
    grads: list[Any], paths: list[Any], diffs: list[Any],
) -> list[list[dict[str, Any]]]:
    flat = [{"name": name, "layer": layer, "from": source, "to": target, "value": value,
             "gradient": grad, "backprop": grad, "path_sum": path,
             "finite_difference": diff, "paths": count}
            for (name, layer, source, target, count), value, grad, path, diff
            in zip(meta * size, values, grads, paths, diffs, strict=True)]
    return _split(flat, size, len(meta))


def _bias_records(
    size: int, meta: list[tuple[str, str, int]], grads: list[Any], paths: list[Any],
) -> list[list[dict[str, Any]]]:
    flat = [{"name": name, "node": node, "gradient": grad, "backprop": grad,
             "path_sum": path, "paths": count}
            for (name, node, count), grad, path in zip(meta * size, grads, paths, strict=True)]
    return _split(flat, size, len(meta))


def _node_records(
    size: int, meta: list[tuple[str, int]], pres: list[Any], values: list[Any],
    slopes: list[Any],
) -> list[list[dict[str, Any]]]:
    flat = [{"name": name, "layer": layer, "pre": pre, "value": value, "derivative": slope}
            for (name, layer), pre, value, slope
            in zip(meta * size, pres, values, slopes, strict=True)]
    return _split(flat, size, len(meta))


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


_META_CACHE: dict[tuple[int, ...], _Meta] = {}


def _meta(layers: tuple[int, ...]) -> _Meta:
    if layers not in _META_CACHE:
        if len(_META_CACHE) > 64:
            _META_CACHE.clear()
        _META_CACHE[layers] = _Meta(layers)
    return _META_CACHE[layers]


def _columns(array: Array, exact: bool) -> list[list[Any]]:
    """Rows of a (B, n) array as lists of floats (None for NaN or a missing exact value)."""
    if exact:
        return [[None if v is None else float(v) for v in row] for row in array.tolist()]
    if np.isnan(array).any():
        holes = array.astype(object)
        holes[np.isnan(array)] = None
        return holes.tolist()
    return array.tolist()


def _flat(array: Array, exact: bool) -> list[Any]:
    """All of an array, row after row, as floats (None for NaN or a missing exact value)."""
    flat = array.reshape(-1)
    if exact:
        return [None if v is None else float(v) for v in flat.tolist()]
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


def _agreement(analysis: BatchAnalysis, options: Options) -> list[dict[str, Any]]:
    """Backprop vs path sum (and vs finite differences) for every network, vectorised."""
    size = analysis.batch.size
    base: dict[str, Any] = {"rtol": options.rtol, "atol": options.atol}
    agreements: list[dict[str, Any]]
    if analysis.path_sum is None:
        agreements = [{"ok": True, "max_abs_diff": None, "max_rel_diff": None, **base}
                      for _ in range(size)]
    else:
        ours, theirs = (np.concatenate(pair, axis=1) for pair in (analysis.backprop,
                                                                   analysis.path_sum))
        scale = np.concatenate(analysis.scale, axis=1)
        agreements = _compare(ours, theirs, options.atol, options.rtol * scale,
                              analysis.batch.exact, base)
    if analysis.finite_differences is not None:
        for b, fd_agreement in enumerate(_fd_agreement(analysis)):
            agreements[b]["finite_difference"] = fd_agreement
    return agreements


def _compare(
    ours: Array, theirs: Array, atol: float, rtol_scale: Array, exact: bool,
    base: dict[str, Any],
) -> list[dict[str, Any]]:
    diff = np.abs(ours - theirs)
    largest = np.maximum(np.abs(ours), np.abs(theirs))
    if exact:
        ok = (diff == 0).all(axis=1)
        worst = [max(row, default=Fraction(0)) for row in diff.tolist()]
        rel = [max((d / m for d, m in zip(dr, mr, strict=True) if m), default=0)
               for dr, mr in zip(diff.tolist(), largest.tolist(), strict=True)]
        return [{"ok": bool(k), "max_abs_diff": float(w), "max_rel_diff": float(r), **base,
                 "max_abs_diff_exact": str(Fraction(w))}
                for k, w, r in zip(ok.tolist(), worst, rel, strict=True)]
    ok = (diff <= atol + rtol_scale).all(axis=1)
    worst = diff.max(axis=1, initial=0.0)
    rel = np.divide(diff, largest, out=np.zeros_like(diff), where=largest > 0)
    return [{"ok": k, "max_abs_diff": w, "max_rel_diff": r, **base}
            for k, w, r in zip(ok.tolist(), worst.tolist(), rel.max(axis=1, initial=0.0).tolist(),
                               strict=True)]


def _fd_agreement(analysis: BatchAnalysis) -> list[dict[str, Any]]:
    exact = analysis.batch.exact
    result = []
    assert analysis.finite_differences is not None
    for b, fd in enumerate(analysis.finite_differences):
        ours = np.concatenate([analysis.backprop[0][b], analysis.backprop[1][b]])
        theirs = np.concatenate([a.ravel() for a in (*fd.weights, *fd.biases)])
        usable = np.array([v is not None for v in theirs.tolist()], dtype=bool) if exact \
            else ~np.isnan(theirs)
        loss_scale = max(1.0, abs(float(analysis.passed.loss[b])))
        rtol, atol = (0.0, 0.0) if exact else (FD_RTOL, FD_ATOL * loss_scale)
        (entry,) = _compare(ours[usable][None, :], theirs[usable][None, :], atol,
                            rtol * np.abs(ours[usable])[None, :], exact,
                            {"rtol": rtol, "atol": atol})
        entry.pop("max_abs_diff_exact", None)
        entry["skipped"] = fd.skipped
        result.append(entry)
    return result


# --- warnings --------------------------------------------------------------------------


def _warnings(
    analysis: BatchAnalysis, options: Options, b: int, agreement: dict[str, Any], kinked: bool
) -> list[str]:
    warnings: list[str] = []
    if not agreement["ok"]:
        warnings.append(
            f"DISAGREEMENT: backprop and path sum differ by up to {agreement['max_abs_diff']:.3g}"
            ", beyond atol + rtol * (sum of |path contributions|); this is a pathgrad bug, "
            "please report it")
    if kinked:
        warnings += _kink_warnings(analysis, options, b)
    if analysis.path_sum is None:
        warnings.append("path_sum is false: backprop only, not cross-checked by path sums")
    fd = agreement.get("finite_difference")
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


def _add_exact(result: dict[str, Any], analysis: BatchAnalysis, b: int) -> None:
    """Give every number of an exact result its exact string beside it (``*_exact``)."""
    passed, batch = analysis.passed, analysis.batch
    text = _exact_texts
    result["loss_exact"] = str(Fraction(passed.loss[b]))
    result["outputs_exact"] = dict(zip(result["outputs"], text(passed.values[-1][b]),
                                       strict=True))
    columns = {key: np.concatenate([a[b] for a in arrays[1:]])  # type: ignore[index]
               for key, arrays in (("pre", passed.pre), ("value", passed.values),
                                   ("derivative", passed.derivatives))}
    _attach(result["nodes"], columns)
    weights = {"value": np.concatenate([w[b].ravel() for w in batch.weights]),
               "gradient": analysis.backprop[0][b], "backprop": analysis.backprop[0][b],
               "path_sum": None if analysis.path_sum is None else analysis.path_sum[0][b]}
    biases = {"gradient": analysis.backprop[1][b], "backprop": analysis.backprop[1][b],
              "path_sum": None if analysis.path_sum is None else analysis.path_sum[1][b]}
    if analysis.finite_differences is not None:
        fd = analysis.finite_differences[b]
        weights["finite_difference"] = np.concatenate([a.ravel() for a in fd.weights])
        biases["finite_difference"] = np.concatenate([a.ravel() for a in fd.biases])
    _attach(result["weights"], weights)
    _attach(result["biases"], biases)


def _exact_texts(values: Array | None) -> list[str | None]:
    return [None if v is None else str(Fraction(v)) for v in values.tolist()] \
        if values is not None else []


def _attach(records: list[dict[str, Any]], columns: Mapping[str, Array | None]) -> None:
    for key, values in columns.items():
        texts = _exact_texts(values) if values is not None else [None] * len(records)
        for record, text in zip(records, texts, strict=True):
            record[f"{key}_exact"] = text
