"""Grading output for pipelines: pathgrad's JSON, Gradescope's results.json, JUnit XML.

Imports only the standard library, so the offline `pathgrad grade` starts fast.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FORMATS", "MEDIA_TYPES", "gradescope", "junit", "junit_suite", "junit_suites", "render",
]

FORMATS = ("json", "gradescope", "junit")
MEDIA_TYPES = {"json": "application/json", "gradescope": "application/json",
               "junit": "application/xml"}
SUITE = "pathgrad.grade"


def gradescope(grading: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Gradescope ``results.json`` object: one test per answer, feedback as output."""
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
    correct = sum(1 for answer in grading["answers"] if answer["correct"])
    return {
        "score": grading["score"],
        "output": f"{correct} of {len(tests)} gradients correct: "
        f"{_number(grading['score'])} / {_number(grading['max_score'])} points.",
        "visibility": "visible",
        "tests": tests,
    }


def junit_suite(grading: Mapping[str, Any], name: str = SUITE) -> ET.Element:
    """Return one ``<testsuite>``: a ``<testcase>`` per answer, ``<failure>`` when wrong."""
    answers = grading["answers"]
    failures = sum(1 for answer in answers if not answer["correct"])
    suite = ET.Element("testsuite", {
        "name": name, "tests": str(len(answers)), "failures": str(failures), "errors": "0",
        "skipped": "0", "time": "0",
    })
    properties = ET.SubElement(suite, "properties")
    for key in ("score", "max_score"):
        ET.SubElement(properties, "property", {"name": key, "value": _number(grading[key])})
    for answer in answers:
        case = ET.SubElement(suite, "testcase", {"name": answer["name"], "classname": SUITE,
                                                 "time": "0"})
        if answer["correct"]:
            ET.SubElement(case, "system-out").text = answer["feedback"]
            continue
        failure = ET.SubElement(case, "failure", {"message": answer["feedback"],
                                                  "type": answer["diagnosis"]})
        failure.text = (f"{answer['feedback']}\ngiven: {json.dumps(answer['given'])}\n"
                        f"expected: {json.dumps(answer['expected'])}")
    return suite


def junit(grading: Mapping[str, Any], name: str = SUITE) -> str:
    """Return a JUnit XML document with one ``<testsuite>`` for one grading."""
    return _xml(junit_suite(grading, name))


def junit_suites(gradings: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """Return a JUnit XML ``<testsuites>`` document: one suite per (name, grading)."""
    root = ET.Element("testsuites", {"name": SUITE})
    tests = failures = 0
    for name, grading in gradings:
        suite = junit_suite(grading, name)
        tests += int(suite.get("tests", "0"))
        failures += int(suite.get("failures", "0"))
        root.append(suite)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    return _xml(root)


def render(grading: Mapping[str, Any], fmt: str) -> str:
    """Return one grading as text in ``fmt`` (``json``, ``gradescope`` or ``junit``)."""
    if fmt == "junit":
        return junit(grading)
    body = gradescope(grading) if fmt == "gradescope" else grading
    return json.dumps(body, indent=2, ensure_ascii=False)


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _number(value: float) -> str:
    return f"{value:g}"
