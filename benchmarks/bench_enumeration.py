"""Explicit enumeration of every weight-path vs the obvious per-path Python loop.

Network [4, 12, 12, 12, 12, 3], tanh, half_sse. Both sides enumerate the same
weight-paths (u -> v -> ... -> output for every weight u -> v), form each
path's contribution as one product and sum them into dLoss/dW. The forward pass
is shared and not timed. Target: the engine at least 500x faster.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from benchmarks.common import best_of, random_spec, report
from worker.engine import analyze
from worker.engine.batch import stack
from worker.engine.forward import Forward, forward
from worker.engine.paths import SuffixPaths, path_sums
from worker.engine.spec import parse_spec

LAYERS = [4, 12, 12, 12, 12, 3]


def engine_path_sums(batch: Any, passed: Forward) -> list[np.ndarray]:
    """The engine's enumeration as ``analyze`` runs it.

    Every suffix path v -> ... -> output is materialised as one product; a
    weight-path u -> v -> ... adds the factor a_u, which is common to all paths of
    the weight and multiplies their sum.
    """
    sums = path_sums(batch.weights, passed.derivatives, passed.loss_gradient)
    return [sums[l][0, 0][:, None] * passed.values[l - 1][0, 0][None, :]
            for l in range(1, len(sums))]


def engine_enumeration(batch: Any, passed: Forward) -> list[np.ndarray]:
    """Materialise every weight-path contribution a_u * T_l[v, ...] and sum them per weight."""
    # One sample: the sample axis of the forward pass dropped.
    suffix = SuffixPaths(batch.weights, [None if d is None else d[:, 0] for d in
                                         passed.derivatives], passed.loss_gradient[:, 0])
    layers = batch.layers
    gradients = []
    for l in range(1, len(layers)):
        source = passed.values[l - 1][0, 0]
        if l >= suffix.lowest_held:
            # contribution[v, u, q] = a_u * T_l[v, q]: one product per weight-path.
            block = suffix.held[l][0]
            gradients.append((block[:, None, :] * source[None, :, None]).sum(axis=2))
            continue
        total = np.zeros((layers[l], layers[l - 1]))
        per_node = math.prod(layers[l + 1 : suffix.lowest_held])
        for start, block in suffix.rows(l, 0):
            contributions = block[:, None, :] * source[None, :, None]
            first_row = start // block.shape[1]
            owner = np.arange(first_row, first_row + len(block)) // per_node
            np.add.at(total, owner, contributions.sum(axis=2))
        gradients.append(total)
    return gradients


def python_loop(batch: Any, passed: Forward) -> list[list[list[float]]]:
    """The obvious loop: for every weight, for every path, multiply along it and add."""
    layers = batch.layers
    weights = [w[0].tolist() for w in batch.weights]
    values = [v[0, 0].tolist() for v in passed.values]
    slopes = [None] + [d[0, 0].tolist() for d in passed.derivatives[1:]]  # type: ignore[index]
    loss_gradient = passed.loss_gradient[0, 0].tolist()
    gradients = []
    for l in range(1, len(layers)):
        grad = [[0.0] * layers[l - 1] for _ in range(layers[l])]
        later = [range(n) for n in layers[l + 1 :]]
        for i in range(layers[l]):
            for j in range(layers[l - 1]):
                total = 0.0
                for path in itertools.product(*later):
                    product, prev = values[l - 1][j] * slopes[l][i], i
                    for m, k in enumerate(path, start=l + 1):
                        product *= weights[m - 1][k][prev] * slopes[m][k]
                        prev = k
                    total += product * loss_gradient[prev]
                grad[i][j] = total
        gradients.append(grad)
    return gradients


def run() -> dict[str, Any]:
    spec = random_spec(LAYERS, "tanh", "half_sse", seed=1)
    batch = stack([parse_spec(spec)])
    passed = forward(batch)
    weight_paths = sum(
        LAYERS[l] * LAYERS[l - 1] * math.prod(LAYERS[l + 1 :]) for l in range(1, len(LAYERS)))
    theirs = python_loop(batch, passed)
    for ours in (engine_path_sums(batch, passed), engine_enumeration(batch, passed)):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, np.array(b), rtol=1e-9, atol=1e-12)
    engine_time = best_of(lambda: engine_path_sums(batch, passed), repeat=20)
    materialised_time = best_of(lambda: engine_enumeration(batch, passed), repeat=20)
    loop_time = best_of(lambda: python_loop(batch, passed), repeat=2)
    analyze_time = best_of(lambda: analyze(spec), repeat=20)
    return report("enumeration", {
        "network": str(LAYERS),
        "weight_paths": weight_paths,
        "python_loop_s": loop_time,
        "engine_path_sums_s": engine_time,
        "speedup": loop_time / engine_time,
        "engine_every_weight_path_materialised_s": materialised_time,
        "speedup_every_weight_path_materialised": loop_time / materialised_time,
        "full_analyze_s": analyze_time,
        "speedup_full_analyze": loop_time / analyze_time,
        "target": ">= 500x",
        "met": loop_time / engine_time >= 500,
    })


if __name__ == "__main__":
    run()
