"""Exercises: deterministic networks, kink-free asked gradients, an exact answer key."""

from __future__ import annotations

import itertools
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import sympy

from pathgrad.cli import main
from worker.coursework.exercises import ExerciseError, exercise, exercises, variant_seed
from worker.engine import PathgradError, analyze
from worker.engine.names import Names

SEED_SHAPE = (2, 3, 2, 1)


# --- an independent reference: forward pass and per-path products with Fractions -------


def _act(name: str, z: Fraction) -> tuple[Fraction, Fraction]:
    """Value and derivative (away from kinks) of a rational activation."""
    if name == "identity":
        return z, Fraction(1)
    low = Fraction(0) if name == "relu" else Fraction(1, 100)
    return (z, Fraction(1)) if z > 0 else (z * low, low)


def _reference(spec: dict[str, Any]) -> dict[str, Any]:
    """Pre-activations, values, derivatives and dLoss/dOut, computed naively."""
    layers = spec["layers"]
    depth = len(layers) - 1
    acts = [spec["activation"]] * depth if isinstance(spec["activation"], str) \
        else spec["activation"]
    values = [[Fraction(str(x)) for x in spec["input"]]]
    pre: list[list[Fraction]] = [[]]
    slopes: list[list[Fraction]] = [[]]
    for l in range(1, depth + 1):
        w = spec["weights"][l - 1]
        z = [sum((Fraction(str(w[i][j])) * values[-1][j] for j in range(layers[l - 1])),
                 Fraction(0)) for i in range(layers[l])]
        pairs = [_act(acts[l - 1], v) for v in z]
        pre.append(z)
        values.append([v for v, _ in pairs])
        slopes.append([d for _, d in pairs])
    diff = [o - Fraction(str(y)) for o, y in zip(values[-1], spec["target"], strict=True)]
    if spec["loss"] == "l1":
        dloss = [Fraction(1) if d > 0 else Fraction(-1) for d in diff]
    elif spec["loss"] == "mse":
        dloss = [2 * d / len(diff) for d in diff]
    else:
        dloss = diff
    return {"pre": pre, "values": values, "slopes": slopes, "dloss": dloss, "diff": diff}


def _paths(spec: dict[str, Any], weight: str) -> list[tuple[list[str], Fraction]]:
    """Every path of the weight (lexicographic) and its contribution, one product each."""
    layers = tuple(spec["layers"])
    names = Names.of(layers)
    ref = _reference(spec)
    l, i, j = names.locate(weight)
    found = []
    for tail in itertools.product(*(range(n) for n in layers[l + 1:])):
        chain = [i, *tail]
        term = ref["values"][l - 1][j] * ref["slopes"][l][i]
        for m, (src, dst) in enumerate(itertools.pairwise(chain), start=l + 1):
            term *= Fraction(str(spec["weights"][m - 1][dst][src])) * ref["slopes"][m][dst]
        term *= ref["dloss"][chain[-1]]
        nodes = [names.nodes[l - 1][j]] + [names.nodes[m][k]
                                           for m, k in enumerate(chain, start=l)]
        found.append((nodes, term))
    return found


# --- determinism ------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_exercise() -> None:
    first = exercise(layers=SEED_SHAPE, seed=7, ask=("W1", "W7"))
    second = exercise(layers=[2, 3, 2, 1], seed=7, ask=["W1", "W7"])
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["seed"] == 7


def test_seed_7_is_pinned_so_every_machine_draws_the_same_network() -> None:
    # Drawn with random.Random(7).random() only; a change here changes every handed-out sheet.
    # (The first network seed 7 draws is redrawn: see test_distractors.py.)
    drawn = exercise(layers=SEED_SHAPE, seed=7, ask=("W1", "W7"))
    assert drawn["network"] == {
        "layers": [2, 3, 2, 1],
        "weights": [[[-1, 1], [-3, 2], [1, 3]], [[2, -2, -1], [2, -3, -1]], [[-2, -3]]],
        "biases": [[0, 0, 0], [0, 0], [0]],
        "activation": "identity",
        "input": [-3, 2],
        "target": [-3],
        "loss": "l1",
    }
    assert drawn["draws"] == 5


def test_different_seeds_give_different_networks() -> None:
    networks = {json.dumps(exercise(layers=SEED_SHAPE, seed=s)["network"]) for s in range(20)}
    assert len(networks) == 20


# --- the answer key ---------------------------------------------------------------------


