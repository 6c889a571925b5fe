"""Mini-batches and activation objects (docs/CONTRACT.md section 10), held to per-sample references.

A mini-batch's loss is the mean of its samples' losses, so everything pathgrad says of
it is a mean of one-sample quantities: each gradient, each path's contribution (and the
per-sample |contribution| behind ``abs_sum``), a neuron's delta. The references here are
the naive one-sample ones of tests/reference.py, run on each sample's own one-sample spec
(:func:`reference.split_samples`) and averaged; the path rankings are held to brute-force
sorting, and the bounded best-first search of :mod:`worker.engine.ranking` is driven
directly on chains too small and too large for the engine to list.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import (
    RefForward,
    RefPath,
    forward,
    input_gradient,
    names,
    network_paths_of,
    path_gradients,
    paths_of,
    split_samples,
)
from test_properties import PATH_ATOL, PATH_RTOL, _magnitudes
from test_topk import check_pages, close, zero

import pathgrad
from worker.coursework.grading import AnswerKey
from worker.engine import analysis, ranking
from worker.engine.batch import pack, parse_batches, stack, unpack
from worker.engine.chains import BLOCK, Chain
from worker.engine.contributions import _network_chain, _parameter_chain
from worker.engine.forward import forward as engine_forward
from worker.engine.options import parse_options
from worker.engine.pipeline import analyze_batches
from worker.engine.spec import MAX_SAMPLES, parse_spec

ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]
LOSSES = ["l1", "mse", "half_sse", "softmax_cross_entropy"]
RATIONAL_ACTIVATIONS = ["identity", "relu", "leaky_relu"]
RATIONAL_LOSSES = ["l1", "mse", "half_sse"]
RULES = ["min_norm", "left", "right"]
ORDERS = ["abs_desc", "abs_asc", "index"]

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --- random mini-batches ------------------------------------------------------------------


def _numbers(exact: bool) -> st.SearchStrategy[Any]:
    """Spec numbers; a grid of eighths too, whose sums are exact (true ties and kinks)."""
    if exact:
        return st.one_of(st.fractions(-2, 2, max_denominator=8).map(str),
                         st.sampled_from([0, 1, -1, "1/2", "-3/4"]))
    return st.one_of(st.floats(-2, 2, allow_nan=False, allow_infinity=False),
                     st.integers(-16, 16).map(lambda k: k / 8))


def _activations(exact: bool) -> st.SearchStrategy[Any]:
    """A name, or an object: leaky_relu with a random slope, or any name without one."""
    kinds = RATIONAL_ACTIVATIONS if exact else ACTIVATIONS
    slope: st.SearchStrategy[Any]
    if exact:
        slope = st.one_of(st.fractions(-1, 2, max_denominator=10).map(str),
                          st.sampled_from(["1/5", 0.2, 1, 0, "0.3"]))
    else:
        slope = st.one_of(st.floats(-1, 2, allow_nan=False, allow_infinity=False),
                          st.sampled_from([0.2, 0, 1]))
    return st.one_of(
        st.sampled_from(kinds),
        slope.map(lambda s: {"name": "leaky_relu", "slope": s}),
        st.sampled_from(kinds).map(lambda name: {"name": name}),
    )


@st.composite
def minibatches(draw: st.DrawFn, exact: bool = False, min_samples: int = 1,
                max_samples: int = 6) -> dict[str, Any]:
    """A network (1-4 layers deep, 1-4 wide) with N samples: ``input`` N x n0 (or, for one
    sample, sometimes the one-sample form), ``target`` alike."""
    depth = draw(st.integers(1, 4))
    layers = draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1))
    number = _numbers(exact)
    one = _activations(exact)
    activation = draw(st.one_of(one, st.lists(one, min_size=depth, max_size=depth)))
    loss = draw(st.sampled_from(RATIONAL_LOSSES if exact else LOSSES))
    samples = draw(st.integers(min_samples, max_samples))
    batched = samples > 1 or draw(st.booleans())
    inputs = [[draw(number) for _ in range(layers[0])] for _ in range(samples)]
    targets = [[draw(number) for _ in range(layers[-1])] for _ in range(samples)]
    if loss == "softmax_cross_entropy":  # target distributions
        targets = [[(abs(v) + 0.1) / sum(abs(u) + 0.1 for u in row) for v in row]
                   for row in targets]
    spec: dict[str, Any] = {
        "layers": layers,
        "weights": [[[draw(number) for _ in range(m)] for _ in range(n)]
                    for m, n in zip(layers[:-1], layers[1:], strict=True)],
        "activation": activation,
        "input": inputs if batched else inputs[0],
        "target": targets if batched else targets[0],
        "loss": loss,
    }
    if draw(st.booleans()):
        spec["biases"] = [[draw(number) for _ in range(n)] for n in layers[1:]]
    return spec


def _exact_and_spec(min_samples: int = 1) -> st.SearchStrategy[tuple[bool, dict[str, Any]]]:
    return st.booleans().flatmap(
        lambda exact: st.tuples(st.just(exact), minibatches(exact, min_samples=min_samples)))


# --- references -----------------------------------------------------------------------------


def _mean(values: list[Any], exact: bool) -> Any:
    return sum(values, start=zero(exact)) / len(values)


def _batched(spec: dict[str, Any]) -> bool:
    return isinstance(spec["input"][0], list)


def _activation_names(sample: dict[str, Any]) -> list[str]:
    return [a["name"] if isinstance(a, dict) else a for a in sample["activation"]]


def _suffix_paths(layers: list[int]) -> int:
    return sum(math.prod(layers[l:]) for l in range(1, len(layers)))


def _parameters(layers: list[int]) -> list[tuple[str, tuple[int, int, int | None]]]:
    table = names(layers)
    found: list[tuple[str, tuple[int, int, int | None]]] = list(table["weights"].items())
    found += [(name, (l, i, None)) for name, (l, i) in table["biases"].items()]
    return found


def _rounding_scale(sample: dict[str, Any], f: RefForward) -> dict[str, float]:
    """Per parameter, the sum over its paths of the products of absolute factors.

    As ``test_properties.reference_tables`` (which see), for one sample and any
    subgradient rule: |dLoss/dOut| + 1, and |sigma'| + 1 for sigmoid and tanh, cover
    the absolute (cancellation) error of those factors.
    """
    smooth = [0.0] + [1.0 if name in ("sigmoid", "tanh") else 0.0
                      for name in _activation_names(sample)]
    depth = len(f.layers) - 1
    absolute = dataclasses.replace(
        f,
        weights=[[[abs(v) for v in row] for row in w] for w in f.weights],
        values=_magnitudes(sample, f),
        derivatives=[None] + [[abs(v) + smooth[l] for v in f.derivatives[l]]  # type: ignore[union-attr]
                              for l in range(1, depth + 1)],
        loss_gradient=[abs(v) + 1 for v in f.loss_gradient],
    )
    return {name: sum(float(p.contribution) for p in paths_of(absolute, l, i, j))
            for name, (l, i, j) in _parameters(f.layers)}


def _assume_kinks_agree(spec: dict[str, Any], refs: list[RefForward], rule: str) -> None:
    """Skip a float example whose engine and reference are on two sides of a kink by rounding.

    A relu/leaky pre-activation (or an l1 residual) that cancels to ~1e-17 in one
    summation order and to 0, or the other sign, in another is a kink either way: its
    derivative legitimately differs. Exact zeros on both sides are kept: they test kinks.
    """
    net = parse_spec(spec)
    passed = engine_forward(stack([net]), rule)
    samples = split_samples(spec)
    pairs: list[tuple[float, float]] = []
    for l, name in enumerate(_activation_names(samples[0]), start=1):
        if name in ("relu", "leaky_relu"):
            ours = passed.pre[l][0]  # type: ignore[index]
            pairs += [(float(ours[n, i]), float(ref.pre[l][i]))  # type: ignore[index]
                      for n, ref in enumerate(refs) for i in range(net.layers[l])]
    if spec["loss"] == "l1":
        residual = passed.values[-1][0] - net.target
        pairs += [(float(residual[n, k]), float(ref.values[-1][k] - ref_target))
                  for n, (ref, sample) in enumerate(zip(refs, samples, strict=True))
                  for k, ref_target in enumerate(float(t) for t in sample["target"])]
    for ours, theirs in pairs:
        near = abs(ours) < 1e-9 or abs(theirs) < 1e-9
        assume(not near or ours == theirs == 0)


def _paths_reference(per_sample: list[list[RefPath]], exact: bool
                     ) -> tuple[list[RefPath], dict[tuple[int, ...], Any]]:
    """A mini-batch's paths from each sample's: contribution the mean of the samples', and
    per path the mean of the samples' |contribution| (what ``abs_sum`` adds up)."""
    count = len(per_sample)
    mean = [RefPath(paths[0].indices, _mean([p.contribution for p in paths], exact))
            for paths in zip(*per_sample, strict=True)]
    absolute = {paths[0].indices: sum((abs(p.contribution) for p in paths),
                                      start=zero(exact)) / count
                for paths in zip(*per_sample, strict=True)}
    return mean, absolute


