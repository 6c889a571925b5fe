"""Exercises for learning platforms: a Moodle XML quiz and PrairieLearn question folders.

- Moodle XML (https://docs.moodle.org/en/Moodle_XML_format): one ``numerical``
  question per variant and asked weight. Its first answer is the gradient (100 %)
  with the grading tolerance as Moodle's absolute ``tolerance`` (the half-width of
  :meth:`Tolerance.half_width <worker.coursework.tolerance.Tolerance.half_width>`
  around the value); then every distractor as an answer of its partial credit (0 %
  by default) with the grader's feedback. Moodle takes the first answer within its
  tolerance, and the distractors' intervals are disjoint (the exercise was drawn
  so), so a slip gets its own feedback. A partial credit must be one of Moodle's
  grade fractions (:data:`MOODLE_FRACTIONS`), or the import refuses it.
- PrairieLearn (https://prairielearn.readthedocs.io/): one question folder per
  variant: ``info.json`` (PrairieLearn's question schema), ``question.html`` with a
  ``pl-number-input`` per asked weight (``comparison`` ``relabs``, ``sigfig`` or
  ``decdig``, with the tolerance's ``rtol``/``atol`` or ``digits``, and the points
  as ``weight``), and ``server.py``, whose ``generate`` sets the correct answers and
  whose ``grade`` gives a wrong answer that matches a distractor its diagnosis as
  feedback and its partial credit.
"""

from __future__ import annotations

import html
import json
import pprint
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import GradingError
from .question import question, question_html
from .tolerance import Tolerance, parse_tolerance

__all__ = ["MOODLE_FRACTIONS", "moodle_xml", "prairielearn", "variant_folder"]

# Moodle's grade fractions (question_bank::fraction_options_full, 0 to 1): an imported
# answer with any other fraction is refused ("invalid grade").
MOODLE_FRACTIONS = (0.0, 1.0, 0.9, 0.8333333, 0.8, 0.75, 0.7, 0.6666667, 0.6, 0.5, 0.4,
                    0.3333333, 0.3, 0.25, 0.2, 0.1666667, 0.1428571, 0.125, 0.1111111, 0.1,
                    0.05)
_MOODLE_MATCH = 1e-5  # how close Moodle's import wants a fraction to one of its own
_NAMESPACE = uuid.UUID("5b0c4a9e-2f61-4d8e-9a53-7b1f3c2e6d40")  # pathgrad's PrairieLearn UUIDs


def variant_folder(index: int, count: int) -> str:
    """The folder of variant ``index`` of ``count``: ``variant-07``, zero-padded to sort."""
    return f"variant-{index + 1:0{len(str(count))}d}"


# --- Moodle ------------------------------------------------------------------------------


def moodle_xml(drawn: Sequence[Mapping[str, Any]]) -> str:
    """Return a Moodle XML quiz: a numerical question per variant and asked weight.

    Raises
    ------
    GradingError
        Naming ``partial.<diagnosis>`` when a partial credit is not a Moodle grade.
    """
    quiz = ET.Element("quiz")
    for exercise in drawn:
        for weight, key in exercise["answers"].items():
            quiz.append(_moodle_question(exercise, weight, key))
    ET.indent(quiz)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode") + "\n"


def _moodle_question(
    exercise: Mapping[str, Any], weight: str, key: Mapping[str, Any]
) -> ET.Element:
    tolerance = parse_tolerance(key["tolerance"])
    seed = exercise["seed"]
    element = ET.Element("question", {"type": "numerical"})
    _text(ET.SubElement(element, "name"), f"pathgrad seed {seed}: dLoss/d{weight}")
    body = question_html(question(exercise["network"], [weight], seed), math="paren")
    body += f"\n<p>Answer with a decimal number: {_rule(tolerance)}.</p>"
    _text(ET.SubElement(element, "questiontext", {"format": "html"}), body)
    general = (f"<p>dLoss/d{weight} = {key['value']}, the sum over its paths: "
               f"{key['formula']}.</p>")
    _text(ET.SubElement(element, "generalfeedback", {"format": "html"}), general)
    ET.SubElement(element, "defaultgrade").text = _decimal(key["points"])
    ET.SubElement(element, "penalty").text = "0.3333333"
    ET.SubElement(element, "hidden").text = "0"
    ET.SubElement(element, "idnumber").text = f"pathgrad-{seed}-{weight}"
    element.append(_moodle_answer(key["float"], 1.0, "Correct.", tolerance))
    for distractor in key["distractors"]:
        credit = _moodle_fraction(distractor["credit"], distractor["diagnosis"])
        element.append(_moodle_answer(distractor["float"], credit, distractor["feedback"],
                                      tolerance))
    ET.SubElement(element, "showunits").text = "3"  # qtype_numerical::UNITNONE
    ET.SubElement(element, "unitsleft").text = "0"
    return element