CASES = [
    {"layers": SEED_SHAPE, "ask": ("W1", "W7", "W13")},
    {"layers": SEED_SHAPE, "activation": "relu", "ask": ("W1", "W8")},
    {"layers": (3, 2, 2), "activation": "leaky_relu", "loss": "mse", "ask": ("W2", "W9"),
     "fractions": True},
    {"layers": (2, 2, 2, 2), "activation": ["relu", "leaky_relu", "identity"],
     "loss": "half_sse", "ask": ("W3",), "integers": (-2, 4)},
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("seed", [0, 1, 7, 123])
def test_the_key_matches_analyze_and_an_independent_path_sum(
    case: dict[str, Any], seed: int
) -> None:
    drawn = exercise(seed=seed, **case)
    spec = drawn["network"]
    result = analyze(spec, arithmetic="exact")
    by_name = {w["name"]: w for w in result["weights"]}
    assert list(drawn["answers"]) == list(case["ask"])
    for weight, answer in drawn["answers"].items():
        paths = _paths(spec, weight)
        total = sum((term for _, term in paths), Fraction(0))
        assert Fraction(answer["value"]) == total == Fraction(by_name[weight]["gradient_exact"])
        assert answer["float"] == float(total)
        assert answer["paths"] == ["→".join(nodes) for nodes, _ in paths]
        assert [Fraction(c) for c in answer["contributions"]] == [term for _, term in paths]


@pytest.mark.parametrize("case", CASES)
def test_the_formula_evaluates_to_the_answer(case: dict[str, Any]) -> None:
    drawn = exercise(seed=3, **case)
    spec = drawn["network"]
    ref = _reference(spec)
    names = Names.of(tuple(spec["layers"]))
    values: dict[str, Any] = {}
    for l, layer in enumerate(names.nodes):
        for k, node in enumerate(layer):
            values[node] = sympy.Rational(str(ref["values"][l][k]))
            if l:
                values[f"dact_{node}"] = sympy.Rational(str(ref["slopes"][l][k]))
    for l, matrix in enumerate(names.weights):
        for i, row in enumerate(matrix):
            for j, weight in enumerate(row):
                values[weight] = sympy.Rational(str(spec["weights"][l][i][j]))
    for y, target in zip(names.targets, spec["target"], strict=True):
        values[y] = sympy.Rational(str(target))
    for weight, answer in drawn["answers"].items():
        expr = sympy.sympify(answer["formula"])
        assert expr.subs({sympy.Symbol(k): v for k, v in values.items()}) == \
            sympy.Rational(answer["value"]), weight


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_asked_gradients_avoid_kinks_and_are_not_all_zero(activation: str) -> None:
    # Integers -1..1 make kinks common: every one of these had to be redrawn around them.
    for seed in range(40):
        drawn = exercise(layers=(2, 2, 2, 1), activation=activation, seed=seed,
                         ask=("W1", "W6"), integers=(-1, 1))
        result = analyze(drawn["network"], arithmetic="exact")
        pre = {n["name"]: Fraction(n["pre_exact"]) for n in result["nodes"]}
        # Paths of W1 (X1 -> H1) run through H1, H3, H4, Out; of W6 (H2 -> H3) through H3, Out.
        assert all(pre[node] != 0 for node in ("H1", "H3", "H4", "Out")), (seed, pre)
        assert Fraction(result["outputs_exact"]["Out"]) != Fraction(drawn["network"]["target"][0])
        assert any(Fraction(a["value"]) != 0 for a in drawn["answers"].values())
        for warning in result["warnings"]:
            assert not any(f" {node} " in warning for node in ("H1", "H3", "H4", "Out"))


# --- the numbers ------------------------------------------------------------------------


def _numbers(network: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    weights = [v for matrix in network["weights"] for row in matrix for v in row]
    return weights, network["input"], network["target"]


@pytest.mark.parametrize("bounds", [(-3, 3), (1, 4), (-2, 0), (-20, 20)])
def test_integers_stay_within_the_range_and_weights_and_inputs_are_nonzero(
    bounds: tuple[int, int],
) -> None:
    for variant in exercises(10, layers=SEED_SHAPE, seed=5, integers=bounds,
                             loss="half_sse"):
        weights, inputs, target = _numbers(variant["network"])
        for value in weights + inputs + target:
            assert type(value) is int and bounds[0] <= value <= bounds[1]
        assert 0 not in weights + inputs


def test_fractions_draw_halves_within_the_range() -> None:
    seen: set[Fraction] = set()
    for variant in exercises(10, layers=SEED_SHAPE, seed=5, integers=(-2, 2), fractions=True):
        for value in [v for group in _numbers(variant["network"]) for v in group]:
            number = Fraction(str(value))
            assert -2 <= number <= 2 and number.denominator in (1, 2)
            assert type(value) is (int if number.denominator == 1 else float)
            seen.add(number)
    assert any(n.denominator == 2 for n in seen)
    result = analyze(variant["network"])  # halves are plain JSON floats: float mode reads them
    assert result["agreement"]["ok"]


# --- variants ---------------------------------------------------------------------------


def test_count_gives_distinct_variants_each_reproducible_from_its_seed() -> None:
    drawn = exercises(12, layers=SEED_SHAPE, seed=7, ask=("W1", "W7"))
    assert len(drawn) == 12
    assert len({json.dumps(d["network"]) for d in drawn}) == 12
    assert drawn[0] == exercise(layers=SEED_SHAPE, seed=7, ask=("W1", "W7"))
    assert drawn[1]["seed"] == variant_seed(7, 1)
    for variant in drawn[1:4]:
        assert exercise(layers=SEED_SHAPE, seed=variant["seed"], ask=("W1", "W7")) == variant
    assert exercises(12, layers=SEED_SHAPE, seed=7, ask=("W1", "W7")) == drawn


def test_a_range_too_small_for_count_is_refused() -> None:
    with pytest.raises(ExerciseError, match=r"^count: only \d+ distinct networks"):
        exercises(20, layers=(1, 1), loss="half_sse", integers=(1, 2))


# --- the question -----------------------------------------------------------------------


def test_the_question_names_everything_as_the_seed_question_does() -> None:
    drawn = exercise(layers=SEED_SHAPE, seed=7, ask=("W1", "W7"))
    text = drawn["question"]
    network = drawn["network"]
    for line in ("$H_1 = X_1W_1 + X_2W_2$", "$H_4 = H_1W_7 + H_2W_8 + H_3W_9$",
                 "$Out = H_4W_{13} + H_5W_{14}$", "$Delta = Out - Y$", "$Loss = abs(Delta)$"):
        assert line in text
    assert "identity activation" in text and "seed 7" in text
    assert f"X1 = {network['input'][0]}, X2 = {network['input'][1]}" in text
    assert f"Y = {network['target'][0]}" in text
    names = Names.of(SEED_SHAPE)
    for l, matrix in enumerate(names.weights):
        for i, row in enumerate(matrix):
            for j, weight in enumerate(row):
                value = network["weights"][l][i][j]
                assert re.search(rf"\b{weight} = {value}(,|$)", text, re.MULTILINE), weight
    assert text.rstrip().endswith("What is dLoss/dW1?\n\nWhat is dLoss/dW7?")


def test_the_question_describes_activations_losses_and_fractions() -> None:
    drawn = exercise(layers=(2, 2, 2), activation=["relu", "identity"], loss="mse",
                     ask=("W1",), fractions=True, seed=2, integers=(-3, 3))
    text = drawn["question"]
    assert r"$H_1 = \mathrm{relu}(X_1W_1 + X_2W_2)$" in text
    assert "$Out_1 = H_1W_5 + H_2W_6$" in text
    assert r"$Loss = \frac{1}{2}((Out_1 - Y_1)^2 + (Out_2 - Y_2)^2)$" in text
    halves = [v for group in _numbers(drawn["network"]) for v in group if isinstance(v, float)]
    for value in halves:
        assert f" = {Fraction(str(value))}" in text


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"layers": [2]}, "layers"),
    ({"layers": [2, 3, 2, 2, 2, 2, 1]}, "layers"),
    ({"layers": [2, 11]}, "layers[1]"),
    ({"layers": [2, 0]}, "layers[1]"),
    ({"layers": [2, 10, 10, 10, 10]}, "layers"),  # 11,110 paths for the exact key
    ({"layers": "2,1"}, "layers"),
    ({"layers": [2, 1], "activation": "tanh"}, "activation"),
    ({"layers": [2, 2, 1], "activation": ["relu", "sigmoid"]}, "activation[1]"),
    ({"layers": [2, 2, 1], "activation": ["relu"]}, "activation"),
    ({"layers": [2, 1], "loss": "softmax_cross_entropy"}, "loss"),
    ({"layers": [2, 1], "ask": []}, "ask"),
    ({"layers": [2, 1], "ask": ["W3"]}, "ask[0]"),
    ({"layers": [2, 1], "ask": ["W1", "b_Out"]}, "ask[1]"),
    ({"layers": [2, 5, 5, 5, 1], "ask": ["W1"], "seed": 0}, None),
    ({"layers": [2, 3, 9, 9, 1], "ask": ["W1"]}, "ask[0]"),  # 81 paths
    ({"layers": [2, 1], "integers": (3, -3)}, "integers"),
    ({"layers": [2, 1], "integers": (0, 0)}, "integers"),
    ({"layers": [2, 1], "integers": (-21, 3)}, "integers"),
    ({"layers": [2, 1], "integers": (1.5, 3)}, "integers"),
    ({"layers": [2, 1], "fractions": "yes"}, "fractions"),
    ({"layers": [2, 1], "seed": -1}, "seed"),
    ({"layers": [2, 1], "seed": 2**53}, "seed"),
])
def test_bad_input_is_refused_naming_the_field(kwargs: dict[str, Any], field: str | None) -> None:
    if field is None:  # 25 paths: within the limit, so drawn
        assert exercise(**kwargs)["answers"]["W1"]["paths"]
        return
    with pytest.raises(ExerciseError) as caught:
        exercise(**kwargs)
    assert isinstance(caught.value, PathgradError) and isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: expected") or field.startswith("ask")