# --- 1. the analysis of a mini-batch ------------------------------------------------------


def _per_sample(value: Any, batched: bool) -> list[Any]:
    return value if batched else [value]


@SETTINGS
@given(spec=minibatches(), rule=st.sampled_from(RULES))
def test_a_minibatch_is_the_mean_of_its_samples(spec: dict[str, Any], rule: str) -> None:
    samples = split_samples(spec)
    count, batched = len(samples), _batched(spec)
    refs = [forward(s, subgradient=rule) for s in samples]
    _assume_kinks_agree(spec, refs, rule)
    result = pathgrad.analyze(spec, subgradient=rule, finite_difference=True)
    assert result["agreement"]["ok"]

    # Gradients: the mean over the samples of each one-sample per-path reference.
    grads = [path_gradients(s, subgradient=rule) for s in samples]
    scales = [_rounding_scale(s, f) for s, f in zip(samples, refs, strict=True)]
    loss = abs(result["loss"])
    for record in result["weights"] + result["biases"]:
        name = record["name"]
        want = _mean([g[name] for g in grads], False)
        bound = PATH_RTOL * _mean([s[name] for s in scales], False) + PATH_ATOL
        assert abs(record["backprop"] - want) <= bound, (name, record["backprop"], want)
        assert abs(record["path_sum"] - want) <= bound, (name, record["path_sum"], want)
        assert record["gradient"] == record["backprop"]
        # Finite differences of the mean loss (see test_properties for the tolerance).
        if name in result["agreement"]["finite_difference"]["skipped"]:
            assert record["finite_difference"] is None
        else:
            tolerance = 1e-6 * (1 + abs(want)) + 1e-9 * (1 + loss)
            assert abs(record["finite_difference"] - want) <= tolerance, (
                name, record["finite_difference"], want)
    assert result["agreement"]["finite_difference"]["ok"]

    assert math.isclose(result["loss"], _mean([f.loss for f in refs], False),
                        rel_tol=1e-12, abs_tol=1e-12)
    assert result["paths_enumerated"] == count * _suffix_paths(spec["layers"])
    assert result.get("samples") == (count if batched else None)

    # Outputs and node fields: one entry per sample, each the sample's own.
    alone = [pathgrad.analyze(s, subgradient=rule) for s in samples]
    table = names(spec["layers"])
    magnitude = [_magnitudes(s, f) for s, f in zip(samples, refs, strict=True)]
    for k, out in enumerate(table["nodes"][-1]):
        got = _per_sample(result["outputs"][out], batched)
        assert len(got) == count
        assert got == pytest.approx([a["outputs"][out] for a in alone], rel=1e-12, abs=1e-12)
        for n, ref in enumerate(refs):
            assert abs(got[n] - ref.values[-1][k]) <= 1e-12 * (1 + magnitude[n][-1][k])
    nodes = [(l, i) for l in range(1, len(spec["layers"])) for i in range(spec["layers"][l])]
    assert [r["name"] for r in result["nodes"]] == [table["nodes"][l][i] for l, i in nodes]
    for record, (l, i) in zip(result["nodes"], nodes, strict=True):
        for key, of in (("pre", "pre"), ("value", "values"), ("derivative", "derivatives")):
            got = _per_sample(record[key], batched)
            assert len(got) == count
            mine = [next(r for r in a["nodes"] if r["name"] == record["name"])[key]
                    for a in alone]
            assert got == pytest.approx(mine, rel=1e-12, abs=1e-12), (record["name"], key)
            want = [getattr(f, of)[l][i] for f in refs]
            for n in range(count):
                assert abs(got[n] - want[n]) <= 1e-12 * (1 + magnitude[n][l][i]), (
                    record["name"], key, n, got[n], want[n])


