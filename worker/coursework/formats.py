"""Grading output for pipelines: pathgrad's JSON, Gradescope's results.json, JUnit XML.

Each format has one test per asked name and nothing else, so its total is the
grading's. A top-level ``score`` in Gradescope's results.json overrides the sum
of its tests, so none is written beside tests. Imports only the standard library, so the offline
`pathgrad grade` starts fast.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FORMATS", "MEDIA_TYPES", "SUITE", "gradescope", "junit", "junit_suite", "junit_suites",
    "render", "summary",
]

FORMATS = ("json", "gradescope", "junit")
MEDIA_TYPES = {"json": "application/json", "gradescope": "application/json",
               "junit": "application/xml"}
SUITE = "pathgrad.grade"
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


def gradescope(grading: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Gradescope ``results.json`` object: one test per asked name, feedback as output.

    The score is the tests' total: Gradescope's top-level ``score`` would override
    it, so it is written only when there is no test to carry one.
    """
    tests = [
        {
            "name": answer["name"],
            "score": answer["points"],
            "max_score": answer["max_points"],
            "status": "passed" if answer["correct"] else "failed",
            "output": answer["feedback"],
            "visibility": "visible",
            "extra_data": {"diagnosis": answer["diagnosis"]},
        }
        for answer in grading["answers"]
    ]
    document: dict[str, Any] = {"output": summary(grading), "visibility": "visible",
                                "tests": tests}
    return document if tests else {"score": 0.0, **document}


def junit_suite(
    grading: Mapping[str, Any], name: str = SUITE, classname: str | None = None
) -> ET.Element:
    """Return one ``<testsuite>``: a ``<testcase>`` per asked name, ``<failure>`` when wrong.

    ``classname`` (default ``name``) goes on every test case: a report over many
    suites keys cases by class name and name, so each answer set needs its own.
    """
    answers = grading["answers"]
    failures = sum(1 for answer in answers if not answer["correct"])
    suite = ET.Element("testsuite", {
        "name": name, "tests": str(len(answers)), "failures": str(failures), "errors": "0",
        "skipped": "0", "time": "0",
    })
    properties = ET.SubElement(suite, "properties")
    for key in ("score", "max_score"):
        ET.SubElement(properties, "property", {"name": key, "value": _number(grading[key])})
    if grading.get("submission_error"):
        ET.SubElement(properties, "property", {"name": "submission_error",
                                               "value": grading["submission_error"]})
    for answer in answers:
        case = ET.SubElement(suite, "testcase", {"name": answer["name"],
                                                 "classname": classname or name, "time": "0"})
        if answer["correct"]:
            ET.SubElement(case, "system-out").text = answer["feedback"]
            continue
        failure = ET.SubElement(case, "failure", {"message": answer["feedback"],
                                                  "type": answer["diagnosis"]})
        failure.text = (f"{answer['feedback']}\ngiven: {json.dumps(answer['given'])}\n"
                        f"expected: {json.dumps(answer['expected'])}")
    ET.SubElement(suite, "system-out").text = summary(grading)
    return suite


def junit(grading: Mapping[str, Any], name: str = SUITE) -> str:
    """Return a JUnit XML document with one ``<testsuite>`` for one grading."""
    return _xml(junit_suite(grading, name))


def junit_suites(gradings: Iterable[tuple[str, Mapping[str, Any]]], prefix: str = SUITE) -> str:
    """Return a JUnit XML ``<testsuites>`` document: one suite per (name, grading).

    Each suite's cases have the class name ``<prefix>.<name>``, so a class report
    keeps every student's cases apart.
    """
    root = ET.Element("testsuites", {"name": prefix})
    tests = failures = 0
    for name, grading in gradings:
        suite = junit_suite(grading, name, f"{prefix}.{name}")
        tests += int(suite.get("tests", "0"))
        failures += int(suite.get("failures", "0"))
        root.append(suite)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    return _xml(root)


def render(grading: Mapping[str, Any], fmt: str, name: str = SUITE) -> str:
    """Return one grading as text in ``fmt`` (``json``, ``gradescope`` or ``junit``)."""
    if fmt == "junit":
        return junit(grading, name)
    body = gradescope(grading) if fmt == "gradescope" else grading
    return json.dumps(body, indent=2, ensure_ascii=False)


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _number(value: float) -> str:
    return f"{value:g}"