@pytest.mark.parametrize("count", [0, 501, True, 2.0])
def test_a_bad_count_is_refused(count: Any) -> None:
    with pytest.raises(ExerciseError, match="^count: expected an integer from 1 to 500"):
        exercises(count, layers=[2, 1])


# --- the command line -------------------------------------------------------------------


def test_cli_prints_network_question_and_key(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["exercise", "--layers", "2,3,2,1", "--activation", "identity", "--loss", "l1",
                 "--seed", "7", "--ask", "W1,W7", "--integers", "-3..3"])
    out = capsys.readouterr().out
    assert code == 0
    expected = exercise(layers=SEED_SHAPE, seed=7, ask=("W1", "W7"))
    network_text = out.split("==> variant-1/network.json <==\n")[1].split("\n==> ")[0]
    assert json.loads(network_text) == expected["network"]
    assert expected["question"] in out
    key_text = out.split("==> variant-1/answers.json <==\n")[1]
    assert json.loads(key_text) == expected["answers"]


def test_cli_json_format_is_the_http_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["exercise", "--layers", "2,2,1", "--activation", "relu,identity", "--seed", "3",
                 "--integers=-2..2", "--fractions", "--count", "3", "--format", "json"])
    assert code == 0
    body = json.loads(capsys.readouterr().out)
    assert body == {"exercises": exercises(3, layers=[2, 2, 1], activation=["relu", "identity"],
                                           seed=3, integers=(-2, 2), fractions=True)}


