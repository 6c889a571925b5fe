"""The drawing as a Graphviz DOT graph (``dot -Tsvg`` lays it out again)."""

from __future__ import annotations

from .scene import Highlight, Scene, fmt, node_title, shown_neurons, title
from .svg import NEGATIVE, POSITIVE, ZERO

__all__ = ["dot"]


def dot(scene: Scene, highlight: Highlight | None = None) -> str:
    """Return the drawing as a Graphviz DOT graph (``dot -Tsvg`` lays it out again)."""
    shown = shown_neurons(scene, highlight)
    on_path = highlight.edges if highlight is not None else set()
    on_nodes = highlight.nodes if highlight is not None else set()
    largest = max((abs(w) for matrix in scene.weights for row in matrix for w in row),
                  default=1.0) or 1.0
    lines = ["digraph network {",
             f"  graph [rankdir=LR, splines=line, nodesep=0.35, ranksep=1.6, "
             f"fontname=Helvetica, label={_dq(title(scene))}];",
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
            label = f"{name}\\n{fmt(scene.values[l][i])}"
            lines.append(f"    {_dq(name)} [id={_dq(name)}, label=\"{label}\", "
                         f"tooltip={_dq(node_title(scene, l, i))}{extra}];")
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


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


