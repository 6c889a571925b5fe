"""Render analysis results and path pages as plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_analysis", "render_flow", "render_paths"]


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.10g}"


def _per_sample(value: Any) -> str:
    """A number, or a mini-batch's list of them as its mean (a column each would not fit)."""
    if not isinstance(value, list):
        return _num(value)
    known = [v for v in value if v is not None]
    if not known:
        return "-"
    return f"{_num(sum(known) / len(known))} (mean of {len(value)})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    for row in rows:
        cells = zip(row, widths, strict=True)
        lines.append("  ".join(cell.rjust(w) if i > 1 else cell.ljust(w)
                               for i, (cell, w) in enumerate(cells)))
    return [line.rstrip() for line in lines]


def render_analysis(result: Mapping[str, Any], weight: str | None, formula: str | None) -> str:
    """Render every weight and bias (or one weight) with both gradients and path counts.

    For a mini-batch the loss is the mean over its N samples (so are the gradients),
    and each output is shown as its mean over them.
    """
    outputs = ", ".join(f"{name} = {_per_sample(v)}" for name, v in result["outputs"].items())
    samples = result.get("samples")
    of = f" (mean over {samples} samples)" if samples else ""
    lines = [f"loss = {_num(result['loss'])}{of}    {outputs}", ""]
    with_fd = any(w["finite_difference"] is not None for w in result["weights"])
    header = ["weight", "edge", "value", "dLoss/dW backprop", "dLoss/dW path sum", "paths"]
    if with_fd:
        header.append("finite diff")
    rows = []
    for w in result["weights"]:
        if weight and w["name"] != weight:
            continue
        row = [w["name"], f"{w['from']}->{w['to']}", _num(w["value"]), _num(w["backprop"]),
               _num(w["path_sum"]), str(w["paths"])]
        rows.append(row + ([_num(w["finite_difference"])] if with_fd else []))
    if not weight:
        for b in result["biases"]:
            row = [b["name"], b["node"], "", _num(b["backprop"]), _num(b["path_sum"]),
                   str(b["paths"])]
            rows.append(row + ([_num(b.get("finite_difference"))] if with_fd else []))
    lines += _table(header, rows)
    if formula:
        lines += ["", f"formula: dLoss/d{weight} = {formula}"]
    lines += ["", _agreement(result)]
    lines += [f"warning: {text}" for text in result["warnings"]]
    return "\n".join(lines)


def _agreement(result: Mapping[str, Any]) -> str:
    agreement = result["agreement"]
    if agreement["max_abs_diff"] is None:
        return "agreement: not checked (path sums were not enumerated)"
    verdict = "ok" if agreement["ok"] else "DISAGREE"
    text = (f"agreement: {verdict}  backprop vs path sum: max |diff| = "
            f"{agreement['max_abs_diff']:.3g}, max rel diff = {agreement['max_rel_diff']:.3g} "
            f"({result['paths_enumerated']} paths enumerated)")
    fd = agreement.get("finite_difference")
    if fd:
        text += f"\n           finite differences: {'ok' if fd['ok'] else 'DISAGREE'}, " \
                f"max |diff| = {fd['max_abs_diff']:.3g}"
    return text


def render_paths(page: Mapping[str, Any], formula: str | None) -> str:
    """Render a page of paths, one a line, then what they add up to and what the rest can add."""
    lines = []
    for path in page["paths"]:
        hops = [path["nodes"][0]]
        for weight, node in zip(path["weights"], path["nodes"][1:], strict=True):
            hops.append(f"-{weight}-> {node}")
        lines.append((" ".join(hops), _num(path["contribution"])))
    width = max((len(route) for route, _ in lines), default=0)
    text = [f"{route.ljust(width)}    contribution {value}" for route, value in lines]
    shown, total = len(page["paths"]), page["total_paths"]
    of = f"dLoss/d{page['weight']}" if "weight" in page else "sum over the paths"
    if shown < total:
        remainder = page["abs_sum"] - page["listed_abs_sum"]
        text.append(f"listed {shown:,} of {total:,} paths ({page['order']}): sum "
                    f"{_num(page['listed_sum'])}, |remainder| <= {_num(remainder)}")
        exact = f"{of} = {_num(page['gradient'])}" if "gradient" in page else ""
    else:
        exact = f"sum = {of} = {_num(page.get('gradient', page['listed_sum']))}"
    if exact:
        text.append(f"{exact}   formula: {formula}" if formula else exact)
    return "\n".join(text)


def render_flow(flow: Mapping[str, Any]) -> str:
    """Render a neuron's value, delta and the flow of the paths through it."""
    node = flow["node"]
    return "\n".join([
        f"{node}: value {_per_sample(flow['value'])}, delta (dLoss/dz) "
        f"{_per_sample(flow['delta'])}",
        f"paths through {node}: {flow['paths_through']:,}; their contributions add up to "
        f"{_num(flow['flow'])} (|contribution| to {_num(flow['abs_flow'])})",
    ])
