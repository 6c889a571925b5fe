"""The drawing as SVG: layers as columns, neurons as circles, weights as edges."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from .scene import (
    Highlight,
    Scene,
    fmt,
    loss_formula,
    node_title,
    raw,
    shown_neurons,
    title,
)

__all__ = ["NEGATIVE", "POSITIVE", "ZERO", "svg"]

# Weight names are written on the edges up to this many weights; beyond, only on hover.
_LABELLED_WEIGHTS = 40
# Edges are keyboard-focusable up to this many; beyond, a page selects them by name.
_FOCUSABLE_WEIGHTS = 200

POSITIVE, NEGATIVE, ZERO = "#2f6db5", "#d9480f", "#9aa0a6"
_FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
_INK, _MUTED = "#1f2328", "#57606a"
_LEGEND = ("Under each neuron its value. Edge width: |weight|; blue: positive, orange dashed: "
           "negative.")


# --- layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    width: float
    height: float
    radius: float
    columns: tuple[float, ...]  # x of every layer
    points: dict[str, tuple[float, float]]  # the centre of every neuron drawn
    top: float
    bottom: float  # of the neurons' area (blocks reach from top to bottom)


def _layout(scene: Scene, shown: Mapping[int, Sequence[int]] | None) -> _Layout:
    """Place the neurons: every one (``shown`` None) or those shown inside layer blocks."""
    labelled = scene.whole and scene.weight_count <= _LABELLED_WEIGHTS
    gap = 210.0 if labelled or not scene.whole else 170.0
    left, top = 70.0, 84.0
    columns = tuple(left + l * gap for l in range(len(scene.layers)))
    points: dict[str, tuple[float, float]] = {}
    if shown is None:
        tallest = max(scene.layers)
        row = max(22.0, min(96.0, 660.0 / tallest))
        radius = min(24.0, row * 0.32)
        for l, layer in enumerate(scene.names.nodes):
            offset = (tallest - len(layer)) * row / 2
            for i, name in enumerate(layer):
                points[name] = (columns[l], top + radius + offset + i * row)
        bottom = top + 2 * radius + (tallest - 1) * row
    else:
        # At least 58 px a neuron: room for its circle and the value under it.
        radius = 17.0
        height = max([520.0] + [58.0 * (len(indices) + 1) for indices in shown.values()])
        bottom = top + height
        for l, indices in shown.items():
            step = height / (len(indices) + 1)
            for k, i in enumerate(sorted(indices)):
                points[scene.names.nodes[l][i]] = (columns[l], top + (k + 1) * step)
    loss_width = 7.5 * max(len(line) for line in _loss_lines(scene))
    return _Layout(width=columns[-1] + 80.0 + max(150.0, loss_width), height=bottom + 80.0,
                   radius=radius,
                   columns=columns, points=points, top=top, bottom=bottom)


# --- SVG ------------------------------------------------------------------------------


def svg(scene: Scene, highlight: Highlight | None = None) -> str:
    """Return the drawing as an SVG document (text), highlighting ``highlight``'s paths."""
    shown = shown_neurons(scene, highlight)
    layout = _layout(scene, shown)
    on_path = highlight.edges if highlight is not None else set()
    on_nodes = highlight.nodes if highlight is not None else set()
    selected = highlight.name if highlight is not None else None
    mode = "whole" if shown is None else "blocks"
    root = {
        "xmlns": "http://www.w3.org/2000/svg", "class": "pathgrad-network",
        "viewBox": f"0 0 {layout.width:.0f} {layout.height:.0f}",
        "width": f"{layout.width:.0f}", "height": f"{layout.height:.0f}",
        "role": "group", "aria-labelledby": "pg-title", "aria-describedby": "pg-desc",
        "font-family": _FONT, "data-mode": mode,
        "data-layers": ",".join(map(str, scene.layers)), "data-samples": str(scene.samples),
        "data-loss": raw(scene.loss_value), "data-loss-name": scene.loss,
        "data-loss-rule": scene.loss_rule, "data-checked": str(scene.checked).lower(),
        "data-selected": selected or "",
    }
    parts = [f"<svg{_attrs(root)}>",
             f'<title id="pg-title">{escape(title(scene))}</title>',
             f'<desc id="pg-desc">{escape(_description(scene, mode, highlight))}</desc>',
             '<rect width="100%" height="100%" fill="#ffffff"/>']
    parts += _captions(scene, layout, shown)
    parts.append('<g class="edges">')
    parts += _edges(scene, layout, shown, on_path, selected, faded=highlight is not None)
    parts.append('</g><g class="nodes">')
    parts += (_node(scene, layout, name, name in on_nodes, name == selected)
              for name in layout.points)
    parts.append("</g>")
    parts += _loss_box(scene, layout)
    parts.append(_text(24, layout.height - 16, _LEGEND, size=12, fill=_MUTED, anchor="start",
                       cls="legend"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _captions(scene: Scene, layout: _Layout, shown: Mapping[int, Sequence[int]] | None
              ) -> list[str]:
    parts = []
    depth = len(scene.layers) - 1
    for l, x in enumerate(layout.columns):
        kind = "inputs" if l == 0 else "output" if l == depth else f"hidden layer {l}"
        if l == depth and scene.layers[l] > 1:
            kind = "outputs"
        under = scene.activations[l - 1] if l else ""
        parts.append(_text(x, 30, kind, size=14, weight="600", fill=_INK))
        parts.append(_text(x, 50, under, size=12, fill=_MUTED))
        if shown is not None:
            layer = scene.names.nodes[l]
            span = layer[0] if len(layer) == 1 else f"{layer[0]}\N{EN DASH}{layer[-1]}"
            parts.append(f'<rect class="block" x="{x - 52:.1f}" y="{layout.top - 16:.1f}" '
                         f'width="104" height="{layout.bottom - layout.top + 32:.1f}" rx="14" '
                         f'fill="#f6f8fa" stroke="#d0d7de"/>')
            parts.append(_text(x, layout.bottom + 34, f"{span} ({len(layer):,})", size=12,
                               fill=_MUTED))
    return parts


def _edges(scene: Scene, layout: _Layout, shown: Mapping[int, Sequence[int]] | None,
           on_path: set[str], selected: str | None, *, faded: bool) -> Iterable[str]:
    largest = max((abs(w) for matrix in scene.weights for row in matrix for w in row
                   if math.isfinite(w)), default=1.0) or 1.0
    labelled = shown is None and scene.weight_count <= _LABELLED_WEIGHTS
    focusable = shown is None and scene.weight_count <= _FOCUSABLE_WEIGHTS
    placed: list[tuple[float, float]] = []
    for l in range(1, len(scene.layers)):
        for i, row in enumerate(scene.names.weights[l - 1]):
            for j, name in enumerate(row):
                if shown is not None and name not in on_path:
                    continue
                start = layout.points.get(scene.names.nodes[l - 1][j])
                end = layout.points.get(scene.names.nodes[l][i])
                if start is None or end is None:
                    continue
                yield _edge(scene, (l, i, j), start, end, largest,
                            name in on_path, name == selected, focusable,
                            _label_spot(start, end, placed) if labelled else None,
                            faded=faded and name not in on_path)


def _edge(scene: Scene, where: tuple[int, int, int], start: tuple[float, float],
          end: tuple[float, float], largest: float, on_path: bool, selected: bool,
          focusable: bool, label: tuple[float, float] | None, *, faded: bool) -> str:
    l, i, j = where
    name = scene.names.weights[l - 1][i][j]
    source, target = scene.names.nodes[l - 1][j], scene.names.nodes[l][i]
    value = scene.weights[l - 1][i][j]
    gradient = scene.gradients[scene.names.weight_offsets[l - 1] + i * scene.layers[l - 1] + j]
    sign = "positive" if value > 0 else "negative" if value < 0 else "zero"
    colour = POSITIVE if value > 0 else NEGATIVE if value < 0 else ZERO
    width = 0.8 + 3.6 * min(1.0, abs(value) / largest) if math.isfinite(value) else 1.0
    classes = ["edge", sign] + ["on-path"] * on_path + ["selected"] * selected
    attrs = {"class": " ".join(classes), "data-weight": name, "data-from": source,
             "data-to": target, "data-value": raw(value), "data-gradient": raw(gradient)}
    if focusable:
        attrs |= {"tabindex": "0", "role": "button"}
    title = (f"{name}: the weight from {source} to {target}, {name} = {fmt(value)}; "
             f"dLoss/d{name} = {fmt(gradient)}")
    line = {"x1": f"{start[0]:.1f}", "y1": f"{start[1]:.1f}", "x2": f"{end[0]:.1f}",
            "y2": f"{end[1]:.1f}"}
    paint = {"stroke": colour, "stroke-width": f"{width + (2.2 if on_path else 0):.2f}",
             "stroke-linecap": "round"}
    if value < 0:
        paint["stroke-dasharray"] = "7 4"
    if selected:
        paint["stroke-width"] = f"{width + 4:.2f}"
    if faded:  # off the highlighted paths: there, but in the background
        paint["stroke-opacity"] = "0.2"
    parts = [f"<g{_attrs(attrs)}><title>{escape(title)}</title>",
             f'<line class="stroke"{_attrs(line | paint)}/>',
             f'<line class="hit"{_attrs(line)} stroke="transparent" stroke-width="12"/>']
    if label is not None:
        parts.append(_text(label[0], label[1] + 4, name, size=12, fill=colour, cls="label",
                           weight="700" if selected else "600", halo=True,
                           opacity="0.35" if faded else None))
    parts.append("</g>")
    return "".join(parts)


def _label_spot(start: tuple[float, float], end: tuple[float, float],
                placed: list[tuple[float, float]]) -> tuple[float, float]:
    """A point on the edge for its name, as far as it can be from the names placed."""
    spots = [(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
             for t in (0.3, 0.42, 0.22, 0.55, 0.68)]
    best = max(spots, key=lambda p: min((math.dist(p, q) for q in placed), default=math.inf))
    placed.append(best)
    return best


def _node(scene: Scene, layout: _Layout, name: str, on_path: bool, selected: bool) -> str:
    l, i = scene.names.locate_node(name)
    x, y = layout.points[name]
    depth = len(scene.layers) - 1
    kind = "input" if l == 0 else "output" if l == depth else "hidden"
    value = scene.values[l][i]
    attrs = {"class": " ".join(["node", kind] + ["on-path"] * on_path + ["selected"] * selected),
             "data-node": name, "data-layer": str(l), "data-index": str(i),
             "data-value": raw(value), "tabindex": "0", "role": "button"}
    if l:
        attrs |= {"data-derivative": raw(scene.derivatives[l - 1][i]),
                  "data-delta": raw(scene.deltas[l - 1][i])}
    if kind == "output":
        attrs["data-target"] = raw(scene.targets[i])
    r = layout.radius
    fill = "#fff3bf" if selected else {"input": "#eef2f7", "hidden": "#ffffff",
                                       "output": "#fff4e6"}[kind]
    ring = {"stroke": _INK if on_path or selected else "#6e7781",
            "stroke-width": "3" if on_path or selected else "1.5"}
    parts = [f"<g{_attrs(attrs)}><title>{escape(node_title(scene, l, i))}</title>",
             f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}"{_attrs(ring)}/>']
    size = max(8.0, min(15.0, r * 0.62 if len(name) <= 3 else r * 0.5))
    if r >= 7:
        parts.append(_text(x, y + size * 0.36, name, size=size, weight="600", fill=_INK))
    if r >= 12:
        parts.append(_text(x, y + r + 15, fmt(value), size=12, fill=_MUTED, cls="value",
                           halo=True))
    parts.append("</g>")
    return "".join(parts)


def _loss_box(scene: Scene, layout: _Layout) -> list[str]:
    x = layout.columns[-1] + 58
    y = (layout.top + layout.bottom) / 2 - 24
    title, formula, targets = _loss_lines(scene)
    return [f'<g class="loss" data-loss="{raw(scene.loss_value)}">',
            _text(x, y, title, size=14, weight="600", fill=_INK, anchor="start"),
            _text(x, y + 20, formula, size=13, fill=_INK, anchor="start"),
            _text(x, y + 40, targets, size=12, fill=_MUTED, anchor="start"), "</g>"]


def _loss_lines(scene: Scene) -> tuple[str, str, str]:
    targets = ", ".join(f"{t} = {fmt(v)}" for t, v in zip(scene.names.targets[:3],
                                                             scene.targets, strict=False))
    if len(scene.targets) > 3:
        targets += ", \N{HORIZONTAL ELLIPSIS}"
    return "Loss", f"{loss_formula(scene)} = {fmt(scene.loss_value)}", targets


def _description(scene: Scene, mode: str, highlight: Highlight | None) -> str:
    text = (f"Layers as columns, left to right: {len(scene.layers) - 1} layers of weights; "
            f"loss {scene.loss} = {fmt(scene.loss_value)}.")
    if scene.samples > 1:
        text += f" Values are means over {scene.samples} samples."
    if mode == "blocks":
        text += (" Each layer is drawn as a block; only the neurons and weights of the "
                 "highlighted paths are shown.")
    if highlight is not None:
        what = "the paths through" if highlight.kind == "node" else "the paths of"
        text += f" Highlighted: {what} {highlight.name} ({len(highlight.paths)} shown)."
    return text


# --- helpers --------------------------------------------------------------------------


def _attrs(attrs: Mapping[str, str]) -> str:
    return "".join(f" {key}={quoteattr(value)}" for key, value in attrs.items())


def _text(x: float, y: float, text: str, *, size: float, fill: str, weight: str = "400",
          anchor: str = "middle", cls: str | None = None, halo: bool = False,
          opacity: str | None = None) -> str:
    attrs = {"x": f"{x:.1f}", "y": f"{y:.1f}", "font-size": f"{size:.1f}", "fill": fill,
             "font-weight": weight, "text-anchor": anchor}
    if cls:
        attrs = {"class": cls} | attrs
    if halo:  # a white outline under the letters keeps them legible across edges
        attrs |= {"stroke": "#ffffff", "stroke-width": "6", "paint-order": "stroke",
                  "stroke-linejoin": "round"}
    if opacity is not None:
        attrs["opacity"] = opacity
    return f"<text{_attrs(attrs)}>{escape(text)}</text>"