# --- 2. a parameter's path pages -----------------------------------------------------------


def _all_pages(call: Callable[[int, str | None], dict[str, Any]], limit: int
               ) -> list[dict[str, Any]]:
    pages = [call(limit, None)]
    while pages[-1]["next_cursor"] is not None:
        pages.append(call(limit, pages[-1]["next_cursor"]))
    return pages


@SETTINGS
@given(case=_exact_and_spec(min_samples=2), order=st.sampled_from(ORDERS),
       limit=st.sampled_from([1, 3, 10]), data=st.data())
def test_a_minibatch_parameters_pages_are_its_samples_mean_paths_sorted(
    case: tuple[bool, dict[str, Any]], order: str, limit: int, data: st.DataObject
) -> None:
    exact, spec = case
    samples = split_samples(spec)
    refs = [forward(s, exact=exact) for s in samples]
    if not exact:
        _assume_kinks_agree(spec, refs, "min_norm")
    options = {"arithmetic": "exact"} if exact else {}
    name, (l, i, j) = data.draw(st.sampled_from(_parameters(spec["layers"])))
    reference, absolute = _paths_reference([paths_of(f, l, i, j) for f in refs], exact)

    def call(limit: int, cursor: str | None) -> dict[str, Any]:
        return dict(pathgrad.path_contributions(spec, name, order=order, limit=limit,
                                                cursor=cursor, **options))

    pages = _all_pages(call, limit)
    assert all(page["total_paths"] == len(reference) for page in pages)
    layer_names = names(spec["layers"])["nodes"]
    first = l - 1 if j is not None else l

    def key(path: dict[str, Any]) -> tuple[int, ...]:
        nodes = path["nodes"]
        indices = [layer_names[first + t].index(n) for t, n in enumerate(nodes)]
        weights = names(spec["layers"])["weights"]
        assert [weights[w][1:] for w in path["weights"]] == [
            (indices[t + 1], indices[t]) for t in range(len(indices) - 1)]
        return tuple(indices) if j is not None else (-1, *indices)

    check_pages(pages, reference, order, exact, key, absolute)


# --- 3. the bounded best-first search --------------------------------------------------------


def _brute_best(chain: Chain, largest: bool) -> list[tuple[int, ...]]:
    """Every path of the chain, best first by |contribution|, ties in index order."""
    paths, values = chain.page(0, chain.count)
    sign = -1 if largest else 1
    order = sorted(range(len(paths)), key=lambda k: (sign * abs(values[k]), k))
    return [paths[k] for k in order]


def _some_chain(spec: dict[str, Any], exact: bool, rule: str, data: st.DataObject) -> Chain:
    """A random parameter's chain, or the network's (all, through a neuron or a weight,
    to one output), of a parsed mini-batch."""
    net = parse_spec(spec, exact=exact)
    passed = engine_forward(stack([net]), rule)
    layers = spec["layers"]
    if data.draw(st.booleans()):
        _, (l, i, j) = data.draw(st.sampled_from(_parameters(layers)))
        return _parameter_chain(net, passed, l, i, j)
    keep: dict[int, int] = {}
    for l, n in enumerate(layers):
        if data.draw(st.integers(0, 3)) == 0:
            keep[l] = data.draw(st.integers(0, n - 1))
    return _network_chain(net, passed, keep)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_exact_and_spec(min_samples=2), rule=st.sampled_from(RULES), data=st.data())
