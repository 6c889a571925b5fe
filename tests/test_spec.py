"""The network spec: every class of bad input is refused with a message naming the field,
what was expected and what was given; names follow the seed question."""

from __future__ import annotations

import copy
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from pathgrad import examples
from worker.engine import (
    ExactArithmeticError,
    Names,
    OptionError,
    PathgradError,
    SpecError,
    UnknownWeightError,
    analyze,
    analyze_many,
    parse_options,
    parse_spec,
)

ROOT = Path(__file__).resolve().parent.parent
SEED: dict[str, Any] = examples.load("seed")


def seed() -> dict[str, Any]:
    return copy.deepcopy(SEED)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec[key] = value

    return mutate


def _set_in(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        node: Any = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _pop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.pop(key)


def _pop_last(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec[key].pop()


# (id, mutation, field the message starts with, fragments the message must contain)
BAD_SPECS: list[tuple[str, Callable[[dict[str, Any]], None], str, list[str]]] = [
    ("layers-not-list", _set("layers", 5), "layers", ["expected a list", "got 5"]),
    ("layers-too-short", _set("layers", [2]), "layers", ["at least 2", "got [2]"]),
    ("layers-non-int", _set("layers", [2, 3.0, 2, 1]), "layers[1]",
     ["expected an integer", "got 3.0"]),
    ("layers-zero", _set("layers", [2, 0, 2, 1]), "layers[1]",
     ["expected an integer from 1", "got 0"]),
    ("layers-bool", _set("layers", [2, True, 2, 1]), "layers[1]",
     ["expected an integer", "got True"]),
    ("weights-not-list", _set("weights", "x"), "weights", ["expected a list", "a string"]),
    ("weights-too-few", _pop_last("weights"), "weights", ["expected 3", "got 2"]),
    ("weights-too-many", lambda s: s["weights"].append([[1.0, 1.0]]), "weights",
     ["expected 3", "got 4"]),
    ("weights-transposed", _set_in(("weights", 1), [[1, 2], [3, 4], [5, 6]]), "weights[1]",
     ["expected shape (2, 3)", "got (3, 2)"]),
    ("weights-flat", _set_in(("weights", 0), [1.0, 2.0, 3.0]), "weights[0]",
     ["expected shape (3, 2)", "got (3,)"]),
    ("weights-ragged", _set_in(("weights", 0, 1), [1.0]), "weights[0]",
     ["expected shape (3, 2)", "ragged"]),
    ("weights-nan", _set_in(("weights", 0, 1, 1), float("nan")), "weights[0][1][1]",
     ["finite", "nan"]),
    ("weights-inf", _set_in(("weights", 2, 0, 0), float("inf")), "weights[2][0][0]",
     ["finite", "inf"]),
    ("weights-string", _set_in(("weights", 0, 1, 1), "2"), "weights[0][1][1]",
     ["expected a number", "'2'", "exact"]),
    ("weights-bool", _set_in(("weights", 0, 1, 1), True), "weights[0][1][1]",
     ["expected a number", "boolean"]),
    ("weights-null", _set_in(("weights", 2, 0, 1), None), "weights[2][0][1]",
     ["expected a number", "null"]),
    ("input-neg-inf", _set_in(("input", 0), float("-inf")), "input[0]", ["finite", "-inf"]),
    ("input-not-list", _set("input", 5), "input", ["expected a list of 2 numbers", "integer"]),
    ("input-wrong-length", _set("input", [1.0]), "input", ["expected 2 numbers", "got 1"]),
    ("target-wrong-length", _set("target", [1.0, 2.0]), "target",
     ["expected 1 numbers", "got 2"]),
    ("biases-wrong-length", _set_in(("biases", 0), [0, 0]), "biases[0]",
     ["expected 3 numbers", "got 2"]),
    ("biases-too-few", _pop_last("biases"), "biases", ["expected 3", "got 2"]),
    ("biases-too-many", lambda s: s["biases"].append([0.0]), "biases", ["expected 3", "got 4"]),
    ("biases-nan", _set_in(("biases", 1, 0), float("nan")), "biases[1][0]", ["finite", "nan"]),
    ("activation-unknown", _set("activation", "softplus"), "activation",
     ["expected one of", "relu", "got 'softplus'"]),
    ("activation-list-short", _set("activation", ["relu", "relu"]), "activation",
     ["list of 3 names", "got a list of 2"]),
    ("activation-list-bad-name", _set("activation", ["relu", "relu", "foo"]), "activation[2]",
     ["expected one of", "got 'foo'"]),
    ("activation-number", _set("activation", 3), "activation", ["expected a name"]),
    ("loss-unknown", _set("loss", "hinge"), "loss",
     ["expected one of", "softmax_cross_entropy", "got 'hinge'"]),
    # Lists and objects where a name belongs cannot even be grouped by shape.
    ("loss-list", _set("loss", ["l1"]), "loss", ["expected one of", "got ['l1']"]),
    ("loss-object", _set("loss", {}), "loss", ["expected one of", "got {}"]),
    ("activation-object", _set("activation", {}), "activation.name",
     ["expected one of", "got nothing"]),
    ("activation-object-name", _set("activation", {"name": "elu"}), "activation.name",
     ["expected one of", "got 'elu'"]),
    ("activation-object-parameter", _set("activation", {"name": "relu", "slope": 0.2}),
     "activation.slope", ["relu has no parameter 'slope'", "it takes no parameters"]),
    ("activation-object-slope", _set("activation", ["relu", {"name": "leaky_relu",
                                                             "slope": "1/5"}, "identity"]),
     "activation[1].slope", ["expected a number, got the string '1/5'", "exact"]),
    ("activation-object-slope-type", _set("activation", {"name": "leaky_relu", "slope": True}),
     "activation.slope", ["expected a number, got a boolean"]),
    ("activation-nested-list", _set("activation", ["relu", ["x"], "tanh"]), "activation[1]",
     ["expected one of"]),
    ("layers-nested-list", _set_in(("layers", 0), [2]), "layers[0]",
     ["expected an integer", "got [2]"]),
    ("unknown-field", _set("momentum", 0.9), "momentum", ["unknown field", "layers"]),
    ("missing-target", _pop("target"), "target", ["required field is missing"]),
    ("missing-layers", _pop("layers"), "layers", ["required field is missing"]),
    ("missing-weights", _pop("weights"), "weights", ["required field is missing"]),
]


@pytest.mark.parametrize(("mutate", "field", "fragments"),
                         [case[1:] for case in BAD_SPECS], ids=[case[0] for case in BAD_SPECS])
def test_bad_spec_names_field_expected_and_given(
    mutate: Callable[[dict[str, Any]], None], field: str, fragments: list[str]
) -> None:
    spec = seed()
    mutate(spec)
    for call in (lambda: analyze(spec), lambda: parse_spec(spec)):
        with pytest.raises(SpecError) as caught:
            call()
        error = caught.value
        assert isinstance(error, PathgradError)
        assert isinstance(error, ValueError)
        assert error.field == field
        assert str(error).startswith(f"{field}: ")
        for fragment in fragments:
            assert fragment in str(error), (fragment, str(error))


def test_transposed_weights_message_is_the_contract_example() -> None:
    spec = seed()
    spec["weights"][1] = [[0.7, 1.0], [0.8, 1.1], [0.9, 1.2]]
    # docs/CONTRACT.md section 4's example message, verbatim.
    with pytest.raises(SpecError, match=r"^weights\[1\]: expected shape \(2, 3\), got \(3, 2\)$"):
        analyze(spec)


@pytest.mark.parametrize(("bad", "given"), [(5, "integer"), ("abc", "string"),
                                             ({"a": 1}, "object")])
def test_matrix_that_is_not_a_list_says_what_it_is(bad: Any, given: str) -> None:
    spec = seed()
    spec["weights"][0] = bad
    with pytest.raises(SpecError, match=r"^weights\[0\]: expected shape \(3, 2\)") as caught:
        analyze(spec)
    # "a ragged list" would send the user looking for rows of unequal length.
    assert "ragged" not in str(caught.value)
    assert given in str(caught.value)


def test_spec_not_an_object() -> None:
    for bad in ([1, 2], "net", None):
        with pytest.raises(SpecError) as caught:
            analyze(bad)  # type: ignore[arg-type]
        assert caught.value.field == "network"


def test_biases_absent_or_null_mean_zeros() -> None:
    with_zeros = analyze(seed())
    absent = seed()
    del absent["biases"]
    null = seed()
    null["biases"] = None
    assert analyze(absent) == with_zeros
    assert analyze(null) == with_zeros


BAD_OPTIONS: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"momentum": 1}, "options.momentum", ["unknown option", "subgradient"]),
    ({"subgradient": "middle"}, "options.subgradient", ["min_norm", "got 'middle'"]),
    ({"arithmetic": "approx"}, "options.arithmetic", ["float, exact", "got 'approx'"]),
    ({"finite_difference": "yes"}, "options.finite_difference", ["true or false", "'yes'"]),
    ({"path_sum": 1}, "options.path_sum", ["true or false", "got 1"]),
    ({"max_paths": 0}, "options.max_paths", ["positive integer", "got 0"]),
    ({"max_paths": True}, "options.max_paths", ["positive integer", "got True"]),
    ({"max_paths": 2.5}, "options.max_paths", ["positive integer", "got 2.5"]),
    ({"rtol": -1.0}, "options.rtol", [">= 0", "got -1.0"]),
    ({"atol": float("nan")}, "options.atol", ["finite", "nan"]),
]


