"""`pathgrad analyze`: the table, the JSON, the seed's paths, and one-line errors."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
from reference import forward, path_gradients

from pathgrad import examples
from pathgrad.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED_PATH = Path(examples.path("seed"))
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
RESULT_KEYS = {"loss", "outputs", "nodes", "weights", "biases", "agreement",
               "paths_enumerated", "warnings"}
# The table prints 10 significant digits.
TABLE_RTOL = 1e-9


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["analyze", *args])
    out, err = capsys.readouterr()
    return code, out, err


def table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if cells and (cells[0].startswith("W") or cells[0].startswith("b_")) and \
                cells[0][1:2] != "-":
            rows[cells[0]] = cells
    return rows


def test_table_lists_every_weight_with_both_gradients(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(SEED_PATH))
    assert code == 0 and err == ""
    want = path_gradients(SEED)
    rows = table_rows(out)
    assert [name for name in rows if name.startswith("W")] == [f"W{k}" for k in range(1, 15)]
    for name, value in want.items():
        cells = rows[name]
        numbers = [float(c) for c in cells[-3:-1]]  # backprop, path sum (then the path count)
        np.testing.assert_allclose(numbers, [value, value], rtol=TABLE_RTOL, err_msg=name)
    assert rows["W7"][1] == "H1->H4" and rows["W13"][1] == "H4->Out"
    assert rows["W1"][-1] == "2" and rows["W13"][-1] == "1"
    assert "agreement: ok" in out
    np.testing.assert_allclose(float(out.split()[2]), forward(SEED).loss, rtol=TABLE_RTOL)


def test_json_is_the_contract_result(capsys: pytest.CaptureFixture[str]) -> None:
    from worker.engine import analyze

    code, out, err = run(capsys, str(SEED_PATH), "--format", "json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert set(result) == RESULT_KEYS
    assert result == json.loads(json.dumps(analyze(SEED)))
    gradients = {w["name"]: w["gradient"] for w in result["weights"]}
    want = path_gradients(SEED)
    np.testing.assert_allclose([gradients[f"W{k}"] for k in range(1, 15)],
                               [want[f"W{k}"] for k in range(1, 15)], rtol=1e-12)


def test_seed_w1_paths(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(SEED_PATH), "--weight", "W1", "--paths")
    assert code == 0 and err == ""
    lines = out.splitlines()
    (w1, w4, ((w13, w14),)) = SEED["weights"]
    x1 = SEED["input"][0]
    expected = {"X1 -W1-> H1 -W7-> H4 -W13-> Out": x1 * w4[0][0] * w13,
                "X1 -W1-> H1 -W10-> H5 -W14-> Out": x1 * w4[1][0] * w14}
    for route, contribution in expected.items():
        (line,) = [ln for ln in lines if ln.startswith(route + " ")]
        assert "contribution" in line
        np.testing.assert_allclose(float(line.split()[-1]), contribution, rtol=TABLE_RTOL)
    (total,) = [ln for ln in lines if ln.startswith("sum = dLoss/dW1 = ")]
    np.testing.assert_allclose(float(total.split()[4]), sum(expected.values()), rtol=TABLE_RTOL)
    if "formula:" in total:
        text = total.split("formula:", 1)[1].strip()
        symbols = {n: sympy.Symbol(n) for n in ("X1", "W7", "W10", "W13", "W14", "Out", "Y")}
        s = symbols
        answer = sympy.sign(s["Out"] - s["Y"]) * (s["W13"] * s["W7"] + s["W14"] * s["W10"]) \
            * s["X1"]
        assert sympy.simplify(sympy.sympify(text, locals=symbols) - answer) == 0


def test_subgradient_option_at_the_seeds_kink(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    spec = copy.deepcopy(SEED)
    spec["weights"] = [[[0.25, 0.5], [0.75, -0.5], [0.5, 0.25]],
                       [[0.5, 1.0, -0.25], [1.5, 0.5, 0.75]], [[1.25, -0.5]]]
    spec["target"] = [forward(spec).values[-1][0]]  # dyadic numbers: Out == Y exactly
    path = tmp_path / "kink.json"
    path.write_text(json.dumps(spec))
    for rule, sign in (("right", 1.0), ("left", -1.0), ("min_norm", 0.0)):
        code, out, err = run(capsys, str(path), "--subgradient", rule, "--format", "json")
        assert code == 0 and err == ""
        result = json.loads(out)
        want = path_gradients(spec, subgradient=rule)
        got = {w["name"]: w["gradient"] for w in result["weights"]}
        np.testing.assert_allclose(got["W1"], want["W1"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got["W13"], sign * forward(spec).values[2][0], rtol=1e-12,
                                   atol=1e-15)
        assert any("kink" in w and rule in w for w in result["warnings"])
    code, out, _ = run(capsys, str(path), "--subgradient", "right")
    assert code == 0 and "warning: kink" in out


def test_reads_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(SEED)))
    code, out, err = run(capsys, "-", "--format", "json")
    assert code == 0 and err == ""
    assert json.loads(out)["loss"] == pytest.approx(forward(SEED).loss, rel=1e-12)


def _bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"layers": [2, 1],')
    transposed = copy.deepcopy(SEED)
    transposed["weights"][1] = [[0.7, 1.0], [0.8, 1.1], [0.9, 1.2]]
    too_few = copy.deepcopy(SEED)
    too_few["weights"].pop()
    nan_weight = json.dumps(SEED).replace("0.7", "NaN")
    sigmoid = copy.deepcopy(SEED) | {"activation": "sigmoid"}
    cases = {"transposed": transposed, "too-few-matrices": too_few, "sigmoid": sigmoid}
    paths = {}
    for name, spec in cases.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(spec))
    (tmp_path / "nan.json").write_text(nan_weight)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "long-int.json").write_text('{"layers": [' + "9" * 5000 + "]}")
    return {
        "missing-file": [str(tmp_path / "nope.json")],
        "invalid-json": [str(invalid)],
        "wrong-shape": [str(paths["transposed"])],
        "wrong-count": [str(paths["too-few-matrices"])],
        "nan": [str(tmp_path / "nan.json")],
        "unknown-weight": [str(SEED_PATH), "--weight", "W99", "--paths"],
        "through-without-paths": [str(SEED_PATH), "--through", "H4"],
        "exact-sigmoid": [str(paths["sigmoid"]), "--arithmetic", "exact"],
        "max-paths": [str(SEED_PATH), "--max-paths", "3"],
        "nested-too-deeply": [str(tmp_path / "deep.json")],
        "integer-too-long": [str(tmp_path / "long-int.json")],
        "weight-name-too-long": [str(SEED_PATH), "--weight", "W" + "7" * 5000, "--paths"],
    }


BAD = ["missing-file", "invalid-json", "wrong-shape", "wrong-count", "nan", "unknown-weight",
       "through-without-paths", "exact-sigmoid", "max-paths", "nested-too-deeply",
       "integer-too-long", "weight-name-too-long"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_exits_nonzero_with_one_line(case: str, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    args = _bad_inputs(tmp_path)[case]
    code, out, err = run(capsys, *args)
    assert code != 0
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("pathgrad: ")
    assert "Traceback" not in err


def test_messages_name_the_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = _bad_inputs(tmp_path)
    expectations = {"missing-file": "nope.json", "invalid-json": "not valid JSON",
                    "wrong-shape": "weights[1]: expected shape (2, 3)",
                    "unknown-weight": "W99", "max-paths": "max_paths",
                    "nan": "weights[1][0][0]", "exact-sigmoid": "not rational"}
    for case, fragment in expectations.items():
        _, _, err = run(capsys, *args[case])
        assert fragment in err, (case, err)


def test_subprocess_json_and_error() -> None:
    done = subprocess.run([sys.executable, "-m", "pathgrad", "analyze", str(SEED_PATH),
                           "--format", "json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == RESULT_KEYS
    failed = subprocess.run([sys.executable, "-m", "pathgrad", "analyze",
                             str(ROOT / "no-such-network.json")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode != 0
    assert failed.stdout == ""
    assert len(failed.stderr.splitlines()) == 1 and "Traceback" not in failed.stderr


@pytest.mark.parametrize("args", [
    ["analyze", str(SEED_PATH), "--subgradient", "mid"],
    ["analyze", str(SEED_PATH), "--format", "xml"],
    ["analyze", str(SEED_PATH), "--max-paths", "abc"],
    ["analyze"],
    [],
], ids=["bad-choice", "bad-format", "not-an-int", "no-network", "no-command"])
def test_usage_errors_are_one_line_too(args: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args)
    out, err = capsys.readouterr()
    assert caught.value.code == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("pathgrad") and "error:" in err and "--help" in err


def test_a_reader_that_goes_away_is_not_a_traceback(tmp_path: Path) -> None:
    deep = {"layers": [3, 40, 40, 2], "activation": "tanh", "loss": "mse",
            "weights": [np.full((40, 3), 0.1).tolist(), np.full((40, 40), 0.01).tolist(),
                        np.full((2, 40), 0.1).tolist()],
            "input": [0.1, 0.2, 0.3], "target": [0.0, 1.0]}
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(deep))
    command = f"{sys.executable} -m pathgrad analyze {path} --format json | head -c 100"
    done = subprocess.run(["bash", "-c", "set -o pipefail; " + command], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert len(done.stdout) == 100 and done.stdout.startswith("{")
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
