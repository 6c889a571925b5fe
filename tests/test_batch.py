"""Batches: stacking, taking rows, and packing parsed networks for another process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pathgrad import examples
from worker.batch_tasks import analyze_packed
from worker.engine import analyze, analyze_many
from worker.engine.batch import pack, parse_batches, take, unpack
from worker.engine.options import parse_options
from worker.engine.pipeline import analyze_batches
from worker.problems import problem_of

ROOT = Path(__file__).resolve().parent.parent
SEED: dict[str, Any] = examples.load("seed")


def _networks(count: int, layers: list[int], seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{"layers": layers, "activation": ["tanh"] * (len(layers) - 2) + ["identity"],
             "loss": "mse",
             "weights": [rng.normal(size=(n, m)).tolist()
                         for m, n in zip(layers[:-1], layers[1:], strict=True)],
             "biases": [rng.normal(size=n).tolist() for n in layers[1:]],
             "input": rng.normal(size=layers[0]).tolist(),
             "target": rng.normal(size=layers[-1]).tolist()} for _ in range(count)]


def test_packed_batches_unpack_to_the_same_networks_and_the_same_results() -> None:
    specs = _networks(5, [2, 3, 2, 1], 1) + _networks(4, [3, 4, 2], 2)
    batches = [batch for _, batch in parse_batches(specs)]
    again = unpack(pack(batches))
    assert [b.layers for b in again] == [b.layers for b in batches]
    for mine, theirs in zip(again, batches, strict=True):
        assert (mine.activations, mine.loss, mine.exact) == (theirs.activations, theirs.loss,
                                                            False)
        for a, b in zip([*mine.weights, *mine.biases, mine.input, mine.target],
                        [*theirs.weights, *theirs.biases, theirs.input, theirs.target],
                        strict=True):
            assert a.shape == b.shape and a.dtype == np.float64
            np.testing.assert_array_equal(a, b)  # bit for bit: no text in between
    options = parse_options({})
    results = [r for b in again for r in analyze_batches([(list(range(b.size)), b)], b.size,
                                                         options)]
    assert results == analyze_many(specs)


def test_take_picks_rows_in_the_order_asked() -> None:
    specs = _networks(6, [2, 3, 1], 3)
    ((_, batch),) = parse_batches(specs)
    picked = take(batch, [4, 0, 4])
    assert picked.size == 3
    np.testing.assert_array_equal(picked.input, batch.input[[4, 0, 4]])
    np.testing.assert_array_equal(picked.weights[1], batch.weights[1][[4, 0, 4]])


def test_exact_batches_are_not_packed_and_garbage_is_not_unpacked() -> None:
    ((_, exact),) = parse_batches([SEED], exact=True)
    with pytest.raises(ValueError, match="exact"):
        pack([exact])
    ((_, batch),) = parse_batches([SEED])
    data = pack([batch])
    for broken in (data[:-8], data + b"\0" * 8, b"{}" + data):
        with pytest.raises(ValueError):
            unpack(broken)


def test_a_packed_network_that_fails_fails_alone_with_the_error_analyze_gives() -> None:
    good = _networks(4, [2, 3, 2, 1], 4)
    overflow = good.pop(1)
    overflow["weights"][-1] = [[1e200, 1e200]]  # Out near 1e200: its squared error is inf
    specs = [good[0], overflow, good[1], good[2]]
    ((_, batch),) = parse_batches(specs)
    outcomes = analyze_packed(unpack(pack([batch])), {})
    assert [result for result, _ in outcomes[::2]] == analyze_many([good[0], good[1]])
    assert outcomes[3][0] == analyze(good[2])
    failed, failure = outcomes[1]
    assert failed is None and failure is not None
    with pytest.raises(Exception) as caught:
        analyze(overflow)
    assert failure == {"error": problem_of(caught.value, network="network")}  # type: ignore[arg-type]