def test_the_bounded_search_finds_the_brute_force_best(
    case: tuple[bool, dict[str, Any]], rule: str, data: st.DataObject
) -> None:
    exact, spec = case
    chain = _some_chain(spec, exact, rule, data)
    assert chain.samples == len(split_samples(spec)) >= 2
    for largest in (True, False):
        expected = _brute_best(chain, largest)
        for count in sorted({1, 2, 5, chain.count // 2, chain.count, chain.count + 3} - {0}):
            found = ranking._best_bounded(chain, count, largest)
            assert found == expected[:count], (largest, count)
            assert ranking.best(chain, count, largest=largest) == expected[:count]


@pytest.mark.parametrize("exact", [False, True])
def test_the_bounded_search_breaks_ties_by_index(exact: bool) -> None:
    # Weights of +-1 and 0, a relu silencing some neurons, two samples that are one input
    # and its double: many paths tie exactly (and many are exactly 0).
    layers = [2, 3, 3, 3, 2]
    rng = np.random.default_rng(5)
    spec = {"layers": layers, "activation": ["relu", {"name": "leaky_relu", "slope": "1/2"
                                                      if exact else 0.5}, "relu", "identity"],
            "loss": "half_sse",
            "weights": [rng.choice([-1, 0, 1], size=(n, m)).tolist()
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "input": [[1, 2], [2, 4]], "target": [[0, 1], [0, 2]]}
    net = parse_spec(spec, exact=exact)
    passed = engine_forward(stack([net]))
    chains = [_network_chain(net, passed, {})] + [
        _parameter_chain(net, passed, l, i, j) for _, (l, i, j) in _parameters(layers)[:10]]
    ties = 0
    for chain in chains:
        _, values = chain.page(0, chain.count)
        ties += len(values) - len({abs(v) for v in values})
        for largest in (True, False):
            expected = _brute_best(chain, largest)
            assert ranking._best_bounded(chain, chain.count, largest) == expected
    assert ties > 50  # the case is about ties


def test_the_bounded_search_is_capped() -> None:
    layers = [3, 4, 4, 4, 3]
    rng = np.random.default_rng(2)
    spec = {"layers": layers, "activation": "tanh", "loss": "mse",
            "weights": [rng.normal(size=(n, m)).tolist()
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "input": rng.normal(size=(4, 3)).tolist(), "target": rng.normal(size=(4, 3)).tolist()}
    net = parse_spec(spec)
    chain = _network_chain(net, engine_forward(stack([net])), {})
    expected = _brute_best(chain, True)[:5]
    assert ranking._best_bounded(chain, 5, True) == expected
    old = ranking.MAX_SEARCH
    try:
        ranking.MAX_SEARCH = 20
        with pytest.raises(pathgrad.OptionError) as caught:
            ranking._best_bounded(chain, 5, True)
    finally:
        ranking.MAX_SEARCH = old
    assert caught.value.field == "order" and "20" in str(caught.value)


def _big_minibatch() -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """A [10, 30, 40, 25, 10] leaky-relu network of 3,000,000 paths with 2 samples, and by
    plain NumPy every path's contribution per sample (2, 10, 30, 40, 25, 10)."""
    layers = [10, 30, 40, 25, 10]
    rng = np.random.default_rng(11)
    weights = [rng.normal(0, 1 / math.sqrt(m), (n, m))
               for m, n in zip(layers[:-1], layers[1:], strict=True)]
    biases = [rng.normal(0, 0.1, n) for n in layers[1:]]
    x, y = rng.normal(size=(2, layers[0])), rng.normal(size=(2, layers[-1]))
    spec = {"layers": layers, "weights": [w.tolist() for w in weights],
            "biases": [b.tolist() for b in biases],
            "activation": [{"name": "leaky_relu", "slope": 0.2}] * 3 + ["identity"],
            "input": x.tolist(), "target": y.tolist(), "loss": "half_sse"}
    a, factors = x, []
    for l, (w, b) in enumerate(zip(weights, biases, strict=True), start=1):
        z = a @ w.T + b
        s = np.ones_like(z) if l == len(weights) else np.where(z > 0, 1.0, 0.2)
        a = z * s
        factors.append(w.T[None, :, :] * s[:, None, :])  # (N, n_{l-1}, n_l)
    gradient = (a - y) / len(x)  # half_sse's dLoss/dOut, with the mean's 1/N
    tensor = x
    for factor in factors:
        tensor = tensor[..., None] * factor.reshape(
            len(x), *([1] * (tensor.ndim - 2)), *factor.shape[1:])
    tensor = tensor * gradient.reshape(len(x), *([1] * (tensor.ndim - 2)), -1)
    return spec, tensor.sum(axis=0), np.abs(tensor).sum(axis=0)


@pytest.fixture(scope="module")
def big() -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    return _big_minibatch()


def _node_indices(spec: dict[str, Any], path: dict[str, Any]) -> tuple[int, ...]:
    table = names(spec["layers"])["nodes"]
    return tuple(table[l].index(n) for l, n in enumerate(path["nodes"]))


def test_the_top_paths_of_a_big_minibatch_are_the_brute_force_best(
    big: tuple[dict[str, Any], np.ndarray, np.ndarray]
) -> None:
    spec, values, absolute = big
    net = parse_spec(spec)
    chain = _network_chain(net, engine_forward(stack([net])), {})
    assert chain.count * chain.samples > BLOCK  # too many to list: the bounded search
    flat = values.ravel()
    order = np.argsort(-np.abs(flat), kind="stable")[:21]
    magnitudes = np.abs(flat[order])
    assert (np.diff(magnitudes) < -1e-9 * magnitudes[0]).all()  # no near-ties: one answer
    expected = [tuple(int(i) for i in np.unravel_index(k, values.shape)) for k in order]
    first = pathgrad.top_paths(spec, limit=10)
    second = pathgrad.top_paths(spec, limit=10, cursor=first["next_cursor"])
    listed = first["paths"] + second["paths"]
    assert [_node_indices(spec, p) for p in listed] == expected[:20]
    assert [p["rank"] for p in listed] == list(range(1, 21))
    for path, k in zip(listed, order[:20], strict=True):
        assert path["contribution"] == pytest.approx(flat[k], rel=1e-10)
    total, abs_total = float(values.sum()), float(absolute.sum())
    for page, seen in ((first, 10), (second, 20)):
        assert page["total_paths"] == values.size
        assert page["abs_sum"] == pytest.approx(abs_total, rel=1e-10)
        assert page["listed_sum"] == pytest.approx(float(flat[order[:seen]].sum()), rel=1e-10)
        picked = absolute.ravel()[order[:seen]].sum()
        assert page["listed_abs_sum"] == pytest.approx(float(picked), rel=1e-10)
        assert abs(total - page["listed_sum"]) <= page["abs_sum"] - page["listed_abs_sum"]


def test_the_smallest_paths_of_a_big_minibatch_are_exact(
    big: tuple[dict[str, Any], np.ndarray, np.ndarray]
) -> None:
    # Two samples' products of mixed signs: many prefixes can complete to nearly 0, which
    # no bound excludes; the 6e6 path-samples are listed instead (ranking.MAX_LISTED).
    spec, values, _ = big
    flat = values.ravel()
    page = pathgrad.top_paths(spec, order="abs_asc", limit=10)
    order = np.argsort(np.abs(flat), kind="stable")[:10]
    assert [_node_indices(spec, p) for p in page["paths"]] == [
        tuple(int(i) for i in np.unravel_index(k, values.shape)) for k in order]


@pytest.mark.parametrize("through", ["W7", "H31", "Out3"])
def test_restricted_top_paths_of_a_big_minibatch_are_the_brute_force_best(
    big: tuple[dict[str, Any], np.ndarray, np.ndarray], through: str
) -> None:
    spec, values, absolute = big
    table = names(spec["layers"])
    if through in table["weights"]:
        l, i, j = table["weights"][through]
        keep = {l - 1: j, l: i}
    else:
        keep = {l: layer.index(through) for l, layer in enumerate(table["nodes"])
                if through in layer}
    index = tuple(keep.get(l, slice(None)) for l in range(len(spec["layers"])))
    restricted = values[index]
    full = np.indices(values.shape)
    where = [axis[index].ravel() for axis in full]
    for order in ("abs_desc", "abs_asc"):
        sign = -1 if order == "abs_desc" else 1
        ranked = np.argsort(sign * np.abs(restricted.ravel()), kind="stable")[:11]
        magnitudes = np.abs(restricted.ravel()[ranked])
        # No near-ties: each gap far above the rounding of the paths' per-sample terms.
        rounding = 1e-10 * absolute[index].ravel()[ranked].max()
        assert (np.abs(np.diff(magnitudes)) > rounding).all()
        expected = [tuple(int(axis[k]) for axis in where) for k in ranked[:10]]
        page = pathgrad.top_paths(spec, through=through, order=order, limit=10)
        assert page["total_paths"] == restricted.size
        assert [_node_indices(spec, p) for p in page["paths"]] == expected
        # And the search itself, on the chain the page was cut from.
        net = parse_spec(spec)
        chain = _network_chain(net, engine_forward(stack([net])), keep)
        found = ranking._best_bounded(chain, 10, order == "abs_desc")
        assert [tuple(int(chain.neurons[t][p]) for t, p in enumerate(path)) for path in found
                ] == expected


# --- 4. the network's paths and a neuron's flow -----------------------------------------------


@SETTINGS
@given(spec=minibatches(min_samples=2), order=st.sampled_from(ORDERS),
       limit=st.sampled_from([2, 7, 100]))
def test_a_minibatch_network_paths_are_its_samples_mean_paths(
    spec: dict[str, Any], order: str, limit: int
) -> None:
    samples = split_samples(spec)
    refs = [forward(s) for s in samples]
    _assume_kinks_agree(spec, refs, "min_norm")
    reference, absolute = _paths_reference([network_paths_of(f, {}) for f in refs], False)

    def call(limit: int, cursor: str | None) -> dict[str, Any]:
        return dict(pathgrad.top_paths(spec, order=order, limit=limit, cursor=cursor))

    pages = _all_pages(call, limit)
    check_pages(pages, reference, order, False, lambda path: _node_indices(spec, path),
                absolute)
    # All of them: the mean over the samples of sum_i x_i dLoss/dx_i.
    want = _mean([float(np.asarray(s["input"], dtype=float) @ input_gradient(s))
                  for s in samples], False)
    assert math.isclose(pages[-1]["listed_sum"], want, rel_tol=1e-6, abs_tol=1e-6)


@SETTINGS
@given(case=_exact_and_spec(), data=st.data())
def test_a_minibatch_neurons_flow_is_per_sample(case: tuple[bool, dict[str, Any]],
                                                data: st.DataObject) -> None:
    exact, spec = case
    samples = split_samples(spec)
    count, batched = len(samples), _batched(spec)
    refs = [forward(s, exact=exact) for s in samples]
    if not exact:
        _assume_kinks_agree(spec, refs, "min_norm")
    table = names(spec["layers"])
    l = data.draw(st.integers(0, len(spec["layers"]) - 1))
    i = data.draw(st.integers(0, spec["layers"][l] - 1))
    node = table["nodes"][l][i]
    flow = pathgrad.node_flow(spec, node, **({"arithmetic": "exact"} if exact else {}))
    # delta = dLoss/dz of the mean loss: each sample's (its bias's gradient) over N; an
    # input's, dLoss/dX = sum_v W1[v][i] * delta_1[v].
    grads = [path_gradients(s, exact=exact) for s in samples]
    if l == 0:
        weights = [[Fraction(v) if exact else float(v) for v in row] for row in spec["weights"][0]]
        deltas = [sum((weights[v][i] * g[f"b_{h}"] for v, h in enumerate(table["nodes"][1])),
                      start=zero(exact)) / count for g in grads]
    else:
        deltas = [g[f"b_{node}"] / count for g in grads]
    values = [f.values[l][i] for f in refs]
    reference, absolute = _paths_reference([network_paths_of(f, {l: i}) for f in refs], exact)
    scale = float(sum(absolute.values(), start=zero(exact)))
    got_values = _per_sample(flow["value"], batched)
    got_deltas = _per_sample(flow["delta"], batched)
    assert len(got_values) == len(got_deltas) == count
    if exact:
        assert [Fraction(v) for v in _per_sample(flow["value_exact"], batched)] == values
        assert [Fraction(v) for v in _per_sample(flow["delta_exact"], batched)] == deltas
        assert Fraction(flow["flow_exact"]) == sum(p.contribution for p in reference)
        assert Fraction(flow["abs_flow_exact"]) == sum(absolute.values())
    else:
        mags = [_magnitudes(s, f)[l][i] for s, f in zip(samples, refs, strict=True)]
        for n in range(count):
            assert abs(got_values[n] - values[n]) <= 1e-12 * (1 + mags[n])
            assert close(got_deltas[n], deltas[n], False, scale)
        assert close(flow["flow"], sum(p.contribution for p in reference), False, scale)
        assert close(flow["abs_flow"], sum(absolute.values()), False, scale)
    assert flow["paths_through"] == len(reference)


# --- 5. exact arithmetic ---------------------------------------------------------------------


@SETTINGS
@given(spec=minibatches(exact=True), rule=st.sampled_from(RULES))
def test_an_exact_minibatch_is_the_fraction_mean_of_its_samples(spec: dict[str, Any],
                                                                rule: str) -> None:
    samples = split_samples(spec)
    count, batched = len(samples), _batched(spec)
    result = pathgrad.analyze(spec, arithmetic="exact", subgradient=rule)
    grads = [path_gradients(s, exact=True, subgradient=rule) for s in samples]
    for record in result["weights"] + result["biases"]:
        want = _mean([g[record["name"]] for g in grads], True)
        assert Fraction(record["backprop_exact"]) == want, record["name"]
        assert Fraction(record["path_sum_exact"]) == want, record["name"]
    assert result["agreement"]["ok"] and result["agreement"]["max_abs_diff"] == 0.0
    refs = [forward(s, exact=True, subgradient=rule) for s in samples]
    assert Fraction(result["loss_exact"]) == _mean([f.loss for f in refs], True)
    table = names(spec["layers"])
    for k, out in enumerate(table["nodes"][-1]):
        texts = result["outputs_exact"][out]
        assert isinstance(texts, list) == batched
        assert [Fraction(t) for t in _per_sample(texts, batched)] == [
            f.values[-1][k] for f in refs]
    nodes = [(l, i) for l in range(1, len(spec["layers"])) for i in range(spec["layers"][l])]
    for record, (l, i) in zip(result["nodes"], nodes, strict=True):
        for key, of in (("pre", "pre"), ("value", "values"), ("derivative", "derivatives")):
            texts = record[f"{key}_exact"]
            assert isinstance(texts, list) == batched
            assert [Fraction(t) for t in _per_sample(texts, batched)] == [
                getattr(f, of)[l][i] for f in refs], (record["name"], key)
            assert _per_sample(record[key], batched) == [
                float(Fraction(t)) for t in _per_sample(texts, batched)]
    assert result.get("samples") == (count if batched else None)


def test_a_rational_slope_is_taken_exactly() -> None:
    # H1 is negative in both samples: its derivative is the slope, 1/5 exactly (not the
    # float 0.2 = 0.2000000000000000111...), and so is every gradient through it.
    spec = {"layers": [2, 2, 1], "loss": "half_sse",
            "activation": [{"name": "leaky_relu", "slope": "1/5"}, "identity"],
            "weights": [[["-1", "1/3"], ["1/2", "1"]], [["3", "-2/7"]]],
            "input": [["1", "1"], ["2", "-1/2"]], "target": [["0"], ["1/3"]]}
    result = pathgrad.analyze(spec, arithmetic="exact", finite_difference=True)
    h1 = result["nodes"][0]
    assert h1["name"] == "H1" and h1["derivative_exact"] == ["1/5", "1/5"]
    assert [Fraction(v) for v in h1["value_exact"]] == [Fraction(-2, 3) / 5,
                                                        Fraction(-13, 6) / 5]
    grads = [path_gradients(s, exact=True) for s in split_samples(spec)]
    for record in result["weights"] + result["biases"]:
        want = (grads[0][record["name"]] + grads[1][record["name"]]) / 2
        assert Fraction(record["gradient_exact"]) == want
        if record["finite_difference_exact"] is not None:  # the loss is piecewise quadratic
            assert Fraction(record["finite_difference_exact"]) == want
    assert result["outputs_exact"]["Out"] == [str(f.values[-1][0]) for f in
                                              (forward(s, exact=True) for s in
                                               split_samples(spec))]
    page = pathgrad.path_contributions(spec, "W1", arithmetic="exact")
    assert Fraction(page["listed_sum_exact"]) == Fraction(page["gradient_exact"])
    # The same slope in float arithmetic is the float 0.2, within rounding of the above.
    floats = json_floats(spec)
    floats["activation"] = [{"name": "leaky_relu", "slope": 0.2}, "identity"]
    approx = pathgrad.analyze(floats)
    for mine, theirs in zip(approx["weights"], result["weights"], strict=True):
        assert mine["gradient"] == pytest.approx(float(Fraction(theirs["gradient_exact"])),
                                                 rel=1e-12, abs=1e-15)


def json_floats(spec: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        return [convert(v) for v in value] if isinstance(value, list) else float(
            Fraction(value))

    return spec | {key: convert(spec[key]) for key in ("weights", "input", "target", "biases")
                   if key in spec}


# --- 6. errors -----------------------------------------------------------------------------


def _small(**changes: Any) -> dict[str, Any]:
    spec = {"layers": [4, 2, 1], "activation": "relu", "loss": "mse",
            "weights": [[[0.1, 0.2, 0.3, 0.4], [0.5, -0.6, 0.7, -0.8]], [[1.0, -1.0]]],
            "input": [[1, 2, 3, 4], [0, 1, 0, 1], [2, 2, 2, 2], [1, 0, 1, 0]],
            "target": [[1], [0], [2], [1]]}
    return spec | changes


def _raises(call: Callable[[], Any], kind: type[Exception], field: str,
            *fragments: str) -> pathgrad.PathgradError:
    with pytest.raises(kind) as caught:
        call()
    error = caught.value
    assert isinstance(error, pathgrad.PathgradError) and isinstance(error, ValueError)
    assert error.field == field, str(error)
    assert str(error).startswith(f"{field}: ")
    for fragment in fragments:
        assert fragment in str(error), str(error)
    return error


BAD_SPECS = [
    ("target rows", _small(target=[[1], [0], [2]]), "target", "expected 4 rows of 1 numbers",
     "got 3 rows"),
    ("a short target", _small(target=[1]), "target", "got one sample's numbers"),
    ("an input row", _small(input=[[1, 2, 3, 4], [0, 1, 0, 1], [2, 2, 2, 2], [1, 0, 1, 0, 5]]),
     "input[3]", "expected 4 numbers, got 5"),
    ("a target row", _small(target=[[1], [0, 3], [2], [1]]), "target[1]",
     "expected 1 numbers, got 2"),
    ("a number in a row", _small(input=[[1, 2, 3, 4], [0, "x", 0, 1], [2, 2, 2, 2],
                                        [1, 0, 1, 0]]), "input[1][1]", "expected a number"),
    ("one sample, rows of targets", _small(input=[1, 2, 3, 4]), "target",
     "input is one sample"),
    ("a leaky slope string in float", _small(activation={"name": "leaky_relu", "slope": "1/5"}),
     "activation.slope", "only with arithmetic 'exact'"),
    ("an unknown activation object", _small(activation={"name": "swish"}), "activation.name",
     "expected one of identity"),
    ("an object without a name", _small(activation={"slope": 0.2}), "activation.name",
     "got nothing"),
    ("a parameter relu has not", _small(activation=["identity", {"name": "relu",
                                                                  "slope": 0.2}]),
     "activation[1].slope", "relu has no parameter 'slope'"),
    ("an unknown parameter", _small(activation={"name": "leaky_relu", "alpha": 0.2}),
     "activation.alpha", "its parameters are slope"),
    ("a boolean slope", _small(activation={"name": "leaky_relu", "slope": True}),
     "activation.slope", "expected a number"),
    ("an infinite slope", _small(activation=[{"name": "leaky_relu", "slope": math.inf}, "relu"]),
     "activation[0].slope", "finite"),
    ("a list slope", _small(activation={"name": "leaky_relu", "slope": [0.2]}),
     "activation.slope", "expected a number"),
]


@pytest.mark.parametrize(("spec", "field", "fragments"),
                         [pytest.param(s, f, fr, id=i) for i, s, f, *fr in BAD_SPECS])
def test_bad_minibatches_and_activation_objects_are_named(
    spec: dict[str, Any], field: str, fragments: list[str]
) -> None:
    for call in (lambda: pathgrad.analyze(spec),
                 lambda: pathgrad.path_contributions(spec, "W1"),
                 lambda: pathgrad.top_paths(spec),
                 lambda: pathgrad.node_flow(spec, "H1")):
        _raises(call, pathgrad.SpecError, field, *fragments)
    # Among many specs, the field is inside its spec.
    _raises(lambda: pathgrad.analyze_many([_small(), spec]), pathgrad.SpecError,
            f"specs[1].{field}", *fragments)


@pytest.mark.parametrize("stray", [5, None, "x"])
def test_an_input_mixing_rows_and_numbers_is_named(stray: Any) -> None:
    # input[1] is not a row: the mistake is in input, whatever target says.
    spec = _small(input=[[1, 2, 3, 4], stray, [2, 2, 2, 2], [1, 0, 1, 0]])
    with pytest.raises(pathgrad.SpecError) as caught:
        pathgrad.analyze(spec)
    assert caught.value.field.startswith("input"), str(caught.value)


def test_exact_activation_objects_are_checked() -> None:
    exact = {"arithmetic": "exact"}
    _raises(lambda: pathgrad.analyze(_small(activation={"name": "leaky_relu", "slope": "1/x"}),
                                     **exact), pathgrad.SpecError, "activation.slope")
    _raises(lambda: pathgrad.analyze(_small(activation=[{"name": "sigmoid"}, "identity"]),
                                     **exact), pathgrad.ExactArithmeticError, "activation[0]",
            "sigmoid is not rational")
    quarter = _small(activation={"name": "leaky_relu", "slope": "0.25"})
    fine = pathgrad.analyze(quarter, **exact)
    below = [f.pre[1][1] < 0 for f in (forward(s, exact=True) for s in split_samples(quarter))]
    assert below == [True, True, True, False]  # H2: the slope in three samples, 1 in one
    assert fine["nodes"][1]["derivative_exact"] == ["1/4" if b else "1" for b in below]


def test_too_many_samples_are_refused_before_anything_is_read() -> None:
    spec = {"layers": [1, 1], "weights": [[[1.0]]], "activation": "identity", "loss": "l1",
            "input": [[0.5]] * (MAX_SAMPLES + 1), "target": [[0.0]] * (MAX_SAMPLES + 1)}
    _raises(lambda: pathgrad.analyze(spec), pathgrad.SpecError, "input",
            f"at most {MAX_SAMPLES} samples", f"got {MAX_SAMPLES + 1}")
    spec["input"][-1] = ["not even a number"]
    _raises(lambda: pathgrad.analyze(spec), pathgrad.SpecError, "input",
            f"at most {MAX_SAMPLES} samples")
    at_limit = dict(spec, input=[[0.5]] * MAX_SAMPLES, target=[[0.0]] * MAX_SAMPLES)
    result = pathgrad.analyze(at_limit)
    assert result["samples"] == MAX_SAMPLES
    assert result["weights"][0]["gradient"] == pytest.approx(0.5, rel=1e-12)
    assert result["paths_enumerated"] == MAX_SAMPLES


def test_a_formula_and_an_answer_key_are_of_one_sample() -> None:
    spec = _small()
    _raises(lambda: pathgrad.formula(spec, "W1"), pathgrad.SpecError, "input",
            "mini-batch of 4 samples")
    _raises(lambda: AnswerKey(spec), pathgrad.SpecError, "input", "mini-batch of 4")
    _raises(lambda: pathgrad.grade(spec, {"W1": 0.0}, ask=["W1"]), pathgrad.SpecError, "input")
    # A mini-batch of one sample is that sample: the same formula, the same key.
    one = _small(input=[[1, 2, 3, 4]], target=[[1]])
    alone = _small(input=[1, 2, 3, 4], target=[1])
    assert pathgrad.formula(one, "W1") == pathgrad.formula(alone, "W1")
    answers = {"W1": pathgrad.analyze(alone)["weights"][0]["gradient"]}
    assert AnswerKey(one).grade(answers, ask=["W1"])["score"] == 1.0


def test_finite_differences_are_limited_by_parameters_times_samples() -> None:
    layers = [100, 100, 1]
    parameters = sum(n * (m + 1) for m, n in zip(layers[:-1], layers[1:], strict=True))
    most = analysis.MAX_FD_PARAMETERS * analysis.MAX_FD_SAMPLES // parameters
    spec = {"layers": layers, "activation": "identity", "loss": "mse",
            "weights": [np.zeros((100, 100)).tolist(), np.zeros((1, 100)).tolist()],
            "input": np.zeros((most + 1, 100)).tolist(), "target": np.zeros((most + 1, 1)).tolist()}
    _raises(lambda: pathgrad.analyze(spec, finite_difference=True), pathgrad.OptionError,
            "options.finite_difference", f"{parameters} parameters and {most + 1} samples")
    options = parse_options({"finite_difference": True})
    assert analysis.check_limits(tuple(layers), options, most) == most * _suffix_paths(layers)
    assert pathgrad.analyze(spec)["samples"] == most + 1  # without them, fine


def test_the_path_limit_counts_every_sample() -> None:
    spec = _small()
    paths = 4 * _suffix_paths(spec["layers"])
    error = _raises(lambda: pathgrad.analyze(spec, max_paths=paths - 1), pathgrad.PathLimitError,
                    "layers", f"{paths} paths", "for each of 4 samples")
    assert isinstance(error, pathgrad.PathLimitError)
    assert (error.paths, error.limit) == (paths, paths - 1)
    assert pathgrad.analyze(spec, max_paths=paths)["paths_enumerated"] == paths
    # A path page is never bounded by max_paths.
    assert pathgrad.top_paths(spec, max_paths=1, limit=1)["total_paths"] == 4 * 2


# --- 7. many specs, some mini-batches -------------------------------------------------------


def test_analyze_many_keeps_single_samples_and_minibatches_apart() -> None:
    # n0 = nL = 3 and N = 3: a mini-batch has as many rows as a sample has numbers.
    rng = np.random.default_rng(4)
    layers = [3, 2, 3]

    def spec(samples: int | None) -> dict[str, Any]:
        shape = (3,) if samples is None else (samples, 3)
        return {"layers": layers, "activation": ["tanh", "identity"], "loss": "half_sse",
                "weights": [rng.normal(size=(2, 3)).tolist(), rng.normal(size=(3, 2)).tolist()],
                "input": rng.normal(size=shape).tolist(),
                "target": rng.normal(size=shape).tolist()}

    specs = [spec(None), spec(3), spec(1), spec(None), spec(3), spec(2), spec(None)]
    specs.append(dict(spec(3), activation=[{"name": "leaky_relu", "slope": 0.2}, "identity"]))
    results = pathgrad.analyze_many(specs)
    assert len(results) == len(specs)
    for one, result in zip(specs, results, strict=True):
        alone = pathgrad.analyze(one)
        assert result == alone
        samples = split_samples(one)
        refs = [forward(s) for s in samples]
        if _batched(one):
            assert result["samples"] == len(samples)
            assert all(len(v) == len(samples) for v in result["outputs"].values())
            assert all(len(n["value"]) == len(samples) for n in result["nodes"])
        else:
            assert "samples" not in result
            assert all(isinstance(v, float) for v in result["outputs"].values())
        outputs = [_per_sample(v, _batched(one)) for v in result["outputs"].values()]
        for k, column in enumerate(outputs):
            assert column == pytest.approx([f.values[-1][k] for f in refs], rel=1e-12)
        grads = [path_gradients(s) for s in samples]
        for record in result["weights"]:
            want = _mean([g[record["name"]] for g in grads], False)
            assert record["gradient"] == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_a_minibatch_network_round_trips_through_its_canonical_spec() -> None:
    for exact, slope in ((False, 0.2), (True, "1/3")):
        spec = _small(activation=[{"name": "leaky_relu", "slope": slope}, "identity"])
        options = {"arithmetic": "exact"} if exact else {}
        canonical = parse_spec(spec, exact=exact).to_dict()
        assert canonical["activation"][0] == {"name": "leaky_relu", "slope": slope}
        assert len(canonical["input"]) == len(canonical["target"]) == 4
        assert pathgrad.analyze(canonical, **options) == pathgrad.analyze(spec, **options)
    one = parse_spec(_small(input=[[1, 2, 3, 4]], target=[[1]])).to_dict()
    assert one["input"] == [[1.0, 2.0, 3.0, 4.0]] and one["target"] == [[1.0]]  # still a batch


# --- 8. packed batches ---------------------------------------------------------------------


def test_packed_minibatches_keep_their_samples() -> None:
    rng = np.random.default_rng(6)
    layers = [2, 3, 2]

    def spec(samples: int | None, activation: Any) -> dict[str, Any]:
        shape = (2,) if samples is None else (samples, 2)
        return {"layers": layers, "activation": activation, "loss": "mse",
                "weights": [rng.normal(size=(3, 2)).tolist(), rng.normal(size=(2, 3)).tolist()],
                "biases": [rng.normal(size=3).tolist(), rng.normal(size=2).tolist()],
                "input": rng.normal(size=shape).tolist(),
                "target": rng.normal(size=shape).tolist()}

    leaky = [{"name": "leaky_relu", "slope": 0.2}, "identity"]
    specs = [spec(4, leaky), spec(4, leaky), spec(1, "tanh"), spec(None, "tanh"),
             spec(5, "relu"), spec(4, leaky)]
    batches = [batch for _, batch in parse_batches(specs)]
    assert sorted((b.samples, b.batched, b.size) for b in batches) == [
        (1, False, 1), (1, True, 1), (4, True, 3), (5, True, 1)]
    again = unpack(pack(batches))
    for mine, theirs in zip(again, batches, strict=True):
        assert (mine.samples, mine.batched, mine.size) == (theirs.samples, theirs.batched,
                                                           theirs.size)
        assert (mine.activations, mine.loss, mine.layers) == (theirs.activations, theirs.loss,
                                                             theirs.layers)
        for a, b in zip([*mine.weights, *mine.biases, mine.input, mine.target],
                        [*theirs.weights, *theirs.biases, theirs.input, theirs.target],
                        strict=True):
            assert a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    options = parse_options({})
    members = [m for m, _ in parse_batches(specs)]
    results: list[dict[str, Any]] = [{} for _ in specs]
    for rows, batch in zip(members, again, strict=True):
        for index, result in zip(rows, analyze_batches([(list(range(batch.size)), batch)],
                                                       batch.size, options), strict=True):
            results[index] = result
    assert results == pathgrad.analyze_many(specs)
    assert [r.get("samples") for r in results] == [4, 4, 1, None, 5, 4]