def _moodle_answer(value: float, credit: float, feedback: str, tolerance: Tolerance) -> ET.Element:
    answer = ET.Element("answer", {"fraction": _decimal(round(100 * credit, 5)),
                                   "format": "moodle_auto_format"})
    ET.SubElement(answer, "text").text = _decimal(value)
    ET.SubElement(answer, "tolerance").text = repr(tolerance.half_width(value))
    _text(ET.SubElement(answer, "feedback", {"format": "html"}), f"<p>{_escape(feedback)}</p>")
    return answer


def _moodle_fraction(credit: float, diagnosis: str) -> float:
    for fraction in MOODLE_FRACTIONS:
        if abs(credit - fraction) < _MOODLE_MATCH:
            return fraction
    allowed = ", ".join(f"{f:g}" for f in sorted(MOODLE_FRACTIONS))
    raise GradingError(f"partial.{diagnosis}", f"Moodle grades only take the fractions "
                       f"{allowed}; got {credit:g}")


def _text(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "text").text = text


# --- PrairieLearn ------------------------------------------------------------------------


def prairielearn(drawn: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Return one PrairieLearn question folder per variant: folder -> file name -> text.

    Raises
    ------
    GradingError
        Naming ``points.<weight>`` when the points are not an integer (PrairieLearn's
        ``weight`` is one).
    """
    return {variant_folder(index, len(drawn)): _pl_question(exercise)
            for index, exercise in enumerate(drawn)}


def _pl_question(exercise: Mapping[str, Any]) -> dict[str, str]:
    answers = exercise["answers"]
    seed = exercise["seed"]
    asked = list(answers)
    identity = json.dumps([exercise["network"], {w: answers[w]["tolerance"] for w in asked},
                           seed], sort_keys=True)
    info = {
        "uuid": str(uuid.uuid5(_NAMESPACE, identity)),
        "type": "v3",
        "title": f"Backprop by paths: dLoss/d{', dLoss/d'.join(asked)} (seed {seed})",
        "topic": "Backpropagation",
        "tags": ["pathgrad", "backprop", f"seed-{seed}"],
        "singleVariant": True,
        "partialCredit": True,
    }
    return {"info.json": json.dumps(info, indent=2) + "\n",
            "question.html": _pl_html(exercise), "server.py": _pl_server(exercise)}


def _pl_html(exercise: Mapping[str, Any]) -> str:
    markdown = question(exercise["network"], list(exercise["answers"]), exercise["seed"])
    body = "\n\n".join(block for block in markdown.split("\n\n")
                       if not block.startswith("What is dLoss/d"))
    parts = ["<pl-question-panel>", _mustache_safe(question_html(body)), "</pl-question-panel>"]
    for weight, key in exercise["answers"].items():
        attributes = {"answers-name": weight, "label": f"dLoss/d{weight} =",
                      **_pl_comparison(parse_tolerance(key["tolerance"])),
                      "weight": _pl_weight(weight, key["points"])}
        shown = " ".join(f'{name}="{_escape(value, quote=True)}"'
                         for name, value in attributes.items())
        parts += ["", f"<p>What is dLoss/d{weight}?</p>",
                  f"<pl-number-input {shown}></pl-number-input>"]
    return "\n".join(parts) + "\n"


def _pl_comparison(tolerance: Tolerance) -> dict[str, str]:
    if tolerance.mode == "relabs":
        return {"comparison": "relabs", "rtol": repr(tolerance.rtol), "atol": repr(tolerance.atol)}
    return {"comparison": tolerance.mode, "digits": str(tolerance.digits)}


def _pl_weight(weight: str, points: float) -> str:
    if points != int(points) or points < 0:
        raise GradingError(f"points.{weight}", "PrairieLearn's weight is a whole number; got "
                           f"{points:g}")
    return str(int(points))


_SERVER = '''\
"""PrairieLearn server.py of a pathgrad exercise (seed {seed}).

Written by `pathgrad exercise --format prairielearn`. generate() sets the correct
answers; grade() runs after pl-number-input has graded them and gives a wrong
answer that matches one of the common slips (the exercise's distractors) that
slip's diagnosis as feedback and its partial credit. The match is pl-number-input's
own comparison, as PrairieLearn defines it in prairielearn.grading_utils
(is_correct_scalar_ra, is_correct_scalar_sf, is_correct_scalar_dd).
"""

import math

CORRECT = {correct}

COMPARISON = {comparison}

SLIPS = {slips}


def generate(data):
    data["correct_answers"].update(CORRECT)


def grade(data):
    for name, slips in SLIPS.items():
        part = data["partial_scores"].get(name)
        given = data["submitted_answers"].get(name)
        if part is None or part.get("score") in (None, 1) or isinstance(given, bool) \\
                or not isinstance(given, (int, float)):
            continue
        for slip in slips:
            if _accepts(float(given), slip["value"], COMPARISON[name]):
                part["score"] = slip["credit"]
                part["feedback"] = slip["feedback"]
                data["feedback"][name] = slip["feedback"]
                break
    # The question's score: the weighted mean of its parts (pl.set_weighted_score_data).
    parts = data["partial_scores"].values()
    total = sum(part.get("weight", 1) for part in parts)
    if total:
        data["score"] = sum((part["score"] or 0) * part.get("weight", 1) for part in parts) / total


def _accepts(given, expected, comparison):
    """Whether pl-number-input would accept ``given`` as ``expected``."""
    if comparison["comparison"] == "relabs":
        # is_correct_scalar_ra: numpy.allclose, |given - expected| <= atol + rtol * |expected|
        return abs(given - expected) <= comparison["atol"] + comparison["rtol"] * abs(expected)
    digits = comparison["digits"]
    if comparison["comparison"] == "sigfig":
        # is_correct_scalar_sf: within 0.51 units of the digits-th significant digit
        if expected == 0:
            n = digits - 1
        else:
            n = -int(math.floor(math.log10(abs(expected)))) + (digits - 1)
    else:
        # is_correct_scalar_dd: within 0.51 units of the digits-th decimal digit
        n = digits
    eps = 0.51 * (10 ** -n)
    return expected - eps < given < expected + eps
'''


def _pl_server(exercise: Mapping[str, Any]) -> str:
    answers = exercise["answers"]
    correct = {weight: key["float"] for weight, key in answers.items()}
    comparison: dict[str, dict[str, Any]] = {}
    for weight, key in answers.items():
        tolerance = parse_tolerance(key["tolerance"])
        comparison[weight] = ({"comparison": "relabs", "rtol": tolerance.rtol,
                               "atol": tolerance.atol} if tolerance.mode == "relabs" else
                              {"comparison": tolerance.mode, "digits": tolerance.digits})
    slips = {weight: [{"value": d["float"], "diagnosis": d["diagnosis"], "credit": d["credit"],
                       "feedback": d["feedback"]} for d in key["distractors"]]
             for weight, key in answers.items()}
    return _SERVER.format(seed=exercise["seed"], correct=_literal(correct),
                          comparison=_literal(comparison), slips=_literal(slips))


def _literal(value: Any) -> str:
    return pprint.pformat(value, width=96, sort_dicts=False)


# --- helpers -----------------------------------------------------------------------------


def _mustache_safe(text: str) -> str:
    """Keep ``{{`` and ``}}`` out of question.html, a Mustache template (LaTeX reads the same)."""
    while "{{" in text or "}}" in text:
        text = text.replace("{{", "{ {").replace("}}", "} }")
    return text


def _decimal(value: float) -> str:
    """A float as a plain decimal (``-0.5``, ``30``), never in exponent notation."""
    return str(np.format_float_positional(float(value), trim="-"))


def _escape(text: str, *, quote: bool = False) -> str:
    return html.escape(text, quote=quote)


def _rule(tolerance: Tolerance) -> str:
    if tolerance.mode == "relabs":
        return f"an answer with {tolerance.describe()} is accepted"
    return f"give it to {tolerance.describe()}"
