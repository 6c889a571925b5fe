"""`import pathgrad`: the public face, its version, its types, and its command as a module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

import pathgrad
import worker.engine
from pathgrad import examples

PUBLIC = {"analyze", "analyze_many", "path_contributions", "formula", "grade", "AnswerKey",
          "exercise", "exercises", "PathgradError", "InvalidInputError", "SpecError",
          "OptionError", "ExactArithmeticError", "PathLimitError", "UnknownWeightError",
          "AgreementError", "GradingError", "ExerciseError"}


def test_the_public_names_are_the_engines_and_courseworks_own() -> None:
    assert PUBLIC <= set(pathgrad.__all__) and set(dir(pathgrad)) >= PUBLIC
    assert pathgrad.analyze is worker.engine.analyze
    assert pathgrad.path_contributions is worker.engine.path_contributions
    from worker.coursework.grading import grade

    assert pathgrad.grade is grade
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        _ = pathgrad.nonesuch  # type: ignore[attr-defined]


def test_version_is_the_package_metadatas() -> None:
    assert pathgrad.__version__ == version("pathgrad")
    done = subprocess.run([sys.executable, "-m", "pathgrad", "--version"], capture_output=True,
                          text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == f"pathgrad {version('pathgrad')}"


def test_bad_input_is_a_value_error_and_a_disagreement_is_not() -> None:
    assert issubclass(pathgrad.SpecError, ValueError)
    assert issubclass(pathgrad.GradingError, ValueError)
    assert issubclass(pathgrad.ExerciseError, ValueError)
    assert issubclass(pathgrad.AgreementError, pathgrad.PathgradError)
    assert not issubclass(pathgrad.AgreementError, ValueError)
    # A handler of bad input cannot swallow pathgrad's bug.
    with pytest.raises(pathgrad.AgreementError):
        try:
            raise pathgrad.AgreementError("network", "backprop and path sum differ")
        except ValueError:
            pytest.fail("an AgreementError was caught as bad input")


def test_numpy_arrays_are_accepted_wherever_numbers_are() -> None:
    seed = examples.load("seed")
    arrays = {**seed, "layers": np.array(seed["layers"]),
              "weights": [np.array(w) for w in seed["weights"]],
              "input": np.array(seed["input"], dtype=np.float32),
              "target": np.array(seed["target"])}
    assert pathgrad.analyze(arrays) == pathgrad.analyze(seed)
    assert pathgrad.path_contributions(arrays, "W1") == pathgrad.path_contributions(seed, "W1")
    exact = pathgrad.analyze(arrays, arithmetic="exact", rtol=np.float64(0.0))
    assert exact["weights"][0]["gradient_exact"] == "231/100"
    with pytest.raises(pathgrad.SpecError, match=r"weights\[1\]: expected shape \(2, 3\)"):
        pathgrad.analyze({**arrays, "weights": [arrays["weights"][0], arrays["weights"][1].T,
                                                 arrays["weights"][2]]})
    with pytest.raises(pathgrad.SpecError, match=r"input\[1\]: expected a finite number"):
        pathgrad.analyze({**arrays, "input": np.array([1.0, np.nan])})
    grading = pathgrad.grade(seed, {"W1": np.float32(2.31)}, ask=["W1"])
    assert grading["score"] == 1.0


def test_the_examples_ship_in_the_package_and_analyze_from_any_folder(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pathgrad", "analyze", "--example", "seed",
                           "--format", "json"], capture_output=True, text=True, check=True,
                          cwd=tmp_path)
    assert json.loads(done.stdout) == pathgrad.analyze(examples.load("seed"))
    assert Path(examples.path("seed")).is_relative_to(Path(pathgrad.__file__).parent)


@pytest.mark.parametrize("shadow", ["worker.py", "service.py", "celery.py"])
def test_python_m_pathgrad_imports_its_own_modules_whatever_the_folder_holds(
    tmp_path: Path, shadow: str
) -> None:
    (tmp_path / shadow).write_text("raise SystemExit('the wrong module was imported')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "pathgrad", "analyze", "--example", "seed",
                           "--weight", "W1", "--paths"], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "sum = dLoss/dW1 = 2.31" in done.stdout


def test_the_result_shapes_are_typed() -> None:
    from pathgrad.types import AnalysisResult, PathPage, WeightRecord

    result = pathgrad.analyze(examples.load("seed"))
    assert set(result) <= set(AnalysisResult.__annotations__)
    assert set(AnalysisResult.__required_keys__) <= set(result)
    assert set(WeightRecord.__required_keys__) == set(result["weights"][0])
    page = pathgrad.path_contributions(examples.load("seed"), "W1")
    assert set(PathPage.__required_keys__) == set(page)
    assert (Path(pathgrad.__file__).parent / "py.typed").exists()