def test_cli_out_writes_one_folder_per_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sheets"
    code = main(["exercise", "--layers", "2,3,2,1", "--seed", "11", "--ask", "W1,W7",
                 "--count", "12", "--out", str(out)])
    assert code == 0
    assert "wrote 12 exercises" in capsys.readouterr().out
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == [f"variant-{i:02d}" for i in range(1, 13)]
    index = json.loads((out / "index.json").read_text())
    networks = set()
    for entry in index:
        folder = out / entry["variant"]
        assert sorted(p.name for p in folder.iterdir()) == [
            "answers.json", "network.json", "question.md"]
        network = json.loads((folder / "network.json").read_text())
        again = exercise(layers=SEED_SHAPE, seed=entry["seed"], ask=("W1", "W7"))
        assert network == again["network"]
        assert json.loads((folder / "answers.json").read_text()) == again["answers"]
        assert (folder / "question.md").read_text() == again["question"] + "\n"
        networks.add(json.dumps(network))
    assert len(networks) == 12


@pytest.mark.parametrize(("argv", "message"), [
    (["--layers", "2,11"], "pathgrad: error: layers[1]: expected an integer from 1 to 10"),
    (["--layers", "2,1", "--activation", "tanh"], "pathgrad: error: activation: expected"),
    (["--layers", "2,1", "--ask", "W9"], "pathgrad: error: ask[0]: expected a weight name"),
    (["--layers", "2,1", "--count", "0"], "pathgrad: error: count: expected an integer"),
    (["--layers", "2,1", "--seed", "-4"], "pathgrad: error: seed: expected an integer"),
])
def test_cli_bad_values_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exercise", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message) and captured.err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    [],
    ["--layers", "2,x"],
    ["--layers", "2,1", "--integers", "3"],
    ["--layers", "2,1", "--loss", "softmax_cross_entropy"],
])
def test_cli_bad_flags_are_argparse_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["exercise", *argv])
    assert caught.value.code == 2
    assert "pathgrad exercise: error:" in capsys.readouterr().err


def test_cli_unwritable_out_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["exercise", "--layers", "2,1", "--out", str(blocker)]) == 2
    assert capsys.readouterr().err.startswith(f"pathgrad: error: --out {blocker}:")
