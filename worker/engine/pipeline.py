"""The analysis of docs/CONTRACT.md section 2, from parsed batches to result dicts.

Limits are checked for every batch first (nothing is computed for a request that
will be refused); each batch is then analysed (:mod:`.analysis`), its methods
compared (:mod:`.agreement`) and its results built (:mod:`.results`). A network
whose backprop and path sum disagree raises :class:`AgreementError` with its
result attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .agreement import check, compare
from .analysis import BatchAnalysis, analyze_batch, check_limits
from .batch import Batch, prefixed
from .errors import PathgradError
from .options import Options
from .results import build_results

__all__ = ["analyze_batches", "analyze_checked"]


def analyze_batches(
    batches: Sequence[tuple[list[int], Batch]], count: int, options: Options
) -> list[dict[str, Any]]:
    """Analyse batches of networks (from :func:`parse_batches`), returning results in order.

    Parameters
    ----------
    batches : sequence of (indices, Batch)
    count : int
        Number of networks in all.
    options : Options

    Returns
    -------
    list of dict
        One docs/CONTRACT.md section 2 result per network, in input order.

    Raises
    ------
    PathLimitError, OptionError
        Prefixed with ``specs[i].`` when there are several networks.
    AgreementError
        When backprop and the path sum disagree beyond tolerance (a pathgrad bug);
        the result is attached.
    """
    for members, batch in batches:
        try:
            check_limits(batch.layers, options, batch.samples)
        except PathgradError as error:
            raise prefixed(error, members[0], count) from None
    results: list[dict[str, Any]] = [{} for _ in range(count)]
    for members, batch in batches:
        fields = ["network" if count == 1 else f"specs[{i}]" for i in members]
        _, built = _analyze(batch, options, fields)
        for index, result in zip(members, built, strict=True):
            results[index] = result
    return results


def analyze_checked(batch: Batch, options: Options) -> tuple[BatchAnalysis, list[dict[str, Any]]]:
    """Analyse one batch within the limits: its arrays and its results, methods agreeing.

    For code that needs the numbers as well as the result (grading, exercises),
    without reading them back out of the result.

    Raises
    ------
    PathLimitError, OptionError
        Over a limit (:func:`check_limits`).
    AgreementError
        When backprop and the path sum disagree.
    """
    check_limits(batch.layers, options, batch.samples)
    return _analyze(batch, options, ["network"] * batch.size)


def _analyze(
    batch: Batch, options: Options, fields: list[str]
) -> tuple[BatchAnalysis, list[dict[str, Any]]]:
    analysis = analyze_batch(batch, options)
    agreement = compare(analysis, options)
    results = build_results(analysis, agreement, options)
    check(agreement, results, fields)
    return analysis, results
