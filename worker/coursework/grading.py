"""Grading hand-computed gradients: right or wrong, and, when wrong, the likely slip.

An :class:`AnswerKey` holds everything known about one network's gradients: the
analysis (backprop checked by path sums) under the chosen subgradient and, at a
kink, under every subgradient; and, computed on first need, each parameter's
path contributions and its gradient with the activation derivatives, or the
loss derivative, left out. Grading an answer set is then a few comparisons per
answer, so one key grades thousands of sets a second.

A wrong answer is matched against the values a common slip produces
(:mod:`worker.coursework.slips`): a sign error; the dLoss/dOut factor missing; every
activation derivative sigma' missing; both missing; a sum over only some of the
paths. Matching uses the grading tolerance, or equality in exact arithmetic.

What is graded is what was asked: the names of ``ask``, else those of ``points``;
only a self-check with neither grades the names answered. An answer to a name
that was not asked earns nothing and is listed in ``ignored``, so a student
cannot add points by answering more than the question.

Comparison: ``|given - expected| <= atol + rtol * |expected|`` with
:data:`DEFAULT_RTOL` and :data:`DEFAULT_ATOL` unless given, or significant figures
or decimal digits as PrairieLearn defines them (:mod:`worker.coursework.tolerance`);
with arithmetic ``exact`` answers are parsed as fractions and must be equal. A
wrong answer may earn partial credit by its diagnosis (``partial``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..engine.batch import stack
from ..engine.errors import SpecError, UnknownWeightError, brief, kind
from ..engine.exact import as_float, is_finite_number, parse_fraction
from ..engine.names import Names
from ..engine.options import SUBGRADIENTS, parse_options
from ..engine.spec import Network, parse_spec
from .errors import GradingError
from .slips import (
    DERIVATIVE_SLIPS,
    Diagnoser,
    Number,
    Parameter,
    RuleAnalysis,
    describe_kinks,
    show,
)
from .tolerance import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance, parse_tolerance

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "AnswerKey",
    "GradingError",
    "MAX_POINTS",
    "PARTIAL_DIAGNOSES",
    "Tolerance",
    "check_answers",
    "check_asked",
    "grade",
    "parse_answer",
    "parse_ask",
    "parse_partial",
    "parse_points",
    "parse_tolerance",
]

# Points of one answer: generous, and the sum of thousands of them stays finite.
MAX_POINTS = 1e6
# The diagnoses that may earn partial credit: a slip named, or an answer nearly right.
PARTIAL_DIAGNOSES = (*DERIVATIVE_SLIPS, "missing_paths", "close", "inexact")
# Graded answers (and parameter names) remembered per key, for classes of students.
_MEMO_SIZE = 100_000

_RULES = {
    "min_norm": "min_norm (the smallest subgradient: |x|' = 0, relu' = 0 at 0)",
    "left": "left (the derivative from the left)",
    "right": "right (the derivative from the right; the seed's 'Delta >= 0' case)",
}


# --- input checks ------------------------------------------------------------------------


def parse_points(points: Mapping[str, Any] | None) -> dict[str, float]:
    """Validate the points of each answer (a name -> number >= 0 mapping).

    Raises
    ------
    GradingError
        Naming ``points`` or ``points.<name>``.
    """
    if points is None:
        return {}
    if not isinstance(points, Mapping):
        raise GradingError("points", f"expected an object mapping names to points, got "
                           f"{kind(points)}")
    parsed = {}
    for name, value in points.items():
        if not (is_finite_number(value) and 0 <= value <= MAX_POINTS):
            raise GradingError(f"points.{name}",
                               f"expected a number from 0 to {MAX_POINTS:g}, got {brief(value)}")
        parsed[str(name)] = float(value)
    return parsed


def parse_partial(partial: Mapping[str, Any] | None) -> dict[str, float]:
    """Validate partial credit: diagnosis -> the fraction (0..1) of the points it earns.

    Raises
    ------
    GradingError
        Naming ``partial`` or ``partial.<diagnosis>``.

    Examples
    --------
    >>> parse_partial({"sign_error": 0.5, "missing_paths": 0.25})
    {'sign_error': 0.5, 'missing_paths': 0.25}
    """
    if partial is None:
        return {}
    if not isinstance(partial, Mapping):
        raise GradingError("partial", "expected an object mapping diagnoses to credit, such as "
                           f"{{\"sign_error\": 0.5}}, got {kind(partial)}")
    parsed = {}
    for name, value in partial.items():
        if name not in PARTIAL_DIAGNOSES:
            raise GradingError(f"partial.{name}", f"expected one of {', '.join(PARTIAL_DIAGNOSES)}"
                               f", got {brief(name)}")
        if not (is_finite_number(value) and 0 <= value <= 1):
            raise GradingError(f"partial.{name}", f"expected a fraction of the points from 0 to "
                               f"1, got {brief(value)}")
        parsed[str(name)] = float(value)
    return parsed


def check_answers(answers: Any) -> dict[str, Any]:
    """Check that ``answers`` is an object mapping names to answers; the values are not read.

    Raises
    ------
    GradingError
        Naming ``answers``.
    """
    if not isinstance(answers, Mapping):
        raise GradingError("answers", f"expected an object mapping names such as \"W1\" to "
                           f"answers, got {kind(answers)}")
    for name in answers:
        if not isinstance(name, str):
            raise GradingError("answers", f"expected names as strings, got {name!r}")
    return dict(answers)


def parse_ask(ask: Any) -> list[str] | None:
    """Validate the form of the asked names: a non-empty list of strings.

    Parameters
    ----------
    ask : list of str or None
        ``["W1", "W7"]``; duplicates are dropped, the order is kept.

    Returns
    -------
    list of str or None
        None when ``ask`` is None.

    Raises
    ------
    GradingError
        Naming ``ask`` or ``ask[i]``.

    Examples
    --------
    >>> parse_ask(["W7", "W1", "W7"])
    ['W7', 'W1']
    """
    if ask is None:
        return None
    if isinstance(ask, str | bytes) or not isinstance(ask, Sequence):
        raise GradingError("ask", f"expected a list of names such as [\"W1\", \"W7\"], got "
                           f"{kind(ask)}")
    if not ask:
        raise GradingError("ask", "expected at least one name, such as [\"W1\"]")
    for i, name in enumerate(ask):
        if not isinstance(name, str):
            raise GradingError(f"ask[{i}]", f"expected a name such as \"W1\", got {kind(name)}")
    return list(dict.fromkeys(ask))


def check_asked(
    layers: Sequence[int], ask: Any = None, points: Mapping[str, Any] | None = None
) -> list[str] | None:
    """Return the graded names of a network: ``ask``, else the names of ``points``.

    Parameters
    ----------
    layers : sequence of int
        The network's sizes n0 ... nL.
    ask : list of str, optional
        The asked parameters; every one must be a weight or bias of the network.
    points : mapping, optional
        Name -> maximum points; with ``ask`` it may only name asked parameters.

    Returns
    -------
    list of str or None
        The asked names in order, without duplicates; None when neither ``ask``
        nor ``points`` is given.

    Raises
    ------
    GradingError
        Naming ``ask``, ``ask[i]``, ``points`` or ``points.<name>``.

    Examples
    --------
    >>> check_asked([2, 3, 2, 1], ask=["W7", "W1"], points={"W1": 2})
    ['W7', 'W1']
    """
    parsed = parse_points(points) if points is not None else None
    return _select(ask, parsed, _Parameters(tuple(layers)))


def _select(
    ask: Any, points: dict[str, float] | None, parameters: _Parameters
) -> list[str] | None:
    """The asked set of :func:`check_asked`, checked against ``parameters``."""
    asked = parse_ask(ask)
    if asked is not None:
        for i, name in enumerate(ask):
            if parameters.locate(name) is None:
                raise GradingError(f"ask[{i}]", parameters.no_such(name))
        chosen = set(asked)
        for name in points or {}:
            if name not in chosen:
                raise GradingError(f"points.{name}", parameters.no_such(name)
                                   if parameters.locate(name) is None else
                                   f"{brief(name)} is not asked; points may only name asked "
                                   f"parameters ({_listing(asked)})")
        return asked
    if points is None:
        return None
    if not points:
        raise GradingError("points", "expected at least one name to grade, such as "
                           "{\"W1\": 2} (or give ask)")
    for name in points:
        if parameters.locate(name) is None:
            raise GradingError(f"points.{name}", parameters.no_such(name))
    return list(points)


def parse_answer(value: Any, *, exact: bool) -> Number:
    """Read one answer: a number, or a string holding an integer, decimal or fraction.

    Parameters
    ----------
    value : int, float or str
        ``-2.5``, ``"3/4"``, ``" -1e-3 "``; a Unicode minus is read as ``-``.
    exact : bool
        Return a ``Fraction`` (a float by its shortest decimal repr) instead of a float.

    Returns
    -------
    float or Fraction

    Raises
    ------
    ValueError
        With a message a student can act on.

    Examples
    --------
    >>> parse_answer("3/4", exact=True), parse_answer("-2.5", exact=False)
    (Fraction(3, 4), -2.5)
    """
    if isinstance(value, np.integer | np.floating):
        value = value.item()  # a NumPy number is the Python number it holds
    if isinstance(value, bool) or not isinstance(value, int | float | str | Fraction):
        raise ValueError(f"expected a number, got {kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    if isinstance(value, int) and not exact and not is_finite_number(value):
        raise ValueError("the integer is beyond the range of float64 numbers")
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-").replace(" ", "")
        try:
            number = parse_fraction(text)
        except ValueError:
            raise ValueError(
                f"could not read {value[:40]!r} as a number: write an integer (3), a decimal "
                "(-2.5, 1e-3) or a fraction (3/4)") from None
        if exact:
            return number
        approximate = as_float(number)
        if approximate is None:
            raise ValueError(f"{value[:40]!r} is beyond the range of float64 numbers")
        return approximate
    if exact:
        return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    return float(value)


# --- the parameters ----------------------------------------------------------------------


class _Parameters:
    """A network's weights and biases by name (``W7``, ``b_H1``), each located once."""

    def __init__(self, layers: tuple[int, ...]) -> None:
        self.names = Names.of(layers)
        self._bias_index = {name: (l, i) for l, layer in enumerate(self.names.biases, start=1)
                            for i, name in enumerate(layer)}
        self._bias_offsets = [0, *np.cumsum(layers[1:]).tolist()]
        self._located: dict[str, Parameter | None] = {}

    def __repr__(self) -> str:
        return f"_Parameters({self.names.layers!r})"

    def locate(self, name: str) -> Parameter | None:
        """The parameter of that name, or None if the network has none."""
        if name not in self._located:
            if len(self._located) >= _MEMO_SIZE:
                self._located.clear()
            self._located[name] = self._find(name)
        return self._located[name]

    def _find(self, name: str) -> Parameter | None:
        if name in self._bias_index:
            l, i = self._bias_index[name]
            return Parameter(name, l, i, None, self._bias_offsets[l - 1] + i)
        if not name.startswith("W"):
            return None
        try:
            l, i, j = self.names.locate(name)
        except UnknownWeightError:
            return None
        return Parameter(name, l, i, j, int(name[1:]) - 1)

    def range(self) -> str:
        """The names a student may answer, as a range."""
        biases = self.names.biases
        return f"W1..W{self.names.weight_count} or {biases[0][0]}..{biases[-1][-1]}"

    def no_such(self, name: str) -> str:
        """An error message: ``name`` is not a parameter."""
        return f"no parameter {brief(name)} in this network; expected {self.range()}"

    def unknown(self, name: str) -> str:
        """Feedback on an answer to a name that is not a parameter, with a guess."""
        text = f"No parameter named {brief(name)} in this network: answer {self.range()}."
        guess = _suggest(name)
        if guess is not None and self.locate(guess) is not None:
            text += f" Did you mean {guess!r}?"
        return text


