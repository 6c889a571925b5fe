"""What a drawing shows: a network's names and numbers, the highlight, and their words."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from worker.engine.names import Names

__all__ = ["DEFAULT_PATHS", "WHOLE_NEURONS", "WHOLE_WEIGHTS", "Highlight", "Scene", "ends",
           "fmt", "loss_formula", "node_title", "raw", "scene", "shown_neurons", "title"]

#: Networks up to this many neurons (and :data:`WHOLE_WEIGHTS` weights) are drawn whole.
WHOLE_NEURONS = 300
WHOLE_WEIGHTS = 5000
#: Paths highlighted for a selection: the largest by |contribution| (contract section 9).
DEFAULT_PATHS = 20

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


# --- what is shown, in words ----------------------------------------------------------


def shown_neurons(scene: Scene, highlight: Highlight | None) -> dict[int, list[int]] | None:
    """The neurons a block drawing shows, by layer (None: the drawing is whole)."""
    if scene.whole:
        return None
    shown: dict[int, set[int]] = {l: set() for l in range(len(scene.layers))}
    wanted = set(highlight.nodes) if highlight is not None else set()
    if highlight is not None:
        wanted |= ends(scene, highlight)
    for name in wanted:
        l, i = scene.names.locate_node(name)
        shown[l].add(i)
    return {l: sorted(indices) for l, indices in shown.items()}


def ends(scene: Scene, highlight: Highlight) -> set[str]:
    """The selected neuron, or the neurons at the ends of the selected weight or bias."""
    if highlight.kind == "node":
        return {highlight.name}
    if highlight.name.startswith("b_"):
        return {highlight.name[2:]}
    l, row, col = scene.names.locate(highlight.name)
    return {scene.names.nodes[l - 1][col], scene.names.nodes[l][row]}


def node_title(scene: Scene, l: int, i: int) -> str:
    name = scene.names.nodes[l][i]
    mean = " (means over the mini-batch's samples)" if scene.samples > 1 else ""
    value = scene.values[l][i]
    if l == 0:
        return f"{name} = {fmt(value)}: input {i + 1}{mean}"
    sources = scene.names.nodes[l - 1]
    weights = scene.names.weights[l - 1][i]
    total = (" + ".join(f"{s}\N{MIDDLE DOT}{w}" for s, w in zip(sources, weights, strict=True))
             if len(sources) <= 4 else f"\N{GREEK CAPITAL LETTER SIGMA} of {len(sources)} "
             f"inputs \N{MIDDLE DOT} weights")
    if scene.biases[l - 1][i]:
        total += f" + b_{name}"
    activation = scene.activations[l - 1]
    formula = total if activation == "identity" else f"{activation}({total})"
    text = (f"{name} = {formula} = {fmt(value)}; \N{GREEK SMALL LETTER DELTA} = dLoss/dz = "
            f"{fmt(scene.deltas[l - 1][i])}, \N{GREEK SMALL LETTER SIGMA}\N{PRIME} = "
            f"{fmt(scene.derivatives[l - 1][i])}")
    if l == len(scene.layers) - 1:
        text += f"; target {scene.names.targets[i]} = {fmt(scene.targets[i])}"
    return text + mean


def loss_formula(scene: Scene) -> str:
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


def title(scene: Scene) -> str:
    return (f"The network {'-'.join(map(str, scene.layers))}: {scene.neuron_count:,} neurons, "
            f"{scene.weight_count:,} weights")


def fmt(value: float | None) -> str:
    """A number as people read it: four significant digits (2.3099999999999996 -> 2.31)."""
    if value is None or math.isnan(value):
        return "\N{EM DASH}"
    text = f"{value:.4g}"
    return "0" if text == "-0" else text.replace("-", "\N{MINUS SIGN}")


def raw(value: float | None) -> str:
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
