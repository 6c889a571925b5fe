"""Drawing a network: layers as columns, neurons as circles, weights as edges.

One drawing serves the explorer page (``/explore``) and ``pathgrad draw``
(docs/CONTRACT.md section 9): :func:`scene` reads a network and its analysis,
:func:`svg` and :func:`dot` write it. Every neuron is an element with
``data-node="H1"``, every weight one with ``data-weight="W1"``; the edges of the
highlighted paths carry the class ``on-path``. Edge width follows |w|, colour its
sign (blue positive, orange and dashed negative, so the sign does not rest on
colour alone). Styling is by presentation attributes only, never a ``style``
element or attribute, so a page whose Content-Security-Policy forbids inline
styles can show the SVG as it is, and restyle it with its own stylesheet.

A network of up to :data:`WHOLE_NEURONS` neurons and :data:`WHOLE_WEIGHTS` weights
is drawn whole. A larger one is drawn as one block per layer, with only the neurons
and weights of the highlighted paths inside: thousands of edges are no picture.

This module does no maths: the numbers come from the analysis result
(docs/CONTRACT.md section 2) and the path pages (section 8).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from worker.engine.names import Names

__all__ = ["DEFAULT_PATHS", "WHOLE_NEURONS", "WHOLE_WEIGHTS", "Highlight", "Scene", "dot",
           "scene", "svg"]

#: Networks up to this many neurons (and :data:`WHOLE_WEIGHTS` weights) are drawn whole.
WHOLE_NEURONS = 300
WHOLE_WEIGHTS = 5000
#: Paths highlighted for a selection: the largest by |contribution| (contract section 9).
DEFAULT_PATHS = 20
# Weight names are written on the edges up to this many weights; beyond, only on hover.
_LABELLED_WEIGHTS = 40
# Edges are keyboard-focusable up to this many; beyond, a page selects them by name.
_FOCUSABLE_WEIGHTS = 200

POSITIVE, NEGATIVE, ZERO = "#2f6db5", "#d9480f", "#9aa0a6"
_FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
_INK, _MUTED = "#1f2328", "#57606a"
_LEGEND = ("Under each neuron its value. Edge width: |weight|; blue: positive, orange dashed: "
           "negative.")


@dataclass(frozen=True)
class Scene:
    """A network's names and numbers, as a drawing shows them (means over a mini-batch)."""

    layers: tuple[int, ...]
    names: Names
    activations: tuple[str, ...]  # one per non-input layer
    loss: str
    loss_rule: str  # dLoss/dOut as people write it: sign(Out - Y)
    loss_value: float | None
    samples: int
    weights: tuple[tuple[tuple[float, ...], ...], ...]  # weights[l-1][i][j], row = destination
    biases: tuple[tuple[float, ...], ...]
    gradients: tuple[float | None, ...]  # dLoss/dW by weight number - 1
    values: tuple[tuple[float | None, ...], ...]  # every layer's neuron values, inputs first
    derivatives: tuple[tuple[float | None, ...], ...]  # sigma' of layers 1..L
    deltas: tuple[tuple[float | None, ...], ...]  # dLoss/dz of layers 1..L (= dLoss/db)
    targets: tuple[float | None, ...]
    checked: bool  # whether the path sum was enumerated beside backprop

    @property
    def neuron_count(self) -> int:
        """All neurons, inputs included."""
        return sum(self.layers)

    @property
    def weight_count(self) -> int:
        """All weights."""
        return self.names.weight_count

    @property
    def whole(self) -> bool:
        """Whether the network is drawn whole (else as blocks with the highlighted paths)."""
        return self.neuron_count <= WHOLE_NEURONS and self.weight_count <= WHOLE_WEIGHTS

    def __repr__(self) -> str:
        return f"Scene(layers={list(self.layers)}, loss={self.loss}, samples={self.samples})"


@dataclass(frozen=True)
class Highlight:
    """A selected weight, bias or neuron and the paths shown for it."""

    kind: str  # "weight" (a weight or a bias) or "node"
    name: str
    paths: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()  # (nodes, weights)

    @classmethod
    def of_page(cls, kind: str, name: str, page: Mapping[str, Any]) -> Highlight:
        """The highlight of a path page (``path_contributions`` or ``top_paths``)."""
        return cls(kind, name, tuple((tuple(p["nodes"]), tuple(p["weights"]))
                                     for p in page["paths"]))

    @property
    def edges(self) -> set[str]:
        """The weights on the highlighted paths."""
        return {weight for _, weights in self.paths for weight in weights}

    @property
    def nodes(self) -> set[str]:
        """The neurons on the highlighted paths."""
        return {node for nodes, _ in self.paths for node in nodes}