# --- the answer key ----------------------------------------------------------------------


class AnswerKey:
    """Everything needed to grade answers for one network, computed once.

    Parameters
    ----------
    spec : dict
        The network (docs/CONTRACT.md section 1).
    **options
        Analysis options (``subgradient``, ``arithmetic``, ...).

    Raises
    ------
    PathgradError
        For an invalid network or options, naming the field.

    Examples
    --------
    >>> key = AnswerKey({"layers": [1, 1], "weights": [[[2.0]]], "activation": "identity",
    ...                  "input": [3.0], "target": [1.0], "loss": "half_sse"})
    >>> key.grade({"W1": 15}, ask=["W1"])["score"]
    1.0
    >>> key.grade({"W1": "-15", "b_Out": 5}, ask=["W1"])["answers"][0]["diagnosis"]
    'sign_error'
    """

    def __init__(self, spec: Any, **options: Any) -> None:
        self.options = parse_options(options)
        self.network: Network = parse_spec(spec, exact=self.options.exact)
        if self.network.samples > 1:
            raise SpecError("input", "an answer key is of one sample (its slips are diagnosed "
                            f"path by path); this input is a mini-batch of "
                            f"{self.network.samples}")
        self.parameters = _Parameters(self.network.layers)
        self.names = self.parameters.names
        batch = stack([self.network])
        chosen = RuleAnalysis(batch, self.options)
        self.rules = [chosen]
        self.kinks = describe_kinks(chosen.passed, self.network, self.names)
        if self.kinks:
            self.rules += [RuleAnalysis(batch, replace(self.options, subgradient=rule))
                           for rule in SUBGRADIENTS if rule != self.options.subgradient]
        self.diagnoser = Diagnoser(self.network, self.rules, self.kinks)
        self._memo: dict[tuple[Any, ...], dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"AnswerKey({self.network!r}, subgradient={self.options.subgradient})"

    def grade(
        self,
        answers: Mapping[str, Any],
        *,
        ask: Sequence[str] | None = None,
        tolerance: Mapping[str, Any] | Tolerance | None = None,
        points: Mapping[str, Any] | None = None,
        partial: Mapping[str, Any] | None = None,
        timings: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """Grade one answer set against the asked parameters.

        Parameters
        ----------
        answers : mapping
            Parameter name (``W1``, ``b_H1``) -> answer (number or numeric string).
        ask : list of str, optional
            The graded parameters, in order; each must be a weight or bias of the
            network. Default: the names of ``points``; with neither, the names
            answered (a self-check: nothing then stops a student from choosing).
        tolerance : mapping, optional
            ``{"rtol", "atol"}``, ``{"sigfig": n}`` or ``{"decdig": n}``
            (:mod:`worker.coursework.tolerance`); ignored with arithmetic ``exact``
            (equality).
        points : mapping, optional
            Name -> maximum points (default 1); with ``ask`` it may only name asked
            parameters.
        partial : mapping, optional
            Diagnosis -> the fraction of an answer's points it earns, e.g.
            ``{"sign_error": 0.5}`` (default 0 for every diagnosis).
        timings : dict, optional
            Filled with the seconds spent grading each asked name (for JUnit's ``time``).

        Returns
        -------
        dict
            ``score``, ``max_score`` (over the asked names only), ``answers`` (one
            record per asked name, in order: ``name``, ``given``, ``expected``,
            ``correct``, ``points``, ``max_points``, ``credit`` (the fraction of
            the points earned), ``diagnosis``, ``feedback``, ...;
            an asked name with no answer is ``unanswered``), ``ignored`` (the answers
            not graded: ``name``, ``reason`` "not asked" or "no such parameter",
            ``feedback``), ``comparison``, ``tolerance``, ``subgradient``,
            ``arithmetic`` and the analysis ``warnings``.

        Raises
        ------
        GradingError
            When ``answers``, ``ask``, ``tolerance``, ``points`` or ``partial`` is
            malformed, or ``ask`` or ``points`` names no parameter of the network.
        """
        answers = check_answers(answers)
        tol = parse_tolerance(tolerance)
        weights = parse_points(points)
        credits = parse_partial(partial)
        asked = _select(ask, weights if points is not None else None, self.parameters)
        if asked is None:
            asked = [name for name in answers if self.parameters.locate(name) is not None]
        records = []
        for name in asked:
            started = time.perf_counter()
            record = (self._remembered(name, answers[name], tol, weights.get(name, 1.0))
                      if name in answers else self._unanswered(name, weights.get(name, 1.0)))
            records.append(_credited(record, credits))
            if timings is not None:
                timings[name] = time.perf_counter() - started
        chosen = set(asked)
        return {
            "score": math.fsum(r["points"] for r in records),
            "max_score": math.fsum(r["max_points"] for r in records),
            "answers": records,
            "ignored": [self._ignored(name) for name in answers if name not in chosen],
            "comparison": "exact" if self.options.exact else "tolerance",
            "tolerance": None if self.options.exact else tol.to_dict(),
            "partial": credits,
            "subgradient": self.options.subgradient,
            "arithmetic": self.options.arithmetic,
            "warnings": list(self.rules[0].result["warnings"]),
        }

    # --- one answer ----------------------------------------------------------------------

    def _remembered(
        self, name: str, raw: Any, tol: Tolerance, max_points: float
    ) -> dict[str, Any]:
        """:meth:`_grade_one`, remembered: the students of a class repeat the same answers."""
        if not isinstance(raw, str | int | float | None):
            return self._grade_one(name, raw, tol, max_points)
        key = (name, type(raw), repr(raw), tol, max_points)
        record = self._memo.get(key)
        if record is None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            record = self._memo[key] = self._grade_one(name, raw, tol, max_points)
        return dict(record)

    def _grade_one(self, name: str, raw: Any, tol: Tolerance, max_points: float) -> dict[str, Any]:
        record: dict[str, Any] = {"name": name, "given": _echo(raw), "given_value": None,
                                  "expected": None, "correct": False, "points": 0.0,
                                  "max_points": max_points, "credit": 0.0}
        param = self._parameter(name)
        values = self._expected(param, record)
        try:
            given = parse_answer(raw, exact=self.options.exact)
        except ValueError as error:
            return record | {"diagnosis": "unparsable", "feedback": f"Unreadable answer: {error}."}
        record["given_value"] = as_float(given)
        matched = [rule for rule, v in zip(self.rules, values, strict=True)
                   if self._equal(given, v, tol)]
        if not matched:
            return record | self.diagnoser.diagnose(param, given, tol, values)
        record.update(correct=True, points=max_points, credit=1.0)
        if all(v == values[0] for v in values):
            return record | {"diagnosis": "correct", "feedback": "Correct."}
        used = " / ".join(_RULES[r.subgradient] for r in matched)
        others = "; ".join(f"{r.subgradient} gives {show(v)}"
                           for r, v in zip(self.rules, values, strict=True) if r not in matched)
        text = (f"Correct. {param.label} is not unique here ({self.kinks}): any subgradient is "
                f"accepted, and your answer uses {used}." + (f" ({others}.)" if others else ""))
        return record | {"diagnosis": "correct", "feedback": text,
                         "subgradient": matched[0].subgradient}

    def _expected(self, param: Parameter, record: dict[str, Any]) -> list[Number]:
        """The gradient under each subgradient rule; recorded (all of them at a kink)."""
        values = [rule.gradient(param) for rule in self.rules]
        record["expected"] = as_float(values[0])
        if self.options.exact:
            record["expected_exact"] = str(values[0])
        if any(v != values[0] for v in values):
            record["accepted"] = [{"subgradient": rule.subgradient, "expected": as_float(v)}
                                  for rule, v in zip(self.rules, values, strict=True)]
        return values

    def _unanswered(self, name: str, max_points: float) -> dict[str, Any]:
        record: dict[str, Any] = {"name": name, "given": None, "given_value": None,
                                  "expected": None, "correct": False, "points": 0.0,
                                  "max_points": max_points, "credit": 0.0}
        self._expected(self._parameter(name), record)
        return record | {"diagnosis": "unanswered", "feedback": "No answer given."}

    # --- names ---------------------------------------------------------------------------

    def _parameter(self, name: str) -> Parameter:
        """An asked parameter (the asked set holds only names the network has)."""
        param = self.parameters.locate(name)
        if param is None:  # _select and the self-check's filter keep these out
            raise GradingError("ask", self.parameters.no_such(name))
        return param

    def _ignored(self, name: str) -> dict[str, str]:
        """Why an answer is not graded: its name was not asked, or names nothing."""
        if self.parameters.locate(name) is None:
            return {"name": name, "reason": "no such parameter",
                    "feedback": self.parameters.unknown(name)}
        return {"name": name, "reason": "not asked",
                "feedback": f"{name} was not asked: this answer is not graded."}

    def _equal(self, given: Number, expected: Number, tol: Tolerance) -> bool:
        return tol.equal(given, expected, exact=self.options.exact)


def grade(
    spec: Any,
    answers: Mapping[str, Any],
    *,
    ask: Sequence[str] | None = None,
    tolerance: Mapping[str, Any] | None = None,
    points: Mapping[str, Any] | None = None,
    partial: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Grade hand-computed gradients of one network, with feedback a student can act on.

    Parameters
    ----------
    spec : dict
        The network (docs/CONTRACT.md section 1).
    answers : mapping
        ``{"W1": -2.5, "W7": "3/4", "b_H1": 1}``: numbers or strings holding an
        integer, a decimal or a fraction.
    ask : list of str, optional
        The graded parameters (default: the names of ``points``; with neither, the
        names answered, for a self-check). Answers to other names earn nothing and
        are listed in ``ignored``.
    tolerance : mapping, optional
        ``{"rtol": 1e-6, "atol": 1e-9}`` (the defaults), ``{"sigfig": n}`` or
        ``{"decdig": n}``, as PrairieLearn's number input defines them; unused with
        arithmetic ``exact``, where answers must equal the exact gradient.
    points : mapping, optional
        Maximum points per asked name (default 1 each).
    partial : mapping, optional
        Credit per diagnosis, e.g. ``{"sign_error": 0.5, "missing_paths": 0.25}``.
    **options
        Analysis options (``subgradient``, ``arithmetic``, ...).

    Returns
    -------
    dict
        See :meth:`AnswerKey.grade`.

    Raises
    ------
    GradingError, PathgradError
        Malformed answers, ask, tolerance, points or partial; an invalid network or options.

    Examples
    --------
    >>> net = {"layers": [1, 1], "weights": [[["1/2"]]], "activation": "identity",
    ...        "input": ["1/3"], "target": [0], "loss": "half_sse"}
    >>> grade(net, {"W1": "1/18"}, ask=["W1"], arithmetic="exact")["answers"][0]["correct"]
    True
    """
    check_answers(answers)
    parse_ask(ask)
    parse_tolerance(tolerance)
    parse_points(points)
    parse_partial(partial)
    return AnswerKey(spec, **options).grade(answers, ask=ask, tolerance=tolerance,
                                            points=points, partial=partial)


# --- helpers -----------------------------------------------------------------------------


def _credited(record: dict[str, Any], credits: Mapping[str, float]) -> dict[str, Any]:
    """The record with the partial credit its diagnosis earns (a correct answer has it all)."""
    credit = credits.get(record["diagnosis"], 0.0) if not record["correct"] else 1.0
    if record["correct"] or not credit:
        return record
    return record | {"credit": credit, "points": credit * record["max_points"],
                     "feedback": f"{record['feedback']} (Partial credit: {credit:.0%} of the "
                                 "points.)"}


def _echo(value: Any) -> Any:
    """The answer as given, if JSON can carry it; else its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _suggest(name: str) -> str | None:
    stripped = name.strip()
    for prefix in ("dLoss/d", "dL/d", "d"):
        if stripped.startswith(prefix) and len(stripped) > len(prefix):
            stripped = stripped[len(prefix):]
            break
    if stripped[:1] in ("w", "W") and stripped[1:].isdigit():
        return "W" + stripped[1:]
    if stripped.lower().startswith("b_"):
        node = stripped[2:]
        return "b_" + (node[:1].upper() + node[1:] if not node.lower().startswith("out")
                       else "Out" + node[3:])
    return None if stripped == name else stripped


def _listing(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
