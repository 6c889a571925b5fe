"""Symbolic gradient formulas: dLoss/dW of one weight as a SymPy sum over its paths.

The formula is built from the explicit paths of the weight, not from backprop
(docs/CONTRACT.md section 3): for a weight W on the edge u -> v, every path
v -> ... -> output k contributes one term::

    a_u * (weights of the later edges) * (dact of every neuron from v on) * dLoss/dOut_k

The paths are grouped by the output they reach, so each dLoss/dOut_k appears
once, and common factors are pulled out (``sympy.factor_terms``, which never
expands ``sign`` into a ``Piecewise``). The seed network's W1 reads
``X1*(W10*W14 + W13*W7)*sign(Out - Y)``: one term per path inside the
parentheses, as in the seed answer.

``mathml`` is the same expression as presentation MathML (one ``<math>`` element,
with numeric character references only, so it parses as XML): a browser renders
it with no script (the explorer shows it), ``dact_H4`` as sigma'_{H4}.

Symbols (plain ``sympy.Symbol`` without assumptions, so ``sympy.sympify(text)``
with no ``locals`` gives them back):

- ``X1, X2, ...`` inputs; ``H1, H2, ...`` hidden neurons and ``Out`` / ``Out1, ...``
  outputs, each meaning the neuron's value *after* its activation; ``Y`` /
  ``Y1, ...`` targets; ``W1, W2, ...`` weights (docs/CONTRACT.md section 1).
- ``dact_<neuron>`` (``dact_H4``, ``dact_Out``, ``dact_Out2``): the activation's
  derivative sigma'(z) at that neuron's pre-activation z, rendered
  ``\\sigma'_{H_{4}}`` in LaTeX. Identity neurons have derivative 1 and no factor.

dLoss/dOut_k is the loss record's (:meth:`worker.engine.losses.Loss.symbolic_gradient`):
``l1`` sign(Out_k - Y_k); ``mse`` 2*(Out_k - Y_k)/K; ``half_sse`` Out_k - Y_k;
``softmax_cross_entropy`` exp(Out_k)/(exp(Out1) + ... + exp(OutK))*(Y1 + ... + YK) - Y_k.

SymPy is imported on the first call, not with this module: it takes longer to
import than the rest of the engine, and most jobs never need a formula.

A formula is structural: the spec's numbers are validated but never used.
Specs are parsed in float mode; one that float mode refuses (strings such as
``"1/3"``) is accepted if it parses in exact mode, otherwise the float-mode
error is raised.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import TYPE_CHECKING, Any

from .errors import OptionError, PathgradError, PathLimitError, SpecError
from .names import Names
from .shapes import Formula
from .spec import Network, parse_spec

__all__ = ["DEFAULT_FORMULA_PATHS", "formula"]

DEFAULT_FORMULA_PATHS = 64

if TYPE_CHECKING:
    import sympy

_NAME = re.compile(r"(?P<stem>[A-Za-z]+)(?P<index>\d*)")
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_MATHML = '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">{}</math>'


def formula(
    spec: dict[str, Any], weight: str, *, max_paths: int = DEFAULT_FORMULA_PATHS
) -> Formula:
    """Return the symbolic path sum of dLoss/dW for one weight.

    Parameters
    ----------
    spec : dict
        The network (docs/CONTRACT.md section 1). Only its structure matters: layer
        sizes, activations and loss.
    weight : str
        A weight name, ``W1`` ... ``Wn``. Biases are not weights.
    max_paths : int, optional
        Refuse weights with more paths than this (default 64): beyond it the
        formula is too long to read.

    Returns
    -------
    dict
        ``{"weight": "W1", "text": str, "latex": str, "mathml": str, "paths": int}``:
        ``text`` parses with ``sympy.sympify``; ``mathml`` is a ``<math>`` element;
        ``paths`` is the number of paths summed.

    Raises
    ------
    OptionError
        If ``max_paths`` is not a positive integer.
    SpecError, ExactArithmeticError
        If the spec is invalid, naming the field, or its input is a mini-batch of
        more than one sample.
    UnknownWeightError
        If ``weight`` is not a weight of the network.
    PathLimitError
        If the weight has more than ``max_paths`` paths; the message gives both.

    Examples
    --------
    >>> seed = {"layers": [2, 3, 2, 1], "activation": "identity", "loss": "l1",
    ...         "weights": [[[0.1, 0.2]] * 3, [[0.7, 0.8, 0.9]] * 2, [[1.3, 1.4]]],
    ...         "input": [1.0, 2.0], "target": [1.0]}
    >>> formula(seed, "W1")["text"]
    'X1*(W10*W14 + W13*W7)*sign(Out - Y)'
    """
    import sympy

    _check_max_paths(max_paths)
    net = _parse(spec)
    if net.samples > 1:
        raise SpecError("input", f"a formula is of one sample, in its symbols X1, Y ...; this "
                        f"input is a mini-batch of {net.samples} samples (the mean loss's "
                        "gradient is the mean of one formula's values over them)")
    names = Names.of(net.layers)
    l, row, col = names.locate(weight)
    name = names.weights[l - 1][row][col]
    paths = math.prod(net.layers[l + 1 :])
    _check_path_count(name, paths, max_paths)
    expr = _path_sum(net, names, l, row, col)
    return {
        "weight": name,
        "text": sympy.sstr(expr),
        "latex": sympy.latex(expr, symbol_names=_latex_names(expr)),
        "mathml": _mathml(expr),
        "paths": paths,
    }


def _check_max_paths(max_paths: Any) -> None:
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise OptionError("max_paths", f"expected a positive integer, got {max_paths!r}")


def _check_path_count(weight: str, paths: int, max_paths: int) -> None:
    if paths > max_paths:
        raise PathLimitError(
            "weight",
            f"{weight} has {paths} paths; a formula is refused above {max_paths} paths "
            "(unreadable)",
            paths=paths,
            limit=max_paths,
        )


def _parse(spec: Any) -> Network:
    """Parse in float mode; fall back to exact mode for specs with exact strings."""
    try:
        return parse_spec(spec)
    except SpecError as error:
        try:
            return parse_spec(spec, exact=True)
        except PathgradError:
            raise error from None


def _path_sum(net: Network, names: Names, l: int, row: int, col: int) -> sympy.Expr:
    """Sum one product per path from weight ``(l, row, col)`` to an output, then group.

    Paths are grouped by the output they reach, so each dLoss/dOut_k appears once.
    """
    import sympy

    by_output: dict[int, list[sympy.Expr]] = {}
    # A path is the weight's destination `row` then one neuron index per later layer.
    for suffix in itertools.product(*(range(size) for size in net.layers[l + 1 :])):
        nodes = (row, *suffix)
        factors: list[sympy.Expr] = []
        for step, index in enumerate(nodes):
            factors.append(_activation_factor(net, names, l + step, index))
            if step:
                factors.append(sympy.Symbol(names.weights[l + step - 1][index][nodes[step - 1]]))
        by_output.setdefault(nodes[-1], []).append(sympy.Mul(*factors))
    outs = [sympy.Symbol(name) for name in names.nodes[-1]]
    loss_gradient = net.loss.symbolic_gradient(outs, [sympy.Symbol(y) for y in names.targets])
    total = sympy.Add(
        *(loss_gradient[k] * sympy.factor_terms(sympy.Add(*terms))
          for k, terms in by_output.items())
    )
    return sympy.factor_terms(sympy.Symbol(names.nodes[l - 1][col]) * total)


def _activation_factor(net: Network, names: Names, layer: int, index: int) -> sympy.Expr:
    import sympy

    if net.activations[layer - 1].has_unit_derivative:
        return sympy.S.One
    return sympy.Symbol(f"dact_{names.nodes[layer][index]}")


def _latex_names(expr: sympy.Expr) -> dict[sympy.Symbol, str]:
    return {symbol: _latex_name(symbol.name) for symbol in expr.free_symbols}


def _latex_name(name: str) -> str:
    """``W13`` -> ``W_{13}``, ``Out2`` -> ``\\operatorname{Out}_{2}``, ``dact_H4`` -> sigma'."""
    if name.startswith("dact_"):
        return rf"\sigma'_{{{_latex_name(name[len('dact_'):])}}}"
    match = _NAME.fullmatch(name)
    if match is None:
        return name
    stem, index = match["stem"], match["index"]
    if len(stem) > 1:
        stem = rf"\operatorname{{{stem}}}"
    return f"{stem}_{{{index}}}" if index else stem


def _mathml(expr: sympy.Expr) -> str:
    """Presentation MathML of ``expr``: ``W13`` as W with subscript 13, products with a dot."""
    import sympy
    from sympy.printing.mathml import mathml

    # The printer splits a trailing number into a subscript (W13 -> W_13) but knows
    # no names of its own: give sigma' a name it subscripts the same way.
    shown = expr.subs({symbol: sympy.Symbol(f"\N{GREEK SMALL LETTER SIGMA}\N{PRIME}_"
                                            f"{symbol.name[len('dact_'):]}")
                       for symbol in expr.free_symbols if symbol.name.startswith("dact_")})
    body = mathml(shown, printer="presentation", mul_symbol="dot").replace(
        "<mo>-</mo>", "<mo>&#x2212;</mo>")  # a minus sign, not a hyphen
    return _MATHML.format(_ENTITY.sub(_character, body))


def _character(match: re.Match[str]) -> str:
    """A named HTML entity (``&ExponentialE;``) as the numeric one XML knows."""
    import html.entities

    text = html.entities.html5.get(match[1] + ";")
    return "".join(f"&#x{ord(c):X};" for c in text) if text else match[0]
