"""Exercises exported for Moodle (XML) and PrairieLearn (question folders), checked closely."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import reference
from conftest import ROOT

from pathgrad.cli import main
from worker.coursework.exercises import exercises
from worker.coursework.exports import MOODLE_FRACTIONS, moodle_xml, prairielearn
from worker.coursework.grading import GradingError

# PrairieLearn's own schemas, kept outside the repository (see ../shared/data/README.md).
SHARED = ROOT.parent / "shared" / "data"
INFO_SCHEMA = SHARED / "prairielearn-infoQuestion.schema.json"
ELEMENT_SCHEMA = SHARED / "prairielearn-pl-number-input.schema.json"

REQUESTS = [
    {"layers": (2, 3, 2, 1), "ask": ("W1", "W7"), "partial": {"sign_error": 0.5}},
    {"layers": (2, 3, 2, 1), "activation": "leaky_relu", "loss": "mse", "ask": ("W2", "W13"),
     "tolerance": {"sigfig": 3}, "points": {"W2": 2}},
    {"layers": (3, 2, 2), "activation": "relu", "loss": "half_sse", "ask": ("W1",),
     "tolerance": {"decdig": 2}, "fractions": True,
     "partial": {"missing_paths": 0.25, "missing_loss_derivative": 0.75}},
]
IDS = ["relabs", "sigfig", "decdig"]


def _shared(path: Path) -> Any:
    if not path.exists():
        pytest.skip(f"{path} is not here (PrairieLearn's schema; CI has it)")
    return json.loads(path.read_text(encoding="utf-8"))


# --- Moodle ------------------------------------------------------------------------------


@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
def test_moodle_xml_has_a_numerical_question_per_asked_weight(request_: dict[str, Any]) -> None:
    drawn = exercises(3, seed=21, **request_)
    quiz = ET.fromstring(moodle_xml(drawn))
    assert quiz.tag == "quiz"
    questions = quiz.findall("question")
    expected = [(ex, w) for ex in drawn for w in ex["answers"]]
    assert len(questions) == len(expected)
    for question, (exercise, weight) in zip(questions, expected, strict=True):
        key = exercise["answers"][weight]
        assert question.get("type") == "numerical"
        name = f"pathgrad seed {exercise['seed']}: dLoss/d{weight}"
        assert question.findtext("name/text") == name
        text = question.find("questiontext")
        assert text is not None and text.get("format") == "html"
        body = text.findtext("text") or ""
        assert f"What is dLoss/d{weight}?" in body and "\\(" in body and "$" not in body
        others = [w for w in exercise["answers"] if w != weight]
        assert all(f"What is dLoss/d{w}?" not in body for w in others)
        assert float(question.findtext("defaultgrade") or "nan") == key["points"]
        assert question.findtext("hidden") == "0"
        answers = question.findall("answer")
        assert len(answers) == 1 + len(key["distractors"])
        rows = [(1.0, key["float"], "Correct.")] + [
            (d["credit"], d["float"], d["feedback"]) for d in key["distractors"]]
        for answer, (credit, value, feedback) in zip(answers, rows, strict=True):
            assert set(answer.attrib) == {"fraction", "format"}
            assert float(answer.get("fraction") or "nan") == pytest.approx(100 * credit)
            assert any(abs(float(answer.get("fraction") or 0) / 100 - f) < 1e-5
                       for f in MOODLE_FRACTIONS)  # or Moodle's import refuses it
            number = answer.findtext("text") or ""
            assert "e" not in number.lower() and float(number) == value
            assert float(answer.findtext("tolerance") or "nan") == pytest.approx(
                reference.prairielearn_half_width(key["tolerance"], value), rel=1e-12)
            fb = answer.find("feedback")
            assert fb is not None and fb.get("format") == "html"
            assert fb.findtext("text") == f"<p>{html.escape(feedback, quote=False)}</p>"


def test_moodle_gives_each_slip_its_own_feedback() -> None:
    # Moodle takes the first answer whose closed interval holds the response.
    (exercise,) = exercises(1, seed=4, layers=(2, 3, 2, 1), ask=("W1",),
                            tolerance={"sigfig": 2})
    question = ET.fromstring(moodle_xml([exercise])).find("question")
    assert question is not None
    intervals = [(float(a.findtext("text") or 0), float(a.findtext("tolerance") or 0),
                  a.findtext("feedback/text")) for a in question.findall("answer")]
    key = exercise["answers"]["W1"]
    for response, feedback in [(key["float"], "<p>Correct.</p>")] + [
            (d["float"], f"<p>{html.escape(d['feedback'], quote=False)}</p>")
            for d in key["distractors"]]:
        first = next(fb for value, tol, fb in intervals if abs(response - value) <= tol)
        assert first == feedback


def test_a_partial_credit_that_moodle_cannot_take_is_refused() -> None:
    drawn = exercises(1, seed=3, layers=(2, 3, 2, 1), ask=("W1",), partial={"sign_error": 0.45})
    with pytest.raises(GradingError) as caught:
        moodle_xml(drawn)
    assert caught.value.field == "partial.sign_error"


# --- PrairieLearn ------------------------------------------------------------------------


class _Inputs(HTMLParser):
    """The pl-number-input elements of a question.html, and any text outside tags."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []
        self.panels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pl-number-input":
            self.inputs.append({name: value or "" for name, value in attrs})
        elif tag == "pl-question-panel":
            self.panels += 1


