"""The question of an exercise, in Markdown, modelled on the seed question.

Names follow docs/CONTRACT.md section 1: inputs ``X1..``, hidden neurons ``H1, H2, ...``
across all hidden layers, the output ``Out`` (or ``Out1..``), target ``Y`` (or
``Y1..``), and weights ``W1, W2, ...`` row by row, layer after layer, so that
``H1 = X1·W1 + X2·W2``. Equations are written as the seed writes them:
``$H_1 = X_1W_1 + X_2W_2$``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from ..engine.activations import Activation
from ..engine.losses import parse_loss
from ..engine.names import Names
from ..engine.spec import check_activation

__all__ = ["question", "question_html", "tex"]


def question(spec: dict[str, Any], ask: Sequence[str], seed: int) -> str:
    """Return the Markdown question of an exercise network.

    Parameters
    ----------
    spec : dict
        The network (docs/CONTRACT.md section 1), numbers as ints or halves.
    ask : sequence of str
        The weights asked, e.g. ``["W1", "W7"]``.
    seed : int
        Shown in the title, so a student's sheet names its variant.

    Returns
    -------
    str
        Markdown: the layers and their names, the equations, the numbers, the
        activation, the loss and one "What is dLoss/dW?" line per asked weight.

    Examples
    --------
    >>> spec = {"layers": [1, 1], "weights": [[[2]]], "activation": "identity",
    ...         "input": [3], "target": [1], "loss": "l1"}
    >>> print(question(spec, ["W1"], 0).splitlines()[-1])
    What is dLoss/dW1?
    """
    layers = tuple(spec["layers"])
    names = Names.of(layers)
    depth = len(layers) - 1
    activations = check_activation(spec["activation"], depth)
    lines = [f"### Exercise (seed {seed})", "", _describe(names, activations), ""]
    lines += ["Each neuron is the weighted sum of the layer before it"
              + (":" if all(a.has_unit_derivative for a in activations)
                 else ", passed through its activation:"), ""]
    for l in range(1, depth + 1):
        for i, node in enumerate(names.nodes[l]):
            total = " + ".join(tex(src) + tex(w) for src, w in
                               zip(names.nodes[l - 1], names.weights[l - 1][i], strict=True))
            act = activations[l - 1]
            body = total if act.has_unit_derivative \
                else rf"\mathrm{{{_tex_name(act.name)}}}({total})"
            lines.append(f"- ${tex(node)} = {body}$")
    lines += ["", _loss_text(spec["loss"], names), ""]
    lines += ["The numbers:", ""] + _numbers(spec, names) + [""]
    lines += [f"What is dLoss/d{weight}?" + ("" if k == len(ask) - 1 else "\n")
              for k, weight in enumerate(ask)]
    return "\n".join(lines)


def question_html(markdown: str, *, math: str = "dollar") -> str:
    r"""Return a question's Markdown (as :func:`question` writes it) as HTML.

    Parameters
    ----------
    markdown : str
        Headings ``### ...``, paragraphs, and lists of ``- ...`` lines, separated by
        blank lines: the only Markdown :func:`question` writes.
    math : {"dollar", "paren"}
        Inline mathematics as ``$...$`` (PrairieLearn's MathJax) or ``\(...\)``
        (Moodle's MathJax filter).

    Examples
    --------
    >>> print(question_html("### Title\n\n- $H_1 = X_1W_1$\n- a < b", math="paren"))
    <h3>Title</h3>
    <ul>
    <li>\(H_1 = X_1W_1\)</li>
    <li>a &lt; b</li>
    </ul>
    """
    blocks = [block.splitlines() for block in markdown.strip().split("\n\n") if block.strip()]
    parts = []
    for lines in blocks:
        if len(lines) == 1 and lines[0].startswith("### "):
            parts.append(f"<h3>{_inline(lines[0][4:], math)}</h3>")
        elif all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line[2:], math)}</li>\n" for line in lines)
            parts.append(f"<ul>\n{items}</ul>")
        else:
            parts.append(f"<p>{_inline(' '.join(lines), math)}</p>")
    return "\n".join(parts)


def _inline(text: str, math: str) -> str:
    escaped = html.escape(text, quote=False)
    if math == "paren":
        return re.sub(r"\$([^$]+)\$", r"\\(\1\\)", escaped)
    return escaped


def tex(name: str) -> str:
    """Spell a name as the seed's LaTeX: ``W13`` -> ``W_{13}``, ``H1`` -> ``H_1``."""
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if match is None:
        return name
    letters, digits = match.groups()
    return f"{letters}_{digits}" if len(digits) == 1 else f"{letters}_{{{digits}}}"


def _tex_name(activation: str) -> str:
    return activation.replace("_", r"\_")


def _join(items: Sequence[str], *, serial: bool = False) -> str:
    """``A, B and C``; ``serial`` puts a comma before the "and" too (lists of lists)."""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ("," if serial else "") + " and " + items[-1]


def _describe(names: Names, activations: Sequence[Activation]) -> str:
    depth = len(names.nodes) - 1
    sizes = ", ".join(str(size) for size in names.layers)
    hidden = [", ".join(layer) for layer in names.nodes[1:depth]]
    outputs = names.nodes[depth]
    parts = [f"the inputs {_join(names.nodes[0])}"]
    if hidden:
        word = "layer" if len(hidden) == 1 else "layers"
        parts.append(f"the hidden {word} " + _join([f"({layer})" for layer in hidden]))
    parts.append(f"the output {outputs[0]}" if len(outputs) == 1
                 else f"the outputs {_join(outputs)}")
    text = (f"A fully connected network has layers of sizes {sizes}: {_join(parts, serial=True)}. "
            "There are no biases. ")
    text += f"The weights W1 ... W{names.weight_count} are numbered row by row, layer after layer. "
    if len(set(activations)) == 1:
        return text + f"Every neuron uses {activations[0].title}."
    per_layer = [f"{_join(names.nodes[l])} {'use' if len(names.nodes[l]) > 1 else 'uses'} "
                 f"{act.title}" for l, act in enumerate(activations, start=1)]
    return text + "; ".join(per_layer) + "."


def _loss_text(loss: str, names: Names) -> str:
    pairs = [f"{tex(o)} - {tex(y)}" for o, y in zip(names.nodes[-1], names.targets, strict=True)]
    return parse_loss(loss).describe(pairs)


def _show(value: Any) -> str:
    return str(Fraction(str(value)))


def _numbers(spec: dict[str, Any], names: Names) -> list[str]:
    inputs = ", ".join(f"{x} = {_show(v)}" for x, v in zip(names.nodes[0], spec["input"],
                                                          strict=True))
    targets = ", ".join(f"{y} = {_show(v)}" for y, v in zip(names.targets, spec["target"],
                                                           strict=True))
    lines = [f"- Inputs: {inputs}", f"- Target{'s' if len(names.targets) > 1 else ''}: {targets}"]
    for l, matrix in enumerate(spec["weights"], start=1):
        into = names.nodes[l]
        values = ", ".join(f"{w} = {_show(v)}" for row_names, row in zip(
            names.weights[l - 1], matrix, strict=True) for w, v in zip(row_names, row, strict=True))
        lines.append(f"- Weights into {_join(into)}: {values}")
    return lines