@pytest.mark.parametrize(("options", "field", "fragments"), BAD_OPTIONS,
                         ids=[case[1] + "=" + repr(list(case[0].values())[0])
                              for case in BAD_OPTIONS])
def test_bad_option_names_it(options: dict[str, Any], field: str, fragments: list[str]) -> None:
    for call in (lambda: analyze(seed(), **options), lambda: parse_options(options)):
        with pytest.raises(OptionError) as caught:
            call()
        assert isinstance(caught.value, PathgradError)
        assert isinstance(caught.value, ValueError)
        assert str(caught.value).startswith(f"{field}: ")
        for fragment in fragments:
            assert fragment in str(caught.value)


def test_option_defaults() -> None:
    options = parse_options()
    assert (options.subgradient, options.arithmetic, options.finite_difference,
            options.path_sum) == ("min_norm", "float", False, True)
    # The issue asks for a default enumeration limit of at least 10^8.
    assert options.max_paths >= 10**8


@pytest.mark.parametrize(("change", "field", "name"), [
    ({"activation": "sigmoid"}, "activation", "sigmoid"),
    ({"activation": "tanh"}, "activation", "tanh"),
    ({"activation": ["relu", "tanh", "identity"]}, "activation[1]", "tanh"),
    ({"loss": "softmax_cross_entropy"}, "loss", "softmax_cross_entropy"),
])
def test_exact_mode_refuses_irrational(change: dict[str, Any], field: str, name: str) -> None:
    spec = seed() | change
    with pytest.raises(ExactArithmeticError) as caught:
        analyze(spec, arithmetic="exact")
    assert isinstance(caught.value, PathgradError)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"{field}: {name} is not rational")
    # The same network is fine in float.
    assert analyze(spec)["agreement"]["ok"]


