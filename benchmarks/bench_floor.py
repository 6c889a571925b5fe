"""Full ``analyze`` vs the bare NumPy broadcast chain that computes the same path products.

Network [2, 10, 10, 10, 10, 10, 10, 10, 1], tanh: 10^7 suffix paths from layer 1,
11,111,111 in all. The floor builds every layer's suffix-path tensor from the
one above with one broadcast multiply and sums it; it has no validation, no
backprop, no agreement check, no chunking and no result dicts. Target: analyze
within 2x of the floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.common import best_of, random_spec, report
from worker.engine import analyze

LAYERS = [2] + [10] * 7 + [1]


def floor(spec: dict[str, Any]) -> list[np.ndarray]:
    """Forward pass, then T_m = s_m * W_{m+1}^T (x) T_{m+1} for every layer, each summed."""
    weights = [np.array(w) for w in spec["weights"]]
    biases = [np.array(b) for b in spec["biases"]]
    values, slopes = [np.array(spec["input"])], [None]
    for w, b in zip(weights, biases, strict=True):
        t = np.tanh(w @ values[-1] + b)
        values.append(t)
        slopes.append(1.0 - t * t)
    paths = slopes[-1] * (values[-1] - np.array(spec["target"]))
    sums = [paths]
    for m in range(len(weights) - 1, 0, -1):
        coef = np.ascontiguousarray(slopes[m][:, None] * weights[m].T)
        paths = coef.reshape(coef.shape + (1,) * (paths.ndim - 1)) * paths[None]
        sums.append(paths.reshape(paths.shape[0], -1).sum(axis=1))
    return [s[:, None] * a[None, :] for s, a in zip(sums[::-1], values[:-1], strict=True)]


def run() -> dict[str, Any]:
    spec = random_spec(LAYERS, "tanh", "half_sse", seed=2, scale=0.5)
    result = analyze(spec)
    expected = floor(spec)
    got = [[w["path_sum"] for w in result["weights"] if w["layer"] == l]
           for l in range(1, len(LAYERS))]
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(np.array(g), e.ravel(), rtol=1e-8, atol=1e-15)
    floor_time = best_of(lambda: floor(spec), repeat=5)
    analyze_time = best_of(lambda: analyze(spec), repeat=5)
    return report("floor", {
        "network": str(LAYERS),
        "paths_enumerated": result["paths_enumerated"],
        "floor_s": floor_time,
        "analyze_s": analyze_time,
        "ratio_analyze_to_floor": analyze_time / floor_time,
        "target": "<= 2x",
        "met": analyze_time / floor_time <= 2,
    })


if __name__ == "__main__":
    run()
