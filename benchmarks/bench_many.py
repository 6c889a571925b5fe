"""``analyze_many`` on 2,000 seed-shaped networks vs a loop of PyTorch autograd over them.

The PyTorch side builds tensors from each spec, runs forward and backward and
reads the gradients back as lists (single-threaded, float64). pathgrad's side
returns the full result of docs/CONTRACT.md section 2 for every network: both
methods, agreement, names. Target: at least 10x faster. PyTorch is an optional,
benchmark-only dependency (``pip install torch==2.13.0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.common import best_of, report, seed_specs
from worker.engine import analyze_many
from worker.engine.analysis import analyze_batch
from worker.engine.batch import parse_batches
from worker.engine.options import parse_options

COUNT = 2000


def torch_loop(specs: list[dict[str, Any]]) -> list[Any]:
    """The obvious loop: one autograd graph per network."""
    import torch

    gradients = []
    for spec in specs:
        weights = [torch.tensor(w, dtype=torch.float64, requires_grad=True)
                   for w in spec["weights"]]
        biases = [torch.tensor(b, dtype=torch.float64, requires_grad=True)
                  for b in spec["biases"]]
        a = torch.tensor(spec["input"], dtype=torch.float64)
        for w, b in zip(weights, biases, strict=True):
            a = w @ a + b
        loss = (a - torch.tensor(spec["target"], dtype=torch.float64)).abs().sum()
        loss.backward()
        gradients.append([w.grad.tolist() for w in weights])  # type: ignore[union-attr]
    return gradients


def numeric_core(specs: list[dict[str, Any]]) -> None:
    """Validation and every computation of analyze_many, without building the result dicts."""
    options = parse_options({})
    for _, batch in parse_batches(specs):
        analyze_batch(batch, options)


def run() -> dict[str, Any]:
    specs = seed_specs(COUNT, seed=3)
    ours = analyze_many(specs)
    pathgrad_time = best_of(lambda: analyze_many(specs), repeat=7)
    core_time = best_of(lambda: numeric_core(specs), repeat=7)
    figures: dict[str, Any] = {"networks": COUNT, "analyze_many_s": pathgrad_time,
                               "numeric_core_s": core_time}
    try:
        import torch
    except ImportError:
        figures["torch"] = "not installed: pip install torch==2.13.0"
        return report("many", figures)
    torch.set_num_threads(1)
    theirs = torch_loop(specs)
    for result, grads in zip(ours, theirs, strict=True):
        flat = [g for layer in grads for row in layer for g in row]
        np.testing.assert_allclose([w["gradient"] for w in result["weights"]], flat,
                                   rtol=1e-12, atol=1e-12)
    torch_time = best_of(lambda: torch_loop(specs), repeat=3)
    figures.update({
        "torch_loop_s": torch_time,
        "speedup": torch_time / pathgrad_time,
        "speedup_numeric_core": torch_time / core_time,
        "target": ">= 10x",
        "met": torch_time / pathgrad_time >= 10,
    })
    return report("many", figures)


if __name__ == "__main__":
    run()