def test_exact_strings_accepted() -> None:
    spec = seed()
    spec["weights"][0] = [["3", "-0.25"], ["1/3", 2], [0.5, "7"]]
    spec["input"] = ["1/2", "-3"]
    spec["target"] = ["2/7"]
    net = parse_spec(spec, exact=True)
    assert net.exact
    assert net.weights[0].tolist() == [[Fraction(3), Fraction(-1, 4)], [Fraction(1, 3), 2],
                                       [Fraction(1, 2), 7]]
    assert net.input.tolist() == [[Fraction(1, 2), Fraction(-3)]]  # one sample: (1, n0)
    result = analyze(spec, arithmetic="exact")
    assert result["weights"][0]["value_exact"] == "3"
    assert result["weights"][1]["value_exact"] == "-1/4"
    assert result["weights"][2]["value_exact"] == "1/3"
    assert result["agreement"]["ok"]


@pytest.mark.parametrize("bad", ["1/0", "abc", "", "1.2.3", "inf"])
def test_exact_bad_strings_refused(bad: str) -> None:
    spec = seed()
    spec["weights"][0][1][0] = bad
    with pytest.raises(SpecError) as caught:
        analyze(spec, arithmetic="exact")
    assert str(caught.value).startswith("weights[0][1][0]: expected an exact number")
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize(("huge", "reason"), [
    ("1e999999999", "exponent beyond ±1000"), ("-3E-5000", "exponent beyond ±1000"),
    ("7" * 1001, "longer than 1000 characters"), ("1/" + "3" * 1000, "longer than 1000"),
])
def test_exact_strings_of_absurd_size_are_refused_at_once(huge: str, reason: str) -> None:
    spec = seed()
    spec["input"][0] = huge
    # Fraction("1e999999999") alone would build a billion-digit integer.
    with pytest.raises(SpecError, match=r"^input\[0\]: expected an exact number") as caught:
        analyze(spec, arithmetic="exact")
    assert reason in str(caught.value) and len(str(caught.value)) < 200


def test_exact_strings_up_to_the_limits_are_exact() -> None:
    spec = seed()
    spec["input"] = ["1e1000", "-1e-1000"]
    result = analyze(spec, arithmetic="exact")
    h1 = Fraction(10) ** 1000 * Fraction("0.1") - Fraction(1, 10**1000) * Fraction("0.2")
    assert Fraction(result["nodes"][0]["value_exact"]) == h1


def test_exact_refuses_nan_and_bool() -> None:
    for bad, given in ((float("nan"), "nan"), (True, "boolean")):
        spec = seed()
        spec["input"][1] = bad
        with pytest.raises(SpecError, match=r"^input\[1\]: ") as caught:
            analyze(spec, arithmetic="exact")
        assert given in str(caught.value)