def scene(network: Mapping[str, Any], result: Mapping[str, Any]) -> Scene:
    """Read a (validated) network spec and its analysis result into a :class:`Scene`."""
    from worker.engine.losses import LOSSES

    layers = tuple(int(size) for size in network["layers"])
    names = Names.of(layers)
    depth = len(layers) - 1
    activation = network["activation"]
    activations = tuple(_activation_name(a) for a in (
        activation if isinstance(activation, list) else [activation] * depth))
    inputs, samples = _columns(network["input"])
    nodes = {record["name"]: record for record in result["nodes"]}
    deltas = {record["node"]: record["gradient"] for record in result["biases"]}
    gradients = [_mean(record["gradient"]) for record in result["weights"]]
    biases = network.get("biases") or [[0] * size for size in layers[1:]]
    loss = LOSSES.get(str(network["loss"]))
    return Scene(
        layers=layers, names=names, activations=activations, loss=str(network["loss"]),
        loss_rule=loss.derivative_rule if loss is not None else "dLoss/dOut",
        loss_value=_mean(result.get("loss")), samples=samples,
        weights=tuple(tuple(tuple(_number(v) for v in row) for row in matrix)
                      for matrix in network["weights"]),
        biases=tuple(tuple(_number(v) for v in vector) for vector in biases),
        gradients=tuple(gradients),
        values=(tuple(inputs), *(tuple(_mean(nodes[n]["value"]) for n in layer)
                                 for layer in names.nodes[1:])),
        derivatives=tuple(tuple(_mean(nodes[n]["derivative"]) for n in layer)
                          for layer in names.nodes[1:]),
        deltas=tuple(tuple(_mean(deltas[n]) for n in layer) for layer in names.nodes[1:]),
        targets=tuple(_columns(network["target"])[0]),
        checked=result.get("paths_enumerated", 0) > 0,
    )


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


def _shown(scene: Scene, highlight: Highlight | None) -> dict[int, list[int]] | None:
    """The neurons a block drawing shows, by layer (None: the drawing is whole)."""
    if scene.whole:
        return None
    shown: dict[int, set[int]] = {l: set() for l in range(len(scene.layers))}
    wanted = set(highlight.nodes) if highlight is not None else set()
    if highlight is not None:
        wanted |= _ends(scene, highlight)
    for name in wanted:
        l, i = scene.names.locate_node(name)
        shown[l].add(i)
    return {l: sorted(indices) for l, indices in shown.items()}


def _ends(scene: Scene, highlight: Highlight) -> set[str]:
    """The selected neuron, or the neurons at the ends of the selected weight or bias."""
    if highlight.kind == "node":
        return {highlight.name}
    if highlight.name.startswith("b_"):
        return {highlight.name[2:]}
    l, row, col = scene.names.locate(highlight.name)
    return {scene.names.nodes[l - 1][col], scene.names.nodes[l][row]}


# --- SVG ------------------------------------------------------------------------------


def svg(scene: Scene, highlight: Highlight | None = None) -> str:
    """Return the drawing as an SVG document (text), highlighting ``highlight``'s paths."""
    shown = _shown(scene, highlight)
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
        "data-loss": _raw(scene.loss_value), "data-loss-name": scene.loss,
        "data-loss-rule": scene.loss_rule, "data-checked": str(scene.checked).lower(),
        "data-selected": selected or "",
    }
    parts = [f"<svg{_attrs(root)}>",
             f'<title id="pg-title">{escape(_title(scene))}</title>',
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
             "data-to": target, "data-value": _raw(value), "data-gradient": _raw(gradient)}
    if focusable:
        attrs |= {"tabindex": "0", "role": "button"}
    title = (f"{name}: the weight from {source} to {target}, {name} = {_fmt(value)}; "
             f"dLoss/d{name} = {_fmt(gradient)}")
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
             "data-value": _raw(value), "tabindex": "0", "role": "button"}
    if l:
        attrs |= {"data-derivative": _raw(scene.derivatives[l - 1][i]),
                  "data-delta": _raw(scene.deltas[l - 1][i])}
    if kind == "output":
        attrs["data-target"] = _raw(scene.targets[i])
    r = layout.radius
    fill = "#fff3bf" if selected else {"input": "#eef2f7", "hidden": "#ffffff",
                                       "output": "#fff4e6"}[kind]
    ring = {"stroke": _INK if on_path or selected else "#6e7781",
            "stroke-width": "3" if on_path or selected else "1.5"}
    parts = [f"<g{_attrs(attrs)}><title>{escape(_node_title(scene, l, i))}</title>",
             f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}"{_attrs(ring)}/>']
    size = max(8.0, min(15.0, r * 0.62 if len(name) <= 3 else r * 0.5))
    if r >= 7:
        parts.append(_text(x, y + size * 0.36, name, size=size, weight="600", fill=_INK))
    if r >= 12:
        parts.append(_text(x, y + r + 15, _fmt(value), size=12, fill=_MUTED, cls="value",
                           halo=True))
    parts.append("</g>")
    return "".join(parts)


