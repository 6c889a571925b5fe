"""An independent, deliberately naive reference for pathgrad's numbers, from docs/CONTRACT.md.

Plain Python loops over plain lists, in ``float`` or ``fractions.Fraction``; no NumPy
and nothing imported from the engine. Three things are computed here:

- the forward pass, the loss and dLoss/dOut (identity, relu, leaky_relu (slope 0.01, or
  an activation object's ``{"name": "leaky_relu", "slope": s}``), sigmoid, tanh; l1, mse,
  half_sse, softmax_cross_entropy);
- every weight's and bias's gradient by *explicit per-path enumeration*: one
  ``itertools.product`` over the later layers' node indices, one product per path;
- central finite differences of the reference loss.

A kink uses the subgradient rule of docs/CONTRACT.md section 1: ``min_norm`` (abs -> 0,
relu -> 0, leaky_relu -> its slope), ``left``, ``right``.

A mini-batch (section 10) is not computed here as such: :func:`split_samples` cuts it
into one one-sample spec per sample, whose results the tests average themselves.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = [
    "RefForward",
    "RefPath",
    "activation_of",
    "finite_difference",
    "forward",
    "input_gradient",
    "loss_of",
    "names",
    "network_paths_of",
    "path_gradients",
    "paths_of",
    "prairielearn_half_width",
    "split_samples",
    "to_number",
]

LEAKY = Fraction(1, 100)


def to_number(value: Any, exact: bool) -> Any:
    """A spec number as float, or as Fraction when exact (strings like "1/3" allowed)."""
    if exact:
        return Fraction(value) if isinstance(value, int | str) else Fraction(repr(value))
    return float(value)


def names(layers: list[int]) -> dict[str, Any]:
    """Node names per layer, and weight name -> (l, i, j), bias name -> (l, i).

    Weights are numbered row by row (destination i, then source j), layer after layer.
    """
    depth = len(layers) - 1
    nodes = [[f"X{k}" for k in range(1, layers[0] + 1)]]
    hidden = 0
    for l in range(1, depth):
        nodes.append([f"H{hidden + k}" for k in range(1, layers[l] + 1)])
        hidden += layers[l]
    nodes.append(["Out"] if layers[-1] == 1 else [f"Out{k}" for k in range(1, layers[-1] + 1)])
    weights: dict[str, tuple[int, int, int]] = {}
    number = 0
    for l in range(1, depth + 1):
        for i in range(layers[l]):
            for j in range(layers[l - 1]):
                number += 1
                weights[f"W{number}"] = (l, i, j)
    biases = {f"b_{nodes[l][i]}": (l, i) for l in range(1, depth + 1) for i in range(layers[l])}
    return {"nodes": nodes, "weights": weights, "biases": biases}


def activation_of(name: str, z: Any, subgradient: str, exact: bool,
                  slope: Any = None) -> tuple[Any, Any]:
    """(value, derivative) of one neuron; at a relu/leaky kink the subgradient rule.

    ``slope`` is leaky_relu's below zero (None: the default 0.01).
    """
    one = Fraction(1) if exact else 1.0
    if slope is None:
        slope = LEAKY if exact else 0.01
    if name == "identity":
        return z, one
    if name == "relu":
        if z > 0:
            return z, one
        if z < 0:
            return 0 * z, 0 * one
        return 0 * z, {"min_norm": 0, "left": 0, "right": 1}[subgradient] * one
    if name == "leaky_relu":
        if z > 0:
            return z, one
        if z < 0:
            return slope * z, slope
        return 0 * z, {"min_norm": slope, "left": slope, "right": one}[subgradient]
    if name == "sigmoid":
        s = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        # sigma' is even in z; evaluating it at -|z| avoids the cancellation in 1 - s near s = 1.
        low = math.exp(-abs(z)) / (1.0 + math.exp(-abs(z)))
        return s, low * (1.0 - low)
    if name == "tanh":
        # tanh' = sech^2 z, computed from cosh rather than as 1 - tanh^2 (which cancels when
        # tanh saturates); beyond |z| = 710 cosh overflows and sech^2 is 0 in float64 anyway.
        return math.tanh(z), 0.0 if abs(z) > 710 else 1.0 / math.cosh(z) ** 2
    raise ValueError(name)


def loss_of(name: str, out: list[Any], y: list[Any], subgradient: str) -> tuple[Any, list[Any]]:
    """(loss, dLoss/dOut) straight from the contract's definitions."""
    k = len(out)
    if name == "l1":
        grads = []
        for o, t in zip(out, y, strict=True):
            d = o - t
            if d > 0:
                grads.append(1 + 0 * d)
            elif d < 0:
                grads.append(-1 + 0 * d)
            else:
                grads.append({"min_norm": 0, "left": -1, "right": 1}[subgradient] + 0 * d)
        return sum(abs(o - t) for o, t in zip(out, y, strict=True)), grads
    if name == "mse":
        loss = sum((o - t) ** 2 for o, t in zip(out, y, strict=True)) / k
        return loss, [2 * (o - t) / k for o, t in zip(out, y, strict=True)]
    if name == "half_sse":
        loss = sum((o - t) ** 2 for o, t in zip(out, y, strict=True)) / 2
        return loss, [o - t for o, t in zip(out, y, strict=True)]
    if name == "softmax_cross_entropy":
        top = max(out)
        log_z = top + math.log(sum(math.exp(o - top) for o in out))
        log_softmax = [o - log_z for o in out]
        softmax = [math.exp(v) for v in log_softmax]
        loss = -sum(t * v for t, v in zip(y, log_softmax, strict=True))
        # L = -sum_j y_j (out_j - log Z)  =>  dL/dout_k = softmax_k * sum_j y_j - y_k
        total = sum(y)
        return loss, [p * total - t for p, t in zip(softmax, y, strict=True)]
    raise ValueError(name)