def test_analyze_many_prefixes_the_spec_index() -> None:
    good, bad = seed(), seed()
    bad["weights"][1] = [[1, 2], [3, 4], [5, 6]]
    with pytest.raises(SpecError) as caught:
        analyze_many([good, good, bad, good])
    assert str(caught.value).startswith("specs[2].weights[1]: expected shape (2, 3)")
    with pytest.raises(SpecError, match=r"^specs: "):
        analyze_many(seed())  # type: ignore[arg-type]


# --- names ------------------------------------------------------------------------------


def test_seed_names() -> None:
    names = Names.of((2, 3, 2, 1))
    assert names.nodes == [["X1", "X2"], ["H1", "H2", "H3"], ["H4", "H5"], ["Out"]]
    assert names.targets == ["Y"]
    assert names.weights[0] == [["W1", "W2"], ["W3", "W4"], ["W5", "W6"]]
    assert names.weights[1] == [["W7", "W8", "W9"], ["W10", "W11", "W12"]]
    assert names.weights[2] == [["W13", "W14"]]
    assert names.biases[0][0] == "b_H1"
    assert names.biases[2] == ["b_Out"]


def test_seed_names_in_the_result() -> None:
    result = analyze(seed())
    edges = {w["name"]: (w["from"], w["to"], w["layer"]) for w in result["weights"]}
    # H1 = X1*W1 + X2*W2; W7 is H1 -> H4; W13, W14 feed Out (the seed question).
    assert edges["W1"] == ("X1", "H1", 1)
    assert edges["W2"] == ("X2", "H1", 1)
    assert edges["W7"] == ("H1", "H4", 2)
    assert edges["W10"] == ("H1", "H5", 2)
    assert edges["W13"] == ("H4", "Out", 3)
    assert edges["W14"] == ("H5", "Out", 3)
    assert [b["name"] for b in result["biases"]] == [
        "b_H1", "b_H2", "b_H3", "b_H4", "b_H5", "b_Out"]
    assert list(result["outputs"]) == ["Out"]


def test_multi_output_and_deep_names() -> None:
    names = Names.of((1, 2, 2, 3))
    assert names.nodes[1:] == [["H1", "H2"], ["H3", "H4"], ["Out1", "Out2", "Out3"]]
    assert names.targets == ["Y1", "Y2", "Y3"]
    # 2 + 4 + 6 weights, numbered row by row, layer after layer.
    assert names.weights[2] == [["W7", "W8"], ["W9", "W10"], ["W11", "W12"]]
    assert names.weight_count == 12


@pytest.mark.parametrize(("weight", "where"), [
    ("W1", (1, 0, 0)), ("W2", (1, 0, 1)), ("W6", (1, 2, 1)), ("W7", (2, 0, 0)),
    ("W12", (2, 1, 2)), ("W13", (3, 0, 0)), ("W14", (3, 0, 1)),
])
def test_locate(weight: str, where: tuple[int, int, int]) -> None:
    names = Names.of((2, 3, 2, 1))
    assert names.locate(weight) == where
    l, i, j = where
    assert names.weights[l - 1][i][j] == weight


@pytest.mark.parametrize("bad", ["W0", "W15", "w1", "W", "b_H1", "X1", "W1.0", "", "W01",
                                 "W\uff11", "W+1", " W1"])
def test_locate_unknown(bad: str) -> None:
    with pytest.raises(UnknownWeightError) as caught:
        Names.of((2, 3, 2, 1)).locate(bad)
    assert isinstance(caught.value, PathgradError)
    assert "W1..W14" in str(caught.value)
    assert repr(bad) in str(caught.value)


def test_unhashable_names_are_named_among_many_specs_too() -> None:
    bad = seed()
    bad["loss"] = ["l1"]
    with pytest.raises(SpecError, match=r"^specs\[1\]\.loss: expected one of"):
        analyze_many([seed(), bad])


def test_numpy_scalars_are_numbers() -> None:
    import numpy as np

    spec = seed()
    spec["layers"] = [np.int64(n) for n in spec["layers"]]
    spec["input"] = [np.float64(x) for x in spec["input"]]
    spec["target"] = [np.int32(1)]
    assert analyze(spec)["weights"] == analyze(seed())["weights"]


def test_fractions_are_exact_numbers() -> None:
    spec = seed()
    spec["input"] = [Fraction(1, 3), 2]
    result = analyze(spec, arithmetic="exact")
    assert result["nodes"][0]["value_exact"] == str(Fraction(1, 3) * Fraction("0.1")
                                                    + 2 * Fraction("0.2"))
