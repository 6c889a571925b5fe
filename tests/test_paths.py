"""Per-weight path contributions (docs/CONTRACT.md section 3) and the chunked path enumeration."""

from __future__ import annotations

import base64
import copy
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reference import forward, names, path_gradients

from pathgrad import examples
from worker.engine import (
    OptionError,
    PathgradError,
    PathLimitError,
    UnknownWeightError,
    analyze,
    path_contributions,
)
from worker.engine.backprop import deltas
from worker.engine.paths import path_sums

ROOT = Path(__file__).resolve().parent.parent
SEED: dict[str, Any] = examples.load("seed")
ORDERS = ("abs_desc", "abs_asc", "index")


def random_spec(rng: np.random.Generator, layers: list[int], activation: Any = "tanh",
                loss: str = "half_sse") -> dict[str, Any]:
    return {"layers": layers,
            "weights": [rng.uniform(-1.5, 1.5, size=(n, m)).tolist()
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "biases": [rng.uniform(-0.5, 0.5, size=n).tolist() for n in layers[1:]],
            "activation": activation, "input": rng.uniform(-2, 2, size=layers[0]).tolist(),
            "target": rng.uniform(0, 1, size=layers[-1]).tolist(), "loss": loss}


def node_indices(spec: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Node name -> (layer, index), from the reference's own naming."""
    table = names(list(spec["layers"]))
    return {name: (l, i) for l, layer in enumerate(table["nodes"]) for i, name in
            enumerate(layer)}


def explicit_contribution(spec: dict[str, Any], nodes: list[str]) -> float:
    """a_u * prod(sigma' from v on) * prod(later weights) * dLoss/dOut, for one path."""
    f = forward(spec)
    where = node_indices(spec)
    (l0, u), (_, v) = where[nodes[0]], where[nodes[1]]
    product = f.values[l0][u] * f.derivatives[l0 + 1][v]
    for a, b in zip(nodes[1:], nodes[2:], strict=False):
        (_, i), (lb, k) = where[a], where[b]
        product *= f.weights[lb - 1][k][i] * f.derivatives[lb][k]
    return product * f.loss_gradient[where[nodes[-1]][1]]


def all_pages(spec: dict[str, Any], weight: str, order: str, limit: int,
              **options: Any) -> list[dict[str, Any]]:
    pages = [path_contributions(spec, weight, order=order, limit=limit, **options)]
    while pages[-1]["next_cursor"] is not None:
        assert len(pages) < 10_000
        pages.append(path_contributions(spec, weight, order=order, limit=limit,
                                        cursor=pages[-1]["next_cursor"], **options))
    return pages


def test_seed_w1_has_the_questions_two_paths() -> None:
    page = path_contributions(SEED, "W1", order="index")
    assert page["total_paths"] == 2 and page["next_cursor"] is None
    assert [p["nodes"] for p in page["paths"]] == [["X1", "H1", "H4", "Out"],
                                                   ["X1", "H1", "H5", "Out"]]
    assert [p["weights"] for p in page["paths"]] == [["W1", "W7", "W13"],
                                                     ["W1", "W10", "W14"]]
    (w1, w4, ((w13, w14),)) = SEED["weights"]
    x1 = SEED["input"][0]
    # Out > Y, so dLoss/dOut = +1: contributions W7*W13*X1 and W10*W14*X1.
    np.testing.assert_allclose([p["contribution"] for p in page["paths"]],
                               [x1 * w4[0][0] * w13, x1 * w4[1][0] * w14], rtol=1e-12)
    np.testing.assert_allclose(page["gradient"], (w13 * w4[0][0] + w14 * w4[1][0]) * x1,
                               rtol=1e-12)
    assert set(page) == {"weight", "gradient", "total_paths", "order", "abs_sum", "listed_sum",
                         "listed_abs_sum", "paths", "next_cursor"}
    assert [p["rank"] for p in page["paths"]] == [1, 2]


@pytest.mark.parametrize("layers", [[2, 3, 4, 3, 2], [3, 1, 5, 2], [4, 4]])
def test_pages_partition_sum_and_order(layers: list[int]) -> None:
    rng = np.random.default_rng(sum(layers))
    spec = random_spec(rng, layers, activation=["tanh", "leaky_relu", "sigmoid", "identity"][
        : len(layers) - 1], loss="mse")
    result = analyze(spec)
    gradients = {w["name"]: w["gradient"] for w in result["weights"]}
    table = names(layers)
    where = node_indices(spec)
    for weight, (l, _, _) in table["weights"].items():
        total = math.prod(layers[l + 1:])
        everything: dict[str, set[tuple[str, ...]]] = {}
        for order, limit in zip(ORDERS, (5, 3, 7), strict=True):
            pages = all_pages(spec, weight, order, limit)
            paths = [p for page in pages for p in page["paths"]]
            assert all(page["total_paths"] == total for page in pages)
            assert all(len(page["paths"]) == limit for page in pages[:-1])
            assert [p["rank"] for p in paths] == list(range(1, total + 1))
            keys = [tuple(p["nodes"]) for p in paths]
            assert len(set(keys)) == total  # nothing repeated ...
            everything[order] = set(keys)
            contributions = np.array([p["contribution"] for p in paths])
            np.testing.assert_allclose(contributions.sum(), gradients[weight],
                                       rtol=1e-12, atol=1e-14)
            magnitudes = np.abs(contributions)
            if order == "abs_desc":
                assert np.all(np.diff(magnitudes) <= 0)
            elif order == "abs_asc":
                assert np.all(np.diff(magnitudes) >= 0)
            else:
                index_keys = [tuple(where[n][1] for n in k) for k in keys]
                assert index_keys == sorted(index_keys)
            for p in paths[:: max(1, total // 4)]:
                np.testing.assert_allclose(p["contribution"], explicit_contribution(
                    spec, p["nodes"]), rtol=1e-12, atol=1e-15)
                assert p["weights"][0] == weight
        # ... nothing missing: all three orders list the same set, of the right size.
        assert everything["abs_desc"] == everything["abs_asc"] == everything["index"]


def test_every_contribution_matches_the_explicit_product() -> None:
    spec = random_spec(np.random.default_rng(3), [2, 3, 3, 2],
                       activation=["relu", "tanh", "identity"], loss="softmax_cross_entropy")
    for weight in ("W1", "W6", "W7", "W15", "W21"):
        page = path_contributions(spec, weight, order="index")
        for p in page["paths"]:
            np.testing.assert_allclose(p["contribution"],
                                       explicit_contribution(spec, p["nodes"]),
                                       rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(page["gradient"], path_gradients(spec)[weight],
                                   rtol=1e-12, atol=1e-15)


def test_exact_contributions_sum_exactly() -> None:
    spec = {"layers": [2, 3, 2], "weights": [[["1/3", "-2"], ["1/2", "3/4"], ["-1", "1/5"]],
                                             [["2", "-1/3", "1"], ["1/7", "1", "-3/2"]]],
            "activation": "leaky_relu", "input": ["1", "-1/2"], "target": ["0", "1"],
            "loss": "mse"}
    want = path_gradients(spec, exact=True)
    for weight in ("W1", "W4", "W9"):
        pages = all_pages(spec, weight, "abs_desc", 1, arithmetic="exact")
        total = sum(Fraction(p["contribution_exact"]) for page in pages for p in page["paths"])
        assert total == want[weight]
        assert Fraction(pages[0]["gradient_exact"]) == want[weight]
        magnitudes = [abs(Fraction(page["paths"][0]["contribution_exact"])) for page in pages]
        assert magnitudes == sorted(magnitudes, reverse=True)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": ""}, "cursor"),
    # Well-formed cursors that no page hands out: a boolean offset, an offset past the end.
    ({"cursor": base64.urlsafe_b64encode(b'{"w":"W1","o":"abs_desc","k":true}').decode()},
     "cursor"),
    ({"cursor": base64.urlsafe_b64encode(b'{"w":"W1","o":"abs_desc","k":2}').decode()},
     "cursor"),
    ({"order": "random"}, "order"),
    ({"order": "ABS_DESC"}, "order"),
    ({"limit": 0}, "limit"),
    ({"limit": -3}, "limit"),
    ({"limit": True}, "limit"),
    ({"limit": 1.5}, "limit"),
])
def test_bad_paging_arguments(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(OptionError) as caught:
        path_contributions(SEED, "W1", **kwargs)
    assert isinstance(caught.value, PathgradError)
    assert str(caught.value).startswith(f"{field}: ")


def test_cursor_of_another_weight_or_order_is_refused() -> None:
    spec = random_spec(np.random.default_rng(4), [2, 3, 3, 2])
    cursor = path_contributions(spec, "W1", limit=2)["next_cursor"]
    assert cursor is not None
    for other in ({"weight": "W2"}, {"order": "index"}):
        weight = other.get("weight", "W1")
        order = other.get("order", "abs_desc")
        with pytest.raises(OptionError, match=r"^cursor: "):
            path_contributions(spec, weight, order=order, limit=2, cursor=cursor)


@pytest.mark.parametrize("weight", ["W0", "W15", "b_X1", "b_H9", "H1", "w3"])
def test_unknown_weight(weight: str) -> None:
    with pytest.raises(UnknownWeightError) as caught:
        path_contributions(SEED, weight)
    assert repr(weight) in str(caught.value)


def test_max_paths_bounds_the_enumeration_never_a_page() -> None:
    spec = random_spec(np.random.default_rng(5), [2, 10, 10, 10, 1])
    with pytest.raises(PathLimitError):
        analyze(spec, max_paths=99)
    page = path_contributions(spec, "W1", max_paths=99, limit=1)
    assert page["total_paths"] == 100 and page["paths"][0]["rank"] == 1


def test_top_k_of_a_weight_with_216000_paths() -> None:
    layers = [2, 60, 60, 60, 60, 1]
    rng = np.random.default_rng(6)
    spec = random_spec(rng, layers, activation="tanh", loss="half_sse")
    # The explicit products of every path X1 -> H1 -> k2 -> k3 -> k4 -> Out, by broadcasting.
    f = forward(spec)
    w = [np.array(m) for m in f.weights]
    s = [None] + [np.array(d) for d in f.derivatives[1:]]
    x1 = f.values[0][0]
    head = x1 * s[1][0]
    products = (head * (w[1][:, 0] * s[2])[:, None, None]
                * (w[2] * s[3][:, None]).T[:, :, None]
                * (w[3] * s[4][:, None]).T[None, :, :]
                * (w[4][0] * s[5][0] * f.loss_gradient[0])[None, None, :])
    assert products.size == 216_000
    flat = products.ravel()

    def expected_nodes(index: int) -> list[str]:
        k2, k3, k4 = np.unravel_index(index, (60, 60, 60))
        return ["X1", "H1", f"H{61 + k2}", f"H{121 + k3}", f"H{181 + k4}", "Out"]

    for order, ranked in (("abs_desc", np.argsort(-np.abs(flat), kind="stable")),
                          ("abs_asc", np.argsort(np.abs(flat), kind="stable"))):
        page = path_contributions(spec, "W1", order=order, limit=10)
        assert page["total_paths"] == 216_000
        assert [p["nodes"] for p in page["paths"]] == [expected_nodes(k) for k in ranked[:10]]
        np.testing.assert_allclose([p["contribution"] for p in page["paths"]],
                                   flat[ranked[:10]], rtol=1e-12)
    np.testing.assert_allclose(page["gradient"], flat.sum(), rtol=1e-10)


# --- chunked enumeration ----------------------------------------------------------------------


@pytest.mark.parametrize("layers", [[3, 4, 5, 3, 2], [2, 6, 1, 4], [1, 3], [5, 2, 2, 2, 2, 3]])
def test_chunked_path_sums_equal_unchunked_and_backprop(layers: list[int]) -> None:
    # Three networks of two samples each: every sample is enumerated with its network's weights.
    rng = np.random.default_rng(len(layers) * 10 + layers[1])
    batch, samples = 3, 2
    weights = [rng.normal(size=(batch, n, m)) for m, n in zip(layers[:-1], layers[1:],
                                                               strict=True)]
    derivatives = [None] + [rng.uniform(-1, 1, size=(batch, samples, n)) for n in layers[1:]]
    loss_gradient = rng.normal(size=(batch, samples, layers[-1]))
    default = path_sums(weights, derivatives, loss_gradient)
    recursion = deltas(weights, derivatives, loss_gradient)
    for l in range(1, len(layers)):
        np.testing.assert_allclose(default[l], recursion[l], rtol=1e-12, atol=1e-12)
    for budget in (1, 2, 7, 30, 200):
        chunked = path_sums(weights, derivatives, loss_gradient, budget=budget)
        assert len(chunked) == len(default)
        for l in range(1, len(layers)):
            assert chunked[l].shape == (batch, samples, layers[l])
            np.testing.assert_allclose(chunked[l], default[l], rtol=1e-12, atol=1e-12,
                                       err_msg=f"budget={budget}, layer {l}")


def test_paging_survives_a_spec_copy() -> None:
    # A cursor is opaque but self-contained: it works on an equal spec from another request.
    spec = random_spec(np.random.default_rng(8), [2, 4, 4, 3])  # 12 paths per weight
    first = path_contributions(spec, "W2", order="index", limit=5)
    assert first["next_cursor"] is not None
    second = path_contributions(copy.deepcopy(spec), "W2", order="index", limit=5,
                                cursor=first["next_cursor"])
    assert second["paths"][0]["rank"] == 6
    assert {tuple(p["nodes"]) for p in first["paths"]}.isdisjoint(
        tuple(p["nodes"]) for p in second["paths"])


def test_ties_are_ranked_by_index_and_still_partition() -> None:
    # Every path of W1 has contribution 1: the orders can only differ by tie-breaking.
    spec = {"layers": [1, 3, 3, 2], "weights": [[[1.0]] * 3, [[1.0] * 3] * 3, [[1.0] * 3] * 2],
            "activation": "identity", "input": [1.0], "target": [0.0, 0.0], "loss": "l1"}
    index_order = [tuple(p["nodes"]) for p in path_contributions(spec, "W1", order="index")[
        "paths"]]
    assert len(index_order) == 6
    for order in ORDERS:
        paths = [tuple(p["nodes"]) for page in all_pages(spec, "W1", order, 4)
                 for p in page["paths"]]
        assert paths == index_order


def test_best_pages_with_exact_ties_merge_across_pages_as_the_index_page_orders_them() -> None:
    layers = [2, 4, 5, 6, 3]
    spec = random_spec(np.random.default_rng(40), layers, activation="tanh", loss="mse")
    spec["weights"][2][1] = spec["weights"][2][0]  # some exact ties too
    for weight in ("W1", "W8", "W30", "b_H3"):
        page = path_contributions(spec, weight, order="index")
        listed = [(tuple(p["nodes"]), p["contribution"]) for p in page["paths"]]
        values = np.array([v for _, v in listed])
        for order, ranked in (("abs_desc", np.lexsort((np.arange(len(values)),
                                                       -np.abs(values)))),
                              ("abs_asc", np.lexsort((np.arange(len(values)),
                                                      np.abs(values)))),
                              ("index", np.arange(len(values)))):
            paths = [p for page in all_pages(spec, weight, order, 4) for p in page["paths"]]
            assert [tuple(p["nodes"]) for p in paths] == [listed[k][0] for k in ranked]
            np.testing.assert_allclose([p["contribution"] for p in paths], values[ranked],
                                       rtol=1e-12, atol=1e-15)
