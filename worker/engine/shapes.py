"""The shapes of the engine's results (docs/CONTRACT.md sections 2 and 3), as TypedDicts.

The same dicts :func:`~worker.engine.analyze` and the service return; a type checker
reading ``pathgrad``'s ``py.typed`` knows every field. In exact arithmetic every
number also has an ``*_exact`` string beside it; a number beyond float64 is None
there, its string exact.
"""

# No ``from __future__ import annotations`` here: TypedDict reads NotRequired[...] from
# the evaluated annotations (in Python 3.11 a string annotation counts as required).
from typing import NotRequired, TypedDict

__all__ = [
    "AgreementRecord",
    "AnalysisResult",
    "BiasRecord",
    "FiniteDifferenceAgreement",
    "Formula",
    "NetworkPathPage",
    "NodeFlow",
    "NodeRecord",
    "PathPage",
    "PathRecord",
    "WeightRecord",
]


class NodeRecord(TypedDict):
    """A neuron: its pre-activation, value and activation derivative."""

    name: str
    layer: int
    pre: float | None
    value: float | None
    derivative: float | None
    pre_exact: NotRequired[str | None]
    value_exact: NotRequired[str | None]
    derivative_exact: NotRequired[str | None]


WeightRecord = TypedDict("WeightRecord", {
    "name": str,
    "layer": int,
    "from": str,
    "to": str,
    "value": float | None,
    "gradient": float | None,
    "backprop": float | None,
    "path_sum": float | None,
    "finite_difference": float | None,
    "paths": int,
    "value_exact": NotRequired[str | None],
    "gradient_exact": NotRequired[str | None],
    "backprop_exact": NotRequired[str | None],
    "path_sum_exact": NotRequired[str | None],
    "finite_difference_exact": NotRequired[str | None],
})
WeightRecord.__doc__ = "A weight: its value, dLoss/dW by both methods, and its path count."


class BiasRecord(TypedDict):
    """A bias: dLoss/db by both methods, and the paths from its neuron."""

    name: str
    node: str
    gradient: float | None
    backprop: float | None
    path_sum: float | None
    paths: int
    finite_difference: NotRequired[float | None]
    gradient_exact: NotRequired[str | None]
    backprop_exact: NotRequired[str | None]
    path_sum_exact: NotRequired[str | None]
    finite_difference_exact: NotRequired[str | None]


class FiniteDifferenceAgreement(TypedDict):
    """Backprop against central finite differences."""

    ok: bool
    max_abs_diff: float | None
    max_rel_diff: float
    rtol: float
    atol: float
    skipped: list[str]


class AgreementRecord(TypedDict):
    """Backprop against the explicit path sum (None diffs when not enumerated)."""

    ok: bool
    max_abs_diff: float | None
    max_rel_diff: float | None
    rtol: float
    atol: float
    max_abs_diff_exact: NotRequired[str]
    finite_difference: NotRequired[FiniteDifferenceAgreement]


class AnalysisResult(TypedDict):
    """The analysis of one network (docs/CONTRACT.md section 2)."""

    loss: float | None
    outputs: dict[str, float | None]
    nodes: list[NodeRecord]
    weights: list[WeightRecord]
    biases: list[BiasRecord]
    agreement: AgreementRecord
    paths_enumerated: int
    warnings: list[str]
    loss_exact: NotRequired[str]
    outputs_exact: NotRequired[dict[str, str | None]]


class PathRecord(TypedDict):
    """One path of a page: its neurons, its weights and its contribution."""

    rank: int
    nodes: list[str]
    weights: list[str]
    contribution: float | None
    contribution_exact: NotRequired[str]


class PathPage(TypedDict):
    """One page of a weight's or a bias's paths (docs/CONTRACT.md sections 3 and 8)."""

    weight: str
    gradient: float | None
    total_paths: int
    order: str
    abs_sum: float | None
    listed_sum: float | None
    listed_abs_sum: float | None
    paths: list[PathRecord]
    next_cursor: str | None
    gradient_exact: NotRequired[str]
    abs_sum_exact: NotRequired[str]
    listed_sum_exact: NotRequired[str]
    listed_abs_sum_exact: NotRequired[str]


class NetworkPathPage(TypedDict):
    """One page of the network's input-to-output paths (docs/CONTRACT.md section 8)."""

    through: str | None
    output: str | None
    total_paths: int
    order: str
    abs_sum: float | None
    listed_sum: float | None
    listed_abs_sum: float | None
    paths: list[PathRecord]
    next_cursor: str | None
    abs_sum_exact: NotRequired[str]
    listed_sum_exact: NotRequired[str]
    listed_abs_sum_exact: NotRequired[str]


class NodeFlow(TypedDict):
    """A neuron: its value, its delta, the flow of the network's paths through it."""

    node: str
    value: float | None
    delta: float | None
    flow: float | None
    abs_flow: float | None
    paths_through: int
    value_exact: NotRequired[str]
    delta_exact: NotRequired[str]
    flow_exact: NotRequired[str]
    abs_flow_exact: NotRequired[str]


class Formula(TypedDict):
    """The symbolic gradient of one weight; ``text`` parses with ``sympy.sympify``."""

    weight: str
    text: str
    latex: str
    mathml: str
    paths: int
