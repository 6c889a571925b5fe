"""Run the benchmarks (``python -m benchmarks``), or the ones named on the command line."""

from __future__ import annotations

import importlib
import sys

ENGINE = ["bench_enumeration", "bench_floor", "bench_many", "bench_memory", "bench_grade",
          "bench_topk", "bench_exercises", "bench_models"]
SERVICE = ["bench_service", "bench_batch", "bench_recovery"]


def main(names: list[str]) -> int:
    """Run the named benchmark modules; print a one-line verdict for those with a target."""
    verdicts = []
    for name in names or ENGINE + SERVICE:
        module = importlib.import_module(f"benchmarks.{name}")
        if hasattr(module, "run"):
            figures = module.run()
            verdicts.append(f"{name}: target {figures.get('target', '-')}: "
                            f"{'met' if figures.get('met') else 'NOT met'}")
        else:
            module.main([])
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
