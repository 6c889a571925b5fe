"""An exercise's distractors: the value each slip the grader diagnoses would give.

For an asked weight the slips are the sign error, the dLoss/dOut factor left out,
every sigma' taken as 1, both of these, and each sum that misses one or two of the
weight's paths. Their values are the very ones the grader's
:class:`~worker.coursework.slips.Diagnoser` matches a wrong answer against
(:meth:`~worker.coursework.slips.RuleAnalysis.derivative_slips` and the path
contributions of :meth:`~worker.coursework.slips.RuleAnalysis.contributions`), so an
answer key and the grader cannot disagree.

Left out of the list, as no reason to redraw: a slip that equals the answer by its
nature (sigma' = 1 under identity, dLoss/dOut = 1, missing paths that sum to 0);
the combined slip when it equals one of its parts (it is that part); and a slip
that gives 0, which says nothing of the slip (the grader takes a partial sum of 0
as a dead path, and near 0 a relative tolerance cannot tell rounding from a value).

A network is a :class:`Collision` when the remaining values of different
diagnoses, or a value and the answer, are not :meth:`Tolerance.disjoint
<worker.coursework.tolerance.Tolerance.disjoint>` (some answer would be accepted as
both): the diagnosis would be a guess, so the exercise is redrawn.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.exact import as_float
from ..engine.paths import paths_per_node
from .slips import Diagnoser, Number, Parameter, RuleAnalysis
from .tolerance import Tolerance

__all__ = ["MAX_MISSING", "Collision", "Slip", "collision", "distractors", "slips"]

# Missing-path slips listed: every subset of up to this many paths left out.
MAX_MISSING = 2


@dataclass(frozen=True)
class Slip:
    """One slip of one weight and the value it gives.

    Attributes
    ----------
    diagnosis : str
        The grader's diagnosis of that value, e.g. ``sign_error``.
    value : float or Fraction
        What a student who made the slip would answer.
    missing : tuple of int
        For ``missing_paths``: the paths left out (lexicographic path indices).
    """

    diagnosis: str
    value: Number
    missing: tuple[int, ...] = ()


@dataclass(frozen=True)
class Collision:
    """Two slips (or a slip and the answer) of one weight that an answer cannot tell apart."""

    weight: str
    first: str
    second: str

    def describe(self) -> str:
        """``sign_error and missing_loss_derivative of W1``."""
        return f"{self.first} and {self.second} of {self.weight}"


def slips(rule: RuleAnalysis, param: Parameter) -> list[Slip]:
    """Every slip of ``param`` whose value is not the answer's, in the grader's order.

    Parameters
    ----------
    rule : RuleAnalysis
        The network's analysis (exact arithmetic for an exercise).
    param : Parameter
        The asked weight.

    Returns
    -------
    list of Slip
        The derivative slips, then the missing-path slips (one path left out, then
        two), each value once per diagnosis.
    """
    answer = rule.gradient(param)
    derivative = dict(rule.derivative_slips(param))
    parts = (derivative["missing_loss_derivative"], derivative["missing_activation_derivative"])
    found = [Slip(code, value) for code, value in derivative.items()
             if value != answer and value != 0 and not (
                 code == "missing_activation_and_loss_derivatives" and value in parts)]
    count = paths_per_node(rule.batch.layers, param.l)
    if count >= 2:
        contributions = rule.contributions(param).tolist()
        for size in range(1, min(MAX_MISSING, count - 1) + 1):
            for missing in itertools.combinations(range(count), size):
                lost = sum((contributions[k] for k in missing), 0 * answer)
                if lost != 0 and answer != lost:  # answer == lost: the paths used sum to 0
                    found.append(Slip("missing_paths", answer - lost, missing))
    seen: set[tuple[str, Number]] = set()
    unique = []
    for slip in found:
        if (slip.diagnosis, slip.value) not in seen:
            seen.add((slip.diagnosis, slip.value))
            unique.append(slip)
    return unique


def collision(
    weight: str, answer: Number, found: list[Slip], tolerance: Tolerance
) -> Collision | None:
    """The first pair of different diagnoses (or a slip and the answer) not told apart.

    Missing-path slips share a diagnosis, so only the answer and the few derivative
    slips are compared with every value: a vectorised test per value, not one per pair.
    """
    codes = ["correct", *(slip.diagnosis for slip in found)]
    values = np.array([float(answer), *(float(slip.value) for slip in found)])
    widths = tolerance.half_widths(values)
    for k, code in enumerate(codes):
        if code == "missing_paths":
            break  # every later value is a missing-path slip too
        others = np.arange(k + 1, len(codes))
        clash = np.abs(values[others] - values[k]) <= widths[others] + widths[k]
        for other in others[clash].tolist():
            if codes[other] != code:
                return Collision(weight, code, codes[other])
    return None


def distractors(
    diagnoser: Diagnoser, param: Parameter, found: list[Slip], tolerance: Tolerance,
    partial: dict[str, float],
) -> list[dict[str, Any]]:
    """The key's distractors: each slip's value with the grader's diagnosis and feedback.

    The diagnosis and feedback are the grader's own for that value (the
    :class:`Diagnoser` asked), so a student who gives a distractor reads exactly
    what the key says; ``credit`` is the partial credit of that diagnosis.
    """
    answer = diagnoser.rules[0].gradient(param)
    records = []
    for slip in found:
        verdict = diagnoser.diagnose(param, slip.value, tolerance, [answer])
        record: dict[str, Any] = {
            "diagnosis": verdict["diagnosis"], "value": str(slip.value),
            "float": as_float(slip.value), "feedback": verdict["feedback"],
            "credit": partial.get(verdict["diagnosis"], 0.0),
        }
        if verdict["diagnosis"] == "missing_paths":
            record["missing"] = ["\u2192".join(path["nodes"])
                                 for path in verdict["details"]["missing"]]
        records.append(record)
    return records