def _node_title(scene: Scene, l: int, i: int) -> str:
    name = scene.names.nodes[l][i]
    mean = " (means over the mini-batch's samples)" if scene.samples > 1 else ""
    value = scene.values[l][i]
    if l == 0:
        return f"{name} = {_fmt(value)}: input {i + 1}{mean}"
    sources = scene.names.nodes[l - 1]
    weights = scene.names.weights[l - 1][i]
    total = (" + ".join(f"{s}\N{MIDDLE DOT}{w}" for s, w in zip(sources, weights, strict=True))
             if len(sources) <= 4 else f"\N{GREEK CAPITAL LETTER SIGMA} of {len(sources)} "
             f"inputs \N{MIDDLE DOT} weights")
    if scene.biases[l - 1][i]:
        total += f" + b_{name}"
    activation = scene.activations[l - 1]
    formula = total if activation == "identity" else f"{activation}({total})"
    text = (f"{name} = {formula} = {_fmt(value)}; \N{GREEK SMALL LETTER DELTA} = dLoss/dz = "
            f"{_fmt(scene.deltas[l - 1][i])}, \N{GREEK SMALL LETTER SIGMA}\N{PRIME} = "
            f"{_fmt(scene.derivatives[l - 1][i])}")
    if l == len(scene.layers) - 1:
        text += f"; target {scene.names.targets[i]} = {_fmt(scene.targets[i])}"
    return text + mean


def _loss_box(scene: Scene, layout: _Layout) -> list[str]:
    x = layout.columns[-1] + 58
    y = (layout.top + layout.bottom) / 2 - 24
    title, formula, targets = _loss_lines(scene)
    return [f'<g class="loss" data-loss="{_raw(scene.loss_value)}">',
            _text(x, y, title, size=14, weight="600", fill=_INK, anchor="start"),
            _text(x, y + 20, formula, size=13, fill=_INK, anchor="start"),
            _text(x, y + 40, targets, size=12, fill=_MUTED, anchor="start"), "</g>"]


def _loss_lines(scene: Scene) -> tuple[str, str, str]:
    targets = ", ".join(f"{t} = {_fmt(v)}" for t, v in zip(scene.names.targets[:3],
                                                             scene.targets, strict=False))
    if len(scene.targets) > 3:
        targets += ", \N{HORIZONTAL ELLIPSIS}"
    return "Loss", f"{_loss_formula(scene)} = {_fmt(scene.loss_value)}", targets


def _loss_formula(scene: Scene) -> str:
    """The loss as a formula of the outputs: |Out \N{MINUS SIGN} Y|."""
    one = len(scene.targets) == 1
    diff = "Out \N{MINUS SIGN} Y" if one else "Out\u2096 \N{MINUS SIGN} Y\u2096"
    total = "" if one else "\N{GREEK CAPITAL LETTER SIGMA} "
    square = "\N{SUPERSCRIPT TWO}"
    formulas = {
        "l1": f"{total}|{diff}|",
        "mse": f"{'' if one else 'mean '}({diff}){square}",
        "half_sse": f"\N{VULGAR FRACTION ONE HALF}{total}({diff}){square}",
        "softmax_cross_entropy": "\N{MINUS SIGN}\N{GREEK CAPITAL LETTER SIGMA} Y log "
                                 "softmax(Out)",
    }
    return formulas.get(scene.loss, scene.loss)


def _title(scene: Scene) -> str:
    return (f"The network {'-'.join(map(str, scene.layers))}: {scene.neuron_count:,} neurons, "
            f"{scene.weight_count:,} weights")


def _description(scene: Scene, mode: str, highlight: Highlight | None) -> str:
    text = (f"Layers as columns, left to right: {len(scene.layers) - 1} layers of weights; "
            f"loss {scene.loss} = {_fmt(scene.loss_value)}.")
    if scene.samples > 1:
        text += f" Values are means over {scene.samples} samples."
    if mode == "blocks":
        text += (" Each layer is drawn as a block; only the neurons and weights of the "
                 "highlighted paths are shown.")
    if highlight is not None:
        what = "the paths through" if highlight.kind == "node" else "the paths of"
        text += f" Highlighted: {what} {highlight.name} ({len(highlight.paths)} shown)."
    return text