@dataclass
class RefForward:
    """The reference forward pass: per layer l = 0..L, lists of numbers."""

    layers: list[int]
    weights: list[list[list[Any]]]  # weights[l-1][i][j]
    values: list[list[Any]]  # a_l, values[0] = input
    pre: list[list[Any] | None]
    derivatives: list[list[Any] | None]
    loss: Any
    loss_gradient: list[Any]


def forward(spec: dict[str, Any], *, exact: bool = False,
            subgradient: str = "min_norm") -> RefForward:
    """Run the network of a spec neuron by neuron."""
    layers = list(spec["layers"])
    depth = len(layers) - 1
    acts = spec["activation"]
    acts = [acts] * depth if isinstance(acts, str | dict) else list(acts)
    # An activation object: its name, and its slope (leaky_relu) when given.
    slopes = [to_number(a["slope"], exact) if isinstance(a, dict) and "slope" in a else None
              for a in acts]
    acts = [a["name"] if isinstance(a, dict) else a for a in acts]
    weights = [[[to_number(v, exact) for v in row] for row in w] for w in spec["weights"]]
    zero = Fraction(0) if exact else 0.0
    biases = ([[to_number(v, exact) for v in b] for b in spec["biases"]]
              if spec.get("biases") is not None else [[zero] * n for n in layers[1:]])
    values = [[to_number(v, exact) for v in spec["input"]]]
    pre: list[list[Any] | None] = [None]
    derivatives: list[list[Any] | None] = [None]
    for l in range(1, depth + 1):
        zs, vs, ds = [], [], []
        for i in range(layers[l]):
            z = biases[l - 1][i]
            for j in range(layers[l - 1]):
                z = z + weights[l - 1][i][j] * values[l - 1][j]
            v, d = activation_of(acts[l - 1], z, subgradient, exact, slopes[l - 1])
            zs.append(z)
            vs.append(v)
            ds.append(d)
        pre.append(zs)
        values.append(vs)
        derivatives.append(ds)
    target = [to_number(v, exact) for v in spec["target"]]
    loss, gradient = loss_of(spec["loss"], values[-1], target, subgradient)
    return RefForward(layers, weights, values, pre, derivatives, loss, gradient)


@dataclass
class RefPath:
    """One path of a weight or bias: node indices per layer from its edge on, and its product."""

    indices: tuple[int, ...]  # (j, i, k_{l+1}, ..., k_L); j is None-like (-1) for a bias
    contribution: Any


def _suffix_product(f: RefForward, l: int, i: int, later: tuple[int, ...]) -> Any:
    """s_l[i] * prod over later edges (W * s) * dLoss/dOut for one explicit path."""
    product = f.derivatives[l][i]  # type: ignore[index]
    prev = i
    for m, k in enumerate(later, start=l + 1):
        product = product * f.weights[m - 1][k][prev] * f.derivatives[m][k]  # type: ignore[index]
        prev = k
    return product * f.loss_gradient[prev]


def paths_of(f: RefForward, l: int, i: int, j: int | None) -> list[RefPath]:
    """Every path of the weight (l, i, j) (or bias (l, i) when j is None), in index order."""
    source = 1 if j is None else f.values[l - 1][j]
    later = [range(n) for n in f.layers[l + 1:]]
    result = []
    for rest in itertools.product(*later):
        contribution = source * _suffix_product(f, l, i, rest)
        result.append(RefPath((-1 if j is None else j, i, *rest), contribution))
    return result


