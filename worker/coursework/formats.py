"""Grading output for pipelines: pathgrad's JSON, Gradescope's results.json, JUnit XML.

Each format has one test per asked name and nothing else, so its total is the
grading's. A top-level ``score`` in Gradescope's results.json overrides the sum
of its tests, so none is written beside tests. Gradescope's fields follow its
autograder specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
``execution_time`` (seconds), ``output`` and per test ``output`` in Markdown
(``output_format`` ``"md"``, the feedback's punctuation escaped so that it reads as
written), and ``visibility`` (``visible``, ``hidden``, ``after_due_date``,
``after_published``) on the submission and each test. JUnit's ``time`` attributes
are the seconds spent grading. Imports only the standard library, so the offline
`pathgrad grade` starts fast.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FORMATS", "MEDIA_TYPES", "SUITE", "VISIBILITIES", "gradescope", "junit", "junit_suite",
    "junit_suites", "markdown", "render", "summary",
]

FORMATS = ("json", "gradescope", "junit")
MEDIA_TYPES = {"json": "application/json", "gradescope": "application/json",
               "junit": "application/xml"}
SUITE = "pathgrad.grade"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
# Characters that may start emphasis, code, links, HTML, headings or tables in Markdown;
# CommonMark reads a backslash before any of them as the character itself.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")
# Ignored answers named in a summary: a submission may hold any number of them.
_LISTED = 10


def summary(grading: Mapping[str, Any]) -> str:
    """Return the grading of a whole submission in a few sentences a student can read."""
    answers = grading["answers"]
    correct = sum(1 for answer in answers if answer["correct"])
    text = (f"{correct} of {len(answers)} gradients correct: {_number(grading['score'])} / "
            f"{_number(grading['max_score'])} points.")
    error = grading.get("submission_error")
    if error:
        text = (f"Your submission could not be graded: {error}. Every question scores 0; "
                "submit one JSON object of answers, such as {\"W1\": -2.5, \"W7\": \"3/4\"}. "
                + text)
    ignored = grading.get("ignored") or []
    if ignored:
        more = len(ignored) - _LISTED
        text += (" Not graded: " + " ".join(i["feedback"] for i in ignored[:_LISTED])
                 + (f" ({more} more answers not graded.)" if more > 0 else ""))
    return text


def markdown(text: str) -> str:
    """Escape ``text`` for Markdown: ``a_X1 * sigma'`` shows as written, not in italics."""
    return _MARKDOWN.sub(r"\\\1", text)


def gradescope(
    grading: Mapping[str, Any], *, execution_time: float | None = None,
    visibility: str = "visible",
) -> dict[str, Any]:
    """Return a Gradescope ``results.json`` object: one test per asked name, feedback as output.

    The score is the tests' total: Gradescope's top-level ``score`` would override
    it, so it is written only when there is no test to carry one. ``visibility``
    applies to the submission and to every test.
    """
    tests = [
        {
            "name": answer["name"],
            "score": answer["points"],
            "max_score": answer["max_points"],
            "status": "passed" if answer["correct"] else "failed",
            "output": markdown(answer["feedback"]),
            "output_format": "md",
            "visibility": visibility,
            "extra_data": {"diagnosis": answer["diagnosis"]},
        }
        for answer in grading["answers"]
    ]
    document: dict[str, Any] = {"output": markdown(summary(grading)), "output_format": "md",
                                "visibility": visibility, "tests": tests}
    if execution_time is not None:
        document = {"execution_time": round(execution_time, 3), **document}
    return document if tests else {"score": 0.0, **document}


def junit_suite(
    grading: Mapping[str, Any], name: str = SUITE, classname: str | None = None,
    timings: Mapping[str, float] | None = None, seconds: float | None = None,
) -> ET.Element:
    """Return one ``<testsuite>``: a ``<testcase>`` per asked name, ``<failure>`` when wrong.

    ``classname`` (default ``name``) goes on every test case: a report over many
    suites keys cases by class name and name, so each answer set needs its own.
    ``timings`` (name -> seconds grading it) gives each case its ``time``, and
    ``seconds`` the suite's (default: the cases' sum).
    """
    answers = grading["answers"]
    failures = sum(1 for answer in answers if not answer["correct"])
    times = {answer["name"]: (timings or {}).get(answer["name"], 0.0) for answer in answers}
    total = sum(times.values()) if seconds is None else seconds
    suite = ET.Element("testsuite", {
        "name": name, "tests": str(len(answers)), "failures": str(failures), "errors": "0",
        "skipped": "0", "time": _seconds(total),
    })
    properties = ET.SubElement(suite, "properties")
    for key in ("score", "max_score"):
        ET.SubElement(properties, "property", {"name": key, "value": _number(grading[key])})
    if grading.get("submission_error"):
        ET.SubElement(properties, "property", {"name": "submission_error",
                                               "value": grading["submission_error"]})
    for answer in answers:
        case = ET.SubElement(suite, "testcase", {"name": answer["name"],
                                                 "classname": classname or name,
                                                 "time": _seconds(times[answer["name"]])})
        if answer["correct"]:
            ET.SubElement(case, "system-out").text = answer["feedback"]
            continue
        failure = ET.SubElement(case, "failure", {"message": answer["feedback"],
                                                  "type": answer["diagnosis"]})
        failure.text = (f"{answer['feedback']}\ngiven: {json.dumps(answer['given'])}\n"
                        f"expected: {json.dumps(answer['expected'])}")
    ET.SubElement(suite, "system-out").text = summary(grading)
    return suite


def junit(
    grading: Mapping[str, Any], name: str = SUITE, timings: Mapping[str, float] | None = None,
    seconds: float | None = None,
) -> str:
    """Return a JUnit XML document with one ``<testsuite>`` for one grading."""
    return _xml(junit_suite(grading, name, timings=timings, seconds=seconds))


def junit_suites(
    gradings: Iterable[tuple[str, Mapping[str, Any]]], prefix: str = SUITE,
    timings: Iterable[Mapping[str, float] | None] | None = None,
) -> str:
    """Return a JUnit XML ``<testsuites>`` document: one suite per (name, grading).

    Each suite's cases have the class name ``<prefix>.<name>``, so a class report
    keeps every student's cases apart; ``timings`` gives each suite's case times.
    """
    root = ET.Element("testsuites", {"name": prefix})
    tests = failures = 0
    total = 0.0
    times = iter(timings) if timings is not None else None
    for name, grading in gradings:
        suite = junit_suite(grading, name, f"{prefix}.{name}",
                            timings=next(times, None) if times is not None else None)
        tests += int(suite.get("tests", "0"))
        failures += int(suite.get("failures", "0"))
        total += float(suite.get("time", "0"))
        root.append(suite)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("time", _seconds(total))
    return _xml(root)


def render(
    grading: Mapping[str, Any], fmt: str, name: str = SUITE, *,
    timings: Mapping[str, float] | None = None, seconds: float | None = None,
    visibility: str = "visible",
) -> str:
    """Return one grading as text in ``fmt`` (``json``, ``gradescope`` or ``junit``).

    ``seconds`` is Gradescope's ``execution_time`` and JUnit's suite ``time``;
    ``timings`` the JUnit cases' times.
    """
    if fmt == "junit":
        return junit(grading, name, timings=timings, seconds=seconds)
    body = (gradescope(grading, execution_time=seconds, visibility=visibility)
            if fmt == "gradescope" else grading)
    return json.dumps(body, indent=2, ensure_ascii=False)


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def _number(value: float) -> str:
    return f"{value:g}"
