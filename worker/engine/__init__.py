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
from .errors import (
    AgreementError,
    ExactArithmeticError,
    InvalidInputError,
    OptionError,
    PathgradError,
    PathLimitError,
    SpecError,
    UnknownWeightError,
)
from .formula import formula
from .names import Names
from .options import Options, parse_options
from .pipeline import analyze_batches
from .shapes import AnalysisResult, Formula, PathPage
from .spec import Network, parse_spec

__all__ = [
    "ENGINE_VERSION",
    "ORDERS",
    "AgreementError",
    "AnalysisResult",
    "Formula",
    "PathPage",
    "ExactArithmeticError",
    "InvalidInputError",
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
    "parse_options",
    "parse_spec",
    "path_contributions",
]

# Part of every cache key: bump it whenever a result for the same input may change.
ENGINE_VERSION = "1"


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
    """Return one page of a weight's path contributions (docs/CONTRACT.md section 3).

    ``limit=None`` returns every path, in pages of at most 100,000; pass the
    page's ``next_cursor`` as ``cursor`` for the next one.
    """
    parsed = parse_options(options)
    net = parse_spec(spec, exact=parsed.exact)
    return cast(PathPage, contributions(net, parsed, weight, order=order, limit=limit,
                                        cursor=cursor))