def _pl_format(kind: str, value: Any) -> bool:
    """PrairieLearn's format checks (prairielearn.html_utils.is_*_attrib)."""
    try:
        {"integer": int, "number": float}[kind](value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
def test_prairielearn_info_json_is_valid_against_prairielearns_schema(
    request_: dict[str, Any]
) -> None:
    validator = jsonschema_rs.validator_for(_shared(INFO_SCHEMA), validate_formats=True)
    folders = prairielearn(exercises(4, seed=8, **request_))
    assert list(folders) == ["variant-1", "variant-2", "variant-3", "variant-4"]
    uuids = set()
    for files in folders.values():
        assert set(files) == {"info.json", "question.html", "server.py"}
        info = json.loads(files["info.json"])
        errors = [error.message for error in validator.iter_errors(info)]
        assert not errors, errors
        assert info["type"] == "v3" and info["singleVariant"] is True
        uuids.add(info["uuid"])
    assert len(uuids) == 4  # a course refuses two questions with one UUID
    assert prairielearn(exercises(4, seed=8, **request_)) == folders  # and they are stable


@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
def test_prairielearn_inputs_are_valid_pl_number_input_elements(request_: dict[str, Any]) -> None:
    schema = _shared(ELEMENT_SCHEMA)
    validator = jsonschema_rs.validator_for(
        schema, validate_formats=True, formats={
            "boolean": lambda v: v in ("true", "false", "True", "False"),
            "integer": lambda v: _pl_format("integer", v),
            "number": lambda v: _pl_format("number", v)})
    drawn = exercises(2, seed=8, **request_)
    for exercise, files in zip(drawn, prairielearn(drawn).values(), strict=True):
        page = files["question.html"]
        assert "{{" not in page and "}}" not in page  # question.html is a Mustache template
        parser = _Inputs()
        parser.feed(page)
        assert parser.panels == 1
        assert [i["answers-name"] for i in parser.inputs] == list(exercise["answers"])
        for element in parser.inputs:
            errors = [error.message for error in validator.iter_errors(element)]
            assert not errors, (element, errors)
            key = exercise["answers"][element["answers-name"]]
            tolerance = key["tolerance"]
            if "rtol" in tolerance:
                assert element["comparison"] == "relabs"
                assert (float(element["rtol"]), float(element["atol"])) == (
                    tolerance["rtol"], tolerance["atol"])
            else:
                mode = "sigfig" if "sigfig" in tolerance else "decdig"
                assert (element["comparison"], int(element["digits"])) == (mode, tolerance[mode])
            assert int(element["weight"]) == key["points"]


def _run_server(files: dict[str, str]) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(files["server.py"], "server.py", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
def test_prairielearn_server_gives_each_slip_its_feedback_and_credit(
    request_: dict[str, Any]
) -> None:
    (exercise,) = exercises(1, seed=13, **request_)
    server = _run_server(prairielearn([exercise])["variant-1"])
    data: dict[str, Any] = {"params": {}, "correct_answers": {}}
    server["generate"](data)
    answers = exercise["answers"]
    assert data["correct_answers"] == {w: key["float"] for w, key in answers.items()}
    weights = {w: int(key["points"]) for w, key in answers.items()}
    first, *rest = answers
    for slip in answers[first]["distractors"]:
        # As pl-number-input leaves it: the slip is wrong (0), the others right (1).
        data = {"submitted_answers": {first: slip["float"]} | {w: answers[w]["float"]
                                                               for w in rest},
                "partial_scores": {w: {"score": 0.0 if w == first else 1.0,
                                       "weight": weights[w]} for w in answers},
                "feedback": {}, "score": 0.0}
        server["grade"](data)
        part = data["partial_scores"][first]
        assert (part["score"], part["feedback"]) == (slip["credit"], slip["feedback"])
        assert data["feedback"][first] == slip["feedback"]
        total = sum(weights.values())
        assert data["score"] == pytest.approx(
            (slip["credit"] * weights[first] + sum(weights[w] for w in rest)) / total)
    # An answer that is no slip keeps its 0 and gets no slip's feedback.
    data = {"submitted_answers": {first: answers[first]["float"] * 7 + 1001},
            "partial_scores": {first: {"score": 0.0, "weight": 1}}, "feedback": {}}
    server["grade"](data)
    assert data["partial_scores"][first] == {"score": 0.0, "weight": 1} and data["score"] == 0


def test_prairielearn_server_matches_as_the_element_compares() -> None:
    (exercise,) = exercises(1, seed=2, layers=(2, 3, 2, 1), ask=("W1",),
                            tolerance={"sigfig": 2})
    server = _run_server(prairielearn([exercise])["variant-1"])
    slip = exercise["answers"]["W1"]["distractors"][0]
    eps = reference.prairielearn_half_width({"sigfig": 2}, slip["float"])
    comparison = {"comparison": "sigfig", "digits": 2}
    assert server["_accepts"](slip["float"] + 0.98 * eps, slip["float"], comparison)
    assert not server["_accepts"](slip["float"] + 1.02 * eps, slip["float"], comparison)
    relabs = {"comparison": "relabs", "rtol": 0.0, "atol": 0.5}
    assert server["_accepts"](1.5, 1.0, relabs) and not server["_accepts"](1.6, 1.0, relabs)


# --- the command line --------------------------------------------------------------------


def test_cli_writes_a_moodle_quiz_and_prairielearn_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["exercise", "--layers", "2,3,2,1", "--seed", "7", "--ask", "W1,W7", "--count",
              "3", "--sigfig", "3", "--partial", "sign_error=0.5"]
    assert main([*common, "--format", "moodle", "--out", str(tmp_path / "quiz.xml")]) == 0
    quiz = ET.parse(tmp_path / "quiz.xml").getroot()
    assert len(quiz.findall("question")) == 6
    assert "wrote 6 Moodle questions" in capsys.readouterr().out
    assert main([*common, "--format", "prairielearn", "--out", str(tmp_path / "pl")]) == 0
    assert "wrote 3 PrairieLearn questions" in capsys.readouterr().out
    folders = sorted(p.name for p in (tmp_path / "pl").iterdir())
    assert folders == ["variant-1", "variant-2", "variant-3"]
    html_text = (tmp_path / "pl" / "variant-2" / "question.html").read_text()
    assert 'comparison="sigfig" digits="3"' in html_text
    drawn = exercises(3, seed=7, layers=(2, 3, 2, 1), ask=("W1", "W7"),
                      tolerance={"sigfig": 3}, partial={"sign_error": 0.5})
    assert (tmp_path / "pl" / "variant-3" / "server.py").read_text() == \
        prairielearn(drawn)["variant-3"]["server.py"]
    assert main([*common[:-2], "--format", "moodle"]) == 0  # no --out: to stdout
    assert ET.fromstring(capsys.readouterr().out).tag == "quiz"


@pytest.mark.parametrize(("argv", "message"), [
    (["--format", "prairielearn"], "--format prairielearn: give --out DIR"),
    (["--format", "moodle", "--partial", "sign_error=0.45"], "partial.sign_error: Moodle"),
    (["--partial", "typo=0.5"], "partial.typo"),
    (["--partial", "sign_error"], "--partial: expected name=number pairs"),
    (["--points", "W2=1"], "points.W2"),
    (["--sigfig", "3", "--decdig", "2"], "tolerance.sigfig"),
])
def test_cli_bad_export_flags_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["exercise", "--layers", "2,3,2,1", "--ask", "W1", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_exact_values_survive_the_exports() -> None:
    (exercise,) = exercises(1, seed=1, layers=(3, 2, 2), loss="mse", ask=("W1",),
                            fractions=True)
    key = exercise["answers"]["W1"]
    question = ET.fromstring(moodle_xml([exercise])).find("question")
    assert question is not None
    assert float(question.findtext("answer/text") or "nan") == float(Fraction(key["value"]))
