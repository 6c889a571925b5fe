"""Path pages at any size (docs/CONTRACT.md section 8), held to brute-force enumeration.

The reference lists every path with naive loops (tests/reference.py) and sorts them;
the engine must give the same pages without listing them: the best by |contribution|
(ties by index), any position in index order, across cursors, for weights and biases,
every activation and loss, in float and exact arithmetic; and the network's own
input-to-output paths, through a neuron or a weight, and each neuron's flow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import RefPath, forward, input_gradient, names, network_paths_of, paths_of
from test_properties import networks

import pathgrad
from pathgrad import examples

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def zero(exact: bool) -> Any:
    return Fraction(0) if exact else 0.0


def ranked_reference(paths: list[RefPath], order: str) -> list[RefPath]:
    if order == "index":
        return paths
    sign = -1 if order == "abs_desc" else 1
    return sorted(paths, key=lambda p: (sign * abs(p.contribution), p.indices))


def _all_pages(call: Any, limit: int) -> list[dict[str, Any]]:
    pages = [call(limit=limit, cursor=None)]
    while pages[-1]["next_cursor"] is not None:
        pages.append(call(limit=limit, cursor=pages[-1]["next_cursor"]))
    return pages


def close(a: Any, b: Any, exact: bool, scale: float) -> bool:
    if exact:
        return bool(Fraction(a) == Fraction(b))
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12 * max(1.0, scale))


def check_pages(pages: list[dict[str, Any]], reference: list[RefPath], order: str,
                exact: bool, key: Callable[[dict[str, Any]], tuple[int, ...]],
                absolute: dict[tuple[int, ...], Any] | None = None) -> None:
    """The pages list every path once, in the order's ranking, each with its (mean)
    contribution, and say on every page what the unlisted paths can still add.

    ``absolute``: each path's sum over the samples of |contribution| (a mini-batch's
    ``abs_sum`` terms); by default, one sample's |contribution|.
    """
    if absolute is None:
        absolute = {p.indices: abs(p.contribution) for p in reference}
    by_key = {p.indices: p.contribution for p in reference}
    listed = [path for page in pages for path in page["paths"]]
    assert [p["rank"] for p in listed] == list(range(1, len(reference) + 1))
    keys = [key(p) for p in listed]
    assert sorted(keys) == sorted(by_key), "every path once"
    scale = float(sum(absolute.values(), start=zero(exact)))
    for path, index in zip(listed, keys, strict=True):
        value = path["contribution_exact"] if exact else path["contribution"]
        assert close(value, by_key[index], exact, scale), (path, by_key[index])
    expected = [p.indices for p in ranked_reference(reference, order)]
    if exact or order == "index":
        assert keys == expected  # ties by index, exactly
    else:  # the brute-force order, where rounding cannot swap two paths
        magnitudes = [abs(float(by_key[k])) for k in keys]
        tolerance = 1e-12 * max(1.0, scale)
        steps = np.diff(magnitudes) * (-1 if order == "abs_desc" else 1)
        assert (steps >= -tolerance).all(), magnitudes
        clear = [i for i in range(len(keys)) if all(
            abs(magnitudes[i] - magnitudes[m]) > tolerance for m in range(len(keys)) if m != i)]
        assert [keys[i] for i in clear] == [expected[i] for i in clear]
    total = sum((p.contribution for p in reference), start=zero(exact))
    abs_total = sum(absolute.values(), start=zero(exact))
    plain_abs = sum((abs(p.contribution) for p in reference), start=zero(exact))
    suffix = "_exact" if exact else ""
    seen = 0
    for page in pages:
        seen += len(page["paths"])
        prefix = keys[:seen]
        get: Callable[[str], Any] = lambda name, page=page: page[name + suffix]  # noqa: E731
        assert close(get("abs_sum"), abs_total, exact, scale)
        # Each sample's |contribution| summed: at least the |mean| of every path.
        assert Fraction(get("abs_sum")) >= Fraction(plain_abs) - Fraction(1e-12) * max(1, scale)
        listed_sum = sum((by_key[k] for k in prefix), start=zero(exact))
        assert close(get("listed_sum"), listed_sum, exact, scale)
        listed_abs = sum((absolute[k] for k in prefix), start=zero(exact))
        assert close(get("listed_abs_sum"), listed_abs, exact, scale)
        if "gradient" in page:
            assert close(get("gradient"), total, exact, scale)
        bound = Fraction(get("abs_sum")) - Fraction(get("listed_abs_sum"))
        gap = abs(Fraction(total) - Fraction(get("listed_sum")))
        assert gap <= bound + (0 if exact else Fraction(1e-9) * max(1, Fraction(scale)))
    if exact:  # the certified bound without slack; and the last page has listed it all
        assert Fraction(pages[-1]["listed_sum_exact"]) == total


def _parameters(spec: dict[str, Any]) -> list[tuple[str, tuple[int, int, int | None]]]:
    table = names(list(spec["layers"]))
    found = [(name, where) for name, where in table["weights"].items()]
    found += [(name, (l, i, None)) for name, (l, i) in table["biases"].items()]
    return found


@SETTINGS
@given(spec=networks(), exact=st.booleans(),
       order=st.sampled_from(["abs_desc", "abs_asc", "index"]),
       limit=st.sampled_from([1, 3, 10]), data=st.data())
def test_parameter_pages_are_the_sorted_enumeration(
    spec: dict[str, Any], exact: bool, order: str, limit: int, data: st.DataObject
) -> None:
    if exact:
        spec = data.draw(networks(exact=True))
    options = {"arithmetic": "exact"} if exact else {}
    f = forward(spec, exact=exact)
    name, (l, i, j) = data.draw(st.sampled_from(_parameters(spec)))
    reference = paths_of(f, l, i, j)

    def call(limit: int, cursor: str | None) -> dict[str, Any]:
        return dict(pathgrad.path_contributions(spec, name, order=order, limit=limit,
                                                cursor=cursor, **options))

    pages = _all_pages(call, limit)
    assert all(page["total_paths"] == len(reference) for page in pages)
    layer_names = names(list(spec["layers"]))["nodes"]

    def key(path: dict[str, Any]) -> tuple[int, ...]:
        nodes = path["nodes"]
        tail = [layer_names[l + t].index(n) for t, n in enumerate(nodes[-(len(spec["layers"])
                                                                         - l):])]
        return (-1 if j is None else j, *tail)

    check_pages(pages, reference, order, exact, key)


@SETTINGS
@given(spec=networks(), order=st.sampled_from(["abs_desc", "abs_asc", "index"]),
       limit=st.sampled_from([1, 3, 10]), data=st.data())
def test_network_pages_are_the_sorted_enumeration(
    spec: dict[str, Any], order: str, limit: int, data: st.DataObject
) -> None:
    f = forward(spec)
    table = names(list(spec["layers"]))
    through = data.draw(st.sampled_from([None, *[n for layer in table["nodes"] for n in layer],
                                         *table["weights"]]))
    keep: dict[int, int] = {}
    if through in table["weights"]:
        l, i, j = table["weights"][through]
        keep = {l - 1: j, l: i}
    elif through is not None:
        keep = {l: layer.index(through) for l, layer in enumerate(table["nodes"])
                if through in layer}
    reference = network_paths_of(f, keep)

    def call(limit: int, cursor: str | None) -> dict[str, Any]:
        return dict(pathgrad.top_paths(spec, through=through, order=order, limit=limit,
                                       cursor=cursor))

    pages = _all_pages(call, limit)

    def key(path: dict[str, Any]) -> tuple[int, ...]:
        return tuple(table["nodes"][l].index(n) for l, n in enumerate(path["nodes"]))

    check_pages(pages, reference, order, False, key)
    if through is None:  # every path: they add up to sum_i x_i dLoss/dx_i
        x = np.array(spec["input"], dtype=float)
        gradient = input_gradient(spec)
        assert math.isclose(sum(p.contribution for p in reference), float(x @ gradient),
                            rel_tol=1e-6, abs_tol=1e-6)


@SETTINGS
@given(spec=networks(), data=st.data())
def test_a_neurons_flow_is_the_sum_of_its_paths(spec: dict[str, Any],
                                                 data: st.DataObject) -> None:
    f = forward(spec)
    table = names(list(spec["layers"]))
    l, layer = data.draw(st.sampled_from(list(enumerate(table["nodes"]))))
    i = data.draw(st.integers(0, len(layer) - 1))
    reference = network_paths_of(f, {l: i})
    flow = pathgrad.node_flow(spec, layer[i])
    scale = sum(abs(p.contribution) for p in reference)
    assert flow["paths_through"] == len(reference)
    assert close(flow["flow"], sum(p.contribution for p in reference), False, scale)
    assert close(flow["abs_flow"], scale, False, scale)
    assert close(flow["value"], f.values[l][i], False, abs(f.values[l][i]))


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("order", ["abs_desc", "abs_asc"])
def test_ties_and_zeros_come_in_index_order(exact: bool, order: str) -> None:
    # Weights of +-1 and a relu that silences half the neurons: contributions repeat,
    # and many are exactly 0; every tie must be broken by index, as the reference does.
    layers = [2, 3, 3, 3, 2]
    rng = np.random.default_rng(3)
    spec = {"layers": layers, "activation": "relu", "loss": "half_sse",
            "weights": [rng.choice([-1, 1], size=(n, m)).tolist()
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "input": [1, 2], "target": [0, 1]}
    options = {"arithmetic": "exact"} if exact else {}
    f = forward(spec, exact=exact)
    for name, (l, i, j) in _parameters(spec)[:8]:
        reference = paths_of(f, l, i, j)
        zeros = sum(1 for p in reference if p.contribution == 0)
        page = pathgrad.path_contributions(spec, name, order=order, **options)
        ranked = ranked_reference(reference, order)
        got = [p["contribution"] for p in page["paths"]]
        assert got == [float(p.contribution) for p in ranked]
        assert zeros < len(reference) or all(v == 0 for v in got)


def test_the_seed_pages_say_what_the_rest_can_add() -> None:
    seed = examples.load("seed")
    page = pathgrad.path_contributions(seed, "W1", limit=1)
    assert page["paths"][0]["nodes"] == ["X1", "H1", "H5", "Out"]
    assert page["listed_sum"] == pytest.approx(1.4) and page["abs_sum"] == pytest.approx(2.31)
    rest = pathgrad.path_contributions(seed, "W1", limit=1, cursor=page["next_cursor"])
    assert rest["paths"][0]["rank"] == 2 and rest["next_cursor"] is None
    assert rest["listed_sum"] == pytest.approx(rest["gradient"])
    bias = pathgrad.path_contributions(seed, "b_H4")
    assert bias["paths"] == [{"rank": 1, "nodes": ["H4", "Out"], "weights": ["W13"],
                              "contribution": pytest.approx(1.3)}]
    assert bias["gradient"] == pytest.approx(1.3)


def test_a_weight_of_billions_of_paths_pages_without_enumeration() -> None:
    # [64, 128 x 5, 10]: W1 has 128^4 * 10 = 2,684,354,560 paths.
    layers = [64] + [128] * 5 + [10]
    rng = np.random.default_rng(0)
    spec = {"layers": layers, "activation": "tanh", "loss": "softmax_cross_entropy",
            "weights": [rng.normal(0, 1 / math.sqrt(m), (n, m))
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "input": rng.normal(size=64), "target": np.eye(10)[3]}
    page = pathgrad.path_contributions(spec, "W1", limit=10, path_sum=False)
    assert page["total_paths"] == 128**4 * 10
    values = [abs(p["contribution"]) for p in page["paths"]]
    assert values == sorted(values, reverse=True) and len(values) == 10
    # Each listed path is the product it claims, of the network's own numbers: the
    # input, the later weights (not W1's own), every derivative from H1 on, dLoss/dOut.
    analysis = pathgrad.analyze(spec, path_sum=False)
    nodes = {n["name"]: n for n in analysis["nodes"]}
    weights = {w["name"]: w["value"] for w in analysis["weights"]}
    x, gradient = spec["input"], _softmax_gradient(analysis, spec["target"])
    for path in page["paths"]:
        product = x[0] * math.prod(weights[w] for w in path["weights"][1:])
        product *= math.prod(nodes[n]["derivative"] for n in path["nodes"][1:])
        product *= gradient[path["nodes"][-1]]
        assert path["contribution"] == pytest.approx(product, rel=1e-9)
    assert abs(page["gradient"] - page["listed_sum"]) <= page["abs_sum"] - page["listed_abs_sum"]
    # Deep in index order, at no cost: page 10^9.
    deep = pathgrad.path_contributions(spec, "W1", order="index", limit=2, path_sum=False,
                                       cursor=_cursor_at(spec, 10**9))
    assert [p["rank"] for p in deep["paths"]] == [10**9 + 1, 10**9 + 2]


def _softmax_gradient(analysis: dict[str, Any], target: Any) -> dict[str, float]:
    outputs = np.array(list(analysis["outputs"].values()))
    soft = np.exp(outputs - outputs.max())
    soft /= soft.sum()
    return dict(zip(analysis["outputs"], soft * np.sum(target) - np.asarray(target),
                    strict=True))


def _cursor_at(spec: dict[str, Any], offset: int) -> str:
    import base64
    import json

    raw = json.dumps({"q": "W1", "o": "index", "k": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_bad_queries_name_what_is_wrong() -> None:
    seed = examples.load("seed")
    with pytest.raises(pathgrad.UnknownWeightError, match="b_X1"):
        pathgrad.path_contributions(seed, "b_X1")
    with pytest.raises(pathgrad.UnknownWeightError, match="node: expected a neuron"):
        pathgrad.top_paths(seed, through="H9")
    with pytest.raises(pathgrad.OptionError, match="output: expected an output"):
        pathgrad.top_paths(seed, output="H4")
    with pytest.raises(pathgrad.OptionError, match="cursor"):
        page = pathgrad.top_paths(seed, through="H4", limit=1)
        pathgrad.top_paths(seed, through="H5", limit=1, cursor=page["next_cursor"])
    with pytest.raises(pathgrad.OptionError, match="limit"):
        pathgrad.path_contributions(seed, "W1", limit=0)
