"""`pathgrad autograder`: the real zip's scripts run against a fake /autograder tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from conftest import ROOT, SEED

from pathgrad.cli import main
from worker.engine import analyze

BIN = Path(sys.executable).parent
# Gradescope's results.json as its autograder specification describes it
# (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
_FORMATS = ["text", "html", "simple_format", "md", "ansi"]
_VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
RESULTS_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": _FORMATS},
        "visibility": {"enum": _VISIBILITY},
        "stdout_visibility": {"enum": _VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "score": {"type": "number"}, "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
                "output": {"type": "string"}, "output_format": {"enum": _FORMATS},
                "visibility": {"enum": _VISIBILITY}, "extra_data": {"type": "object"},
            },
            "required": ["score", "max_score", "name"],
            "additionalProperties": False,
        }},
    },
    "anyOf": [{"required": ["score"]}, {"required": ["tests"]}],
    "additionalProperties": False,
}
_VALIDATOR = jsonschema_rs.validator_for(RESULTS_SCHEMA)


def _gradients() -> dict[str, float]:
    result = analyze(SEED)
    return {w["name"]: w["gradient"] for w in result["weights"]}


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("autograder-zip")
    (folder / "net.json").write_text(json.dumps(SEED))
    (folder / "points.json").write_text(json.dumps({"W1": 2, "W7": 1}))
    out = folder / "autograder.zip"
    code = main(["autograder", "--network", str(folder / "net.json"), "--ask", "W1,W7",
                 "--points", str(folder / "points.json"), "--sigfig", "3",
                 "--partial", "sign_error=0.5", "--visibility", "after_due_date",
                 "--out", str(out)])
    assert code == 0
    return out


def _tree(zip_path: Path, root: Path) -> Path:
    """Unpack the zip as Gradescope does: source/, run_autograder beside it, modes kept."""
    source = root / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            target = source / member.filename
            target.write_bytes(archive.read(member))
            target.chmod((member.external_attr >> 16) & 0o777)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def _grade(root: Path, *, with_pathgrad: bool = True) -> dict[str, Any]:
    """Run the real run_autograder; it must exit 0 and leave a valid results.json."""
    path = f"{BIN}:/usr/bin:/bin" if with_pathgrad else "/usr/bin:/bin"
    done = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True,
                          text=True, timeout=120,
                          env={"PATH": path, "AUTOGRADER_ROOT": str(root), "HOME": str(root)})
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    errors = [error.message for error in _VALIDATOR.iter_errors(results)]
    assert not errors, (errors, results)
    return results


def test_the_zip_holds_gradescopes_two_scripts_at_its_root(
    zip_path: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        members = {m.filename: m for m in archive.infolist()}
        assert set(members) == {"setup.sh", "run_autograder", "network.json", "points.json",
                                "partial.json"}
        for script in ("setup.sh", "run_autograder"):
            assert (members[script].external_attr >> 16) & 0o111  # executable
            assert archive.read(script).startswith(b"#!/usr/bin/env bash\n")
        assert json.loads(archive.read("network.json")) == SEED
        setup = archive.read("setup.sh").decode()
        import pathgrad

        assert f'pip install "pathgrad=={pathgrad.__version__}"' in setup
        assert "pathgrad-*.whl" in setup
        for script in ("setup.sh", "run_autograder"):
            (tmp_path / script).write_bytes(archive.read(script))
            checked = subprocess.run(["bash", "-n", str(tmp_path / script)],
                                     capture_output=True, text=True)
            assert checked.returncode == 0, checked.stderr


def test_a_good_submission_scores_every_point(zip_path: Path, tmp_path: Path) -> None:
    root = _tree(zip_path, tmp_path / "autograder")
    gradients = _gradients()
    answers = {"W1": round(gradients["W1"], 3), "W7": gradients["W7"]}
    (root / "submission" / "answers.json").write_text(json.dumps(answers))
    results = _grade(root)
    assert "score" not in results  # the tests' total is the score
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        ("W1", 2.0, 2.0, "passed"), ("W7", 1.0, 1.0, "passed")]
    assert results["visibility"] == "after_due_date" and results["output_format"] == "md"
    assert all(t["visibility"] == "after_due_date" for t in results["tests"])
    assert results["execution_time"] > 0


def test_a_wrong_submission_gets_its_diagnosis_and_partial_credit(
    zip_path: Path, tmp_path: Path
) -> None:
    root = _tree(zip_path, tmp_path / "autograder")
    gradients = _gradients()
    (root / "submission" / "answers.json").write_text(json.dumps(
        {"W1": -gradients["W1"], "W7": 123.0, "W13": 1}))
    results = _grade(root)
    w1, w7 = results["tests"]
    assert (w1["score"], w1["status"], w1["extra_data"]["diagnosis"]) == (1.0, "failed",
                                                                         "sign_error")
    assert "Sign error" in w1["output"] and "Partial credit: 50%" in w1["output"]
    assert (w7["score"], w7["extra_data"]["diagnosis"]) == (0.0, "wrong")
    assert "W13 was not asked" in results["output"]


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "answers.json is empty"),
    (b"{\"W1\": 2.31,", "answers.json is not valid JSON"),
    (b"[1, 2]", "answers.json holds a list"),
    (b"\xff\xfe\x00", "answers.json is not UTF-8"),
    (None, "answers.json is missing"),
])
def test_an_empty_or_malformed_submission_still_gets_a_results_json(
    zip_path: Path, tmp_path: Path, content: bytes | None, reason: str
) -> None:
    root = _tree(zip_path, tmp_path / "autograder")
    if content is not None:
        (root / "submission" / "answers.json").write_bytes(content)
    results = _grade(root)
    assert [(t["score"], t["max_score"]) for t in results["tests"]] == [(0.0, 2.0), (0.0, 1.0)]
    assert reason in results["output"].replace("\\", "")


def test_answers_in_a_submitted_folder_are_found(zip_path: Path, tmp_path: Path) -> None:
    root = _tree(zip_path, tmp_path / "autograder")
    (root / "submission" / "hw3").mkdir()
    gradients = _gradients()
    (root / "submission" / "hw3" / "answers.json").write_text(json.dumps(
        {"W1": gradients["W1"], "W7": gradients["W7"]}))
    assert sum(t["score"] for t in _grade(root)["tests"]) == 3.0


def test_without_pathgrad_the_run_still_leaves_a_score_of_0(
    zip_path: Path, tmp_path: Path
) -> None:
    root = _tree(zip_path, tmp_path / "autograder")
    (root / "submission" / "answers.json").write_text("{}")
    results = _grade(root, with_pathgrad=False)
    assert results["score"] == 0.0 and results["tests"] == []
    assert "pathgrad could not run" in results["output"]


def test_an_exercise_key_is_baked_with_its_points_and_tolerance(tmp_path: Path) -> None:
    assert main(["exercise", "--layers", "2,3,2,1", "--seed", "5", "--ask", "W1,W7",
                 "--points", "W7=3", "--decdig", "2", "--out", str(tmp_path / "ex")]) == 0
    key = tmp_path / "ex" / "variant-1" / "answers.json"
    out = tmp_path / "autograder.zip"
    assert main(["autograder", "--key", str(key), "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        script = archive.read("run_autograder").decode()
        assert "--ask W1,W7" in script and "--decdig 2" in script
        assert json.loads(archive.read("points.json")) == {"W1": 1.0, "W7": 3.0}
    root = _tree(out, tmp_path / "autograder")
    entries = json.loads(key.read_text())
    (root / "submission" / "answers.json").write_text(json.dumps(
        {"W1": round(entries["W1"]["float"], 2), "W7": entries["W7"]["float"] + 0.004}))
    assert [t["score"] for t in _grade(root)["tests"]] == [1.0, 3.0]


@pytest.mark.parametrize(("argv", "message"), [
    (["--ask", "W99"], "ask[0]"),
    ([], "--ask: name the graded parameters"),
    (["--ask", "W1", "--wheel", "numpy-2.0-py3-none-any.whl"], "--wheel"),
    (["--ask", "W1", "--sigfig", "0"], "tolerance.sigfig"),
])
def test_the_instructors_mistakes_exit_2_before_any_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "net.json").write_text(json.dumps(SEED))
    out = tmp_path / "a.zip"
    code = main(["autograder", "--network", str(tmp_path / "net.json"), *argv,
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


@pytest.mark.slow
def test_setup_sh_installs_pathgrad_from_the_wheel_beside_it(tmp_path: Path) -> None:
    # Build this checkout's wheel (from a copy: the build leaves files behind).
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "*.egg-info", "__pycache__", ".*_cache", "build", "dist"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(wheels), str(source)], check=True, timeout=600, capture_output=True)
    (wheel,) = wheels.glob("pathgrad-*.whl")
    (tmp_path / "net.json").write_text(json.dumps(SEED))
    out = tmp_path / "autograder.zip"
    assert main(["autograder", "--network", str(tmp_path / "net.json"), "--ask", "W1",
                 "--wheel", str(wheel), "--out", str(out)]) == 0
    root = _tree(out, tmp_path / "autograder")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    done = subprocess.run([str(root / "source" / "setup.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (root / "pathgrad-venv" / "bin" / "pathgrad").exists()
    (root / "submission" / "answers.json").write_text(json.dumps({"W1": _gradients()["W1"]}))
    # Without this checkout's pathgrad on PATH: the one setup.sh installed grades.
    results = _grade(root, with_pathgrad=False)
    assert [(t["name"], t["status"]) for t in results["tests"]] == [("W1", "passed")]
