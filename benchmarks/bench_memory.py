"""Peak memory of ``analyze`` on a [2, 10 x 8, 1] network: 10^8 suffix paths from layer 1.

Materialised at once those products would take 800 MB; the engine enumerates
them in bounded blocks. Measured as the peak RSS of a fresh process, next to
the peak RSS of the same process that only imports the engine and builds the
spec (the baseline). Peak RSS is the kernel's VmHWM of that process. Target: peak RSS <= 500 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from benchmarks.common import report

LAYERS = [2] + [10] * 8 + [1]

_CHILD = """
import json, sys, time
from benchmarks.common import random_spec
from worker.engine import analyze
spec = random_spec({layers}, "tanh", "half_sse", seed=4, scale=0.5)
out = {{}}
if {run}:
    start = time.perf_counter()
    result = analyze(spec)
    out = {{"seconds": time.perf_counter() - start, "paths": result["paths_enumerated"],
           "ok": result["agreement"]["ok"]}}
# VmHWM is this process's own peak RSS; getrusage's ru_maxrss survives exec and would
# report the parent's peak when that was larger.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
out["peak_rss_mb"] = int(hwm.split()[1]) / 1024
print(json.dumps(out))
"""


def _child(run: bool) -> dict[str, Any]:
    code = _CHILD.format(layers=LAYERS, run=run)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def run() -> dict[str, Any]:
    baseline = _child(False)
    measured = _child(True)
    return report("memory", {
        "network": str(LAYERS),
        "paths_enumerated": measured["paths"],
        "agreement_ok": measured["ok"],
        "analyze_s": measured["seconds"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "baseline_rss_mb": baseline["peak_rss_mb"],
        "all_products_at_once_mb": measured["paths"] * 8 / 2**20,
        "target": "<= 500 MB",
        "met": measured["peak_rss_mb"] <= 500,
    })


if __name__ == "__main__":
    run()
