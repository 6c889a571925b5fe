"""Shared helpers: timing on a noisy machine, random networks, reporting."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["best_of", "random_spec", "report", "seed_specs"]

RESULTS = Path(__file__).parent / "results"


def best_of(function: Callable[[], Any], repeat: int = 5) -> float:
    """Return the fastest of ``repeat`` wall-clock timings: the least disturbed by other load.

    As :mod:`timeit` does, garbage is collected once before the series and the cyclic
    collector is off while a call is timed (a collection triggered by earlier calls'
    garbage is noise, not the call's cost). The clock stops when the call returns:
    freeing what it returned happens later, when the caller lets go of it.
    """
    times = []
    gc.collect()
    enabled = gc.isenabled()
    for _ in range(repeat):
        gc.disable()
        try:
            start = time.perf_counter()
            returned = function()
            times.append(time.perf_counter() - start)
        finally:
            if enabled:
                gc.enable()
        del returned
    return min(times)


def random_spec(
    layers: list[int], activation: str, loss: str, seed: int = 0, scale: float = 1.0
) -> dict[str, Any]:
    """Return a spec with uniform random weights in [-scale, scale]."""
    rng = np.random.default_rng(seed)
    return {
        "layers": layers,
        "weights": [rng.uniform(-scale, scale, (n, m)).tolist()
                    for m, n in zip(layers[:-1], layers[1:], strict=True)],
        "biases": [rng.uniform(-0.1, 0.1, n).tolist() for n in layers[1:]],
        "activation": activation,
        "input": rng.uniform(-1, 1, layers[0]).tolist(),
        "target": rng.uniform(-1, 1, layers[-1]).tolist(),
        "loss": loss,
    }


def seed_specs(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Return ``count`` distinct networks shaped like the seed question's (2-3-2-1, l1)."""
    rng = np.random.default_rng(seed)
    specs = []
    for _ in range(count):
        specs.append({
            "layers": [2, 3, 2, 1],
            "weights": [rng.uniform(-1, 1, (3, 2)).round(4).tolist(),
                        rng.uniform(-1, 1, (2, 3)).round(4).tolist(),
                        rng.uniform(-1, 1, (1, 2)).round(4).tolist()],
            "biases": [[0.0] * 3, [0.0] * 2, [0.0]],
            "activation": "identity",
            "input": rng.uniform(-1, 1, 2).round(4).tolist(),
            "target": rng.uniform(-1, 1, 1).round(4).tolist(),
            "loss": "l1",
        })
    return specs


def report(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Print one benchmark's figures and save them under benchmarks/results/."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"== {name}")
    for key, value in figures.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"   {key}: {shown}")
    return figures