# --- DOT ------------------------------------------------------------------------------


def dot(scene: Scene, highlight: Highlight | None = None) -> str:
    """Return the drawing as a Graphviz DOT graph (``dot -Tsvg`` lays it out again)."""
    shown = _shown(scene, highlight)
    on_path = highlight.edges if highlight is not None else set()
    on_nodes = highlight.nodes if highlight is not None else set()
    largest = max((abs(w) for matrix in scene.weights for row in matrix for w in row),
                  default=1.0) or 1.0
    lines = ["digraph network {",
             f"  graph [rankdir=LR, splines=line, nodesep=0.35, ranksep=1.6, "
             f"fontname=Helvetica, label={_dq(_title(scene))}];",
             "  node [shape=circle, fixedsize=true, width=0.75, fontname=Helvetica, "
             "fontsize=11];",
             "  edge [arrowhead=none, fontname=Helvetica, fontsize=9];"]
    for l, layer in enumerate(scene.names.nodes):
        indices = range(len(layer)) if shown is None else shown[l]
        span = layer[0] if len(layer) == 1 else f"{layer[0]}-{layer[-1]}"
        lines.append(f"  subgraph cluster_{l} {{ label={_dq(span)}; style=rounded; "
                     f"color={_dq('#d0d7de')};")
        for i in indices:
            name = layer[i]
            extra = ", penwidth=3" if name in on_nodes else ""
            label = f"{name}\\n{_fmt(scene.values[l][i])}"
            lines.append(f"    {_dq(name)} [id={_dq(name)}, label=\"{label}\", "
                         f"tooltip={_dq(_node_title(scene, l, i))}{extra}];")
        lines.append("  }")
    for l in range(1, len(scene.layers)):
        for i, row in enumerate(scene.names.weights[l - 1]):
            for j, name in enumerate(row):
                if shown is not None and name not in on_path:
                    continue
                value = scene.weights[l - 1][i][j]
                colour = POSITIVE if value > 0 else NEGATIVE if value < 0 else ZERO
                width = 0.6 + 3.0 * min(1.0, abs(value) / largest) + (2 if name in on_path
                                                                        else 0)
                style = ", style=dashed" if value < 0 else ""
                cls = ', class="on-path"' if name in on_path else ""
                lines.append(f"  {_dq(scene.names.nodes[l - 1][j])} -> "
                             f"{_dq(scene.names.nodes[l][i])} [id={_dq(name)}, "
                             f"label={_dq(name)}, color={_dq(colour)}, "
                             f"penwidth={width:.2f}{style}{cls}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


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


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fmt(value: float | None) -> str:
    """A number as people read it: four significant digits (2.3099999999999996 -> 2.31)."""
    if value is None or math.isnan(value):
        return "\N{EM DASH}"
    text = f"{value:.4g}"
    return "0" if text == "-0" else text.replace("-", "\N{MINUS SIGN}")


def _raw(value: float | None) -> str:
    """A number exactly, as JSON and JavaScript print it (the shortest repr)."""
    if value is None or not math.isfinite(value):
        return ""
    return repr(float(value))


def _number(value: Any) -> float:
    """A spec number (a JSON number, or an exact string such as "1/3") as a float."""
    if isinstance(value, str):
        try:
            return float(Fraction(value))
        except (ValueError, ZeroDivisionError, OverflowError):
            return math.nan
    return float(value)


def _mean(value: Any) -> float | None:
    """A number, or the mean of a mini-batch's list of them; None stays None."""
    if value is None:
        return None
    if isinstance(value, list):
        numbers = [_number(v) for v in value if v is not None]
        return sum(numbers) / len(numbers) if numbers else None
    return _number(value)


def _columns(values: Sequence[Any]) -> tuple[list[float | None], int]:
    """One sample's numbers, or the column means of N samples' rows; and N."""
    if values and isinstance(values[0], list):
        rows = [[_number(v) for v in row] for row in values]
        means: list[float | None] = [sum(column) / len(rows) for column in zip(*rows,
                                                                                strict=True)]
        return means, len(rows)
    return [_number(v) for v in values], 1


def _activation_name(activation: Any) -> str:
    if isinstance(activation, Mapping):
        extra = ", ".join(f"{k} {v}" for k, v in activation.items() if k != "name")
        return f"{activation.get('name')} ({extra})" if extra else str(activation.get("name"))
    return str(activation)