def path_gradients(spec: dict[str, Any], *, exact: bool = False,
                   subgradient: str = "min_norm") -> dict[str, Any]:
    """dLoss/dW and dLoss/db for every weight and bias name, each as a sum over its paths."""
    f = forward(spec, exact=exact, subgradient=subgradient)
    table = names(f.layers)
    zero = Fraction(0) if exact else 0.0
    result: dict[str, Any] = {}
    for name, (l, i, j) in table["weights"].items():
        result[name] = sum((p.contribution for p in paths_of(f, l, i, j)), zero)
    for name, (l, i) in table["biases"].items():
        result[name] = sum((p.contribution for p in paths_of(f, l, i, None)), zero)
    return result


def finite_difference(spec: dict[str, Any], name: str, step: float = 1e-6) -> float:
    """Central difference (L(p + h) - L(p - h)) / 2h of the reference loss (float)."""
    table = names(list(spec["layers"]))
    losses = []
    for sign in (1, -1):
        moved = copy.deepcopy(spec)
        if moved.get("biases") is None:
            moved["biases"] = [[0.0] * n for n in spec["layers"][1:]]
        if name in table["weights"]:
            l, i, j = table["weights"][name]
            moved["weights"][l - 1][i][j] = float(moved["weights"][l - 1][i][j]) + sign * step
        else:
            l, i = table["biases"][name]
            moved["biases"][l - 1][i] = float(moved["biases"][l - 1][i]) + sign * step
        losses.append(forward(moved).loss)
    return (losses[0] - losses[1]) / (2 * step)


def input_gradient(spec: dict[str, Any], step: float = 1e-6) -> list[float]:
    """dLoss/dx of one sample by central differences of the reference loss (float)."""
    gradient = []
    for k in range(len(spec["input"])):
        losses = []
        for sign in (1, -1):
            moved = dict(spec, input=list(spec["input"]))
            moved["input"][k] = float(moved["input"][k]) + sign * step
            losses.append(forward(moved).loss)
        gradient.append((losses[0] - losses[1]) / (2 * step))
    return gradient


def network_paths_of(f: RefForward, keep: dict[int, int]) -> list[RefPath]:
    """Every input-to-output path (layer l's neuron ``keep[l]`` where given), in index order.

    A path's contribution is x_i * (each later neuron's derivative and weight in) *
    dLoss/dOut at its end; ``indices`` holds one neuron per layer, inputs first.
    """
    choices = [[keep[l]] if l in keep else range(n) for l, n in enumerate(f.layers)]
    result = []
    for path in itertools.product(*choices):
        product = f.values[0][path[0]]
        for m in range(1, len(path)):
            product = product * f.weights[m - 1][path[m]][path[m - 1]]
            product = product * f.derivatives[m][path[m]]  # type: ignore[index]
        result.append(RefPath(tuple(path), product * f.loss_gradient[path[-1]]))
    return result


def split_samples(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The one-sample specs of a spec's samples: each sample's input and target row.

    A mini-batch (``input`` a list of lists) gives one spec per row; a one-sample spec
    gives itself. ``activation`` becomes a list of one entry per layer in each.
    """
    depth = len(spec["layers"]) - 1
    acts = spec["activation"]
    acts = [acts] * depth if isinstance(acts, str | dict) else list(acts)
    rows = spec["input"]
    if not (rows and all(isinstance(row, list | tuple) for row in rows)):
        return [dict(spec, activation=acts)]
    return [dict(spec, activation=acts, input=list(x), target=list(y))
            for x, y in zip(rows, spec["target"], strict=True)]


def prairielearn_half_width(tolerance: dict[str, Any], value: float) -> float:
    """The half-width PrairieLearn accepts around ``value``, written out from its definitions.

    ``sigfig`` and ``decdig``: eps = 0.51 * 10**-n, n the decimal digits kept
    (for sigfig, counted from the leading digit of ``value``); else atol + rtol * |value|.
    """
    if "sigfig" in tolerance:
        digits = tolerance["sigfig"]
        n = digits - 1 if value == 0 else -math.floor(math.log10(abs(value))) + digits - 1
        return 0.51 * 10.0 ** -n
    if "decdig" in tolerance:
        return 0.51 * 10.0 ** -tolerance["decdig"]
    return float(tolerance["atol"] + tolerance["rtol"] * abs(value))
