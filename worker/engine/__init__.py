"""pathgrad's gradient engine: explicit path sums and backprop that check each other.

Pure NumPy (and SymPy for formulas): no Flask, Celery or Redis. Its public API is
docs/CONTRACT.md section 4, which :mod:`pathgrad` re-exports:

>>> from worker.engine import analyze
>>> result = analyze({"layers": [1, 1], "weights": [[[2.0]]], "activation": "identity",
...                   "input": [3.0], "target": [1.0], "loss": "l1"})
>>> result["weights"][0]["gradient"], result["weights"][0]["path_sum"]
(3.0, 3.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from .batch import parse_batches
from .contributions import ORDERS, contributions
from .contributions import node_flow as flow
from .contributions import top_paths as network_paths
from .errors import (
    AgreementError,
    ExactArithmeticError,
    InvalidInputError,
    ModelError,
    OptionError,
    PathgradError,
    PathLimitError,
    SpecError,
    UnknownWeightError,
)
from .formula import formula
from .names import Names
from .onnx_model import from_onnx
from .options import Options, parse_options
from .pipeline import analyze_batches
from .shapes import AnalysisResult, Formula, NetworkPathPage, NodeFlow, PathPage
from .spec import Network, parse_spec
from .torch_model import from_torch

__all__ = [
    "ENGINE_VERSION",
    "ORDERS",
    "AgreementError",
    "AnalysisResult",
    "Formula",
    "NetworkPathPage",
    "NodeFlow",
    "PathPage",
    "ExactArithmeticError",
    "InvalidInputError",
    "ModelError",
    "Names",
    "Network",
    "OptionError",
    "Options",
    "PathLimitError",
    "PathgradError",
    "SpecError",
    "UnknownWeightError",
    "analyze",
    "analyze_many",
    "formula",
    "from_onnx",
    "from_torch",
    "node_flow",
    "parse_options",
    "parse_spec",
    "path_contributions",
    "top_paths",
]

# Part of every cache key: bump it whenever a result for the same input may change.
ENGINE_VERSION = "2"


def analyze(spec: dict[str, Any], **options: Any) -> AnalysisResult:
    """Analyse one network: gradients by backprop and by path sums, and their agreement.

    Parameters
    ----------
    spec : dict
        The network (docs/CONTRACT.md section 1).
    **options
        ``subgradient``, ``arithmetic``, ``finite_difference``, ``path_sum``,
        ``max_paths``, ``rtol``, ``atol``.

    Returns
    -------
    dict
        docs/CONTRACT.md section 2.

    Raises
    ------
    InvalidInputError
        For any invalid input (a ``ValueError``), naming the field.
    AgreementError
        If the two methods disagree (a pathgrad bug), with the result attached.
    """
    parsed = parse_options(options)
    return cast(AnalysisResult,
                analyze_batches(parse_batches([spec], exact=parsed.exact), 1, parsed)[0])


def analyze_many(specs: Sequence[dict[str, Any]], **options: Any) -> list[AnalysisResult]:
    """Analyse many networks at once, vectorised across networks of the same shape.

    Each result is identical to :func:`analyze`'s for the same spec; errors name
    the spec as ``specs[i].<field>``.
    """
    parsed = parse_options(options)
    if isinstance(specs, dict | str) or not isinstance(specs, Sequence):
        raise SpecError("specs", "expected a list of network specs")
    results = analyze_batches(parse_batches(specs, exact=parsed.exact), len(specs), parsed)
    return cast(list[AnalysisResult], results)


def path_contributions(
    spec: dict[str, Any],
    weight: str,
    *,
    order: str = "abs_desc",
    limit: int | None = None,
    cursor: str | None = None,
    **options: Any,
) -> PathPage:
    """Return one page of a weight's (or a bias's) paths (docs/CONTRACT.md sections 3, 8).

    Exact for a network of any size: the best pages are found without listing the
    paths, an ``index`` page from its position. ``limit=None`` gives pages of
    100,000; pass the page's ``next_cursor`` as ``cursor`` for the next one. The page
    says how much the paths not yet listed can still add: ``|gradient -
    listed_sum| <= abs_sum - listed_abs_sum``.
    """
    parsed = parse_options(options)
    net = parse_spec(spec, exact=parsed.exact)
    return cast(PathPage, contributions(net, weight, order=order, limit=limit, cursor=cursor,
                                        subgradient=parsed.subgradient))


def top_paths(
    spec: dict[str, Any],
    *,
    through: str | None = None,
    output: str | None = None,
    order: str = "abs_desc",
    limit: int | None = 10,
    cursor: str | None = None,
    **options: Any,
) -> NetworkPathPage:
    """Return one page of the network's input-to-output paths (docs/CONTRACT.md section 8).

    ``through`` keeps the paths through a neuron (``"H4"``) or a weight (``"W7"``),
    ``output`` those ending at one output. Every path's contribution is X_i * (sigma'
    of every neuron on it) * (its weights) * dLoss/dOut_k: they add up to
    sum_i X_i * dLoss/dX_i.
    """
    parsed = parse_options(options)
    net = parse_spec(spec, exact=parsed.exact)
    return cast(NetworkPathPage, network_paths(net, through=through, output=output,
                                               order=order, limit=limit, cursor=cursor,
                                               subgradient=parsed.subgradient))


def node_flow(spec: dict[str, Any], node: str, **options: Any) -> NodeFlow:
    """Return a neuron's value, delta and the flow of the paths through it (section 8)."""
    parsed = parse_options(options)
    net = parse_spec(spec, exact=parsed.exact)
    return cast(NodeFlow, flow(net, node, subgradient=parsed.subgradient))
