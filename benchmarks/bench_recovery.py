"""Recovery after faults: the fault-injection test's run, its figures, over several runs.

Issue 8: every accepted job and batch line finishes across a killed pool process and
a Redis restart (``tests/test_faults.py``: a real ``redis-server`` with its
append-only file, the API, a worker of three processes). The figure is the recovery
time: from Redis back up to the last job that was running when it went away
finished, as a multiple of the time Redis was down (the baseline of the same run).
Lost work must be 0.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import report

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def run() -> dict[str, object]:
    """Run the fault test ``RUNS`` times; report the spread of its recovery time."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(RUNS):
            figures = Path(tmp) / f"run-{number}.json"
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                            "tests/test_faults.py"], cwd=ROOT, check=True,
                           env=_env(figures), stdout=subprocess.DEVNULL)
            runs.append(json.loads(figures.read_text()))
    recovery = [r["recovery_seconds"] for r in runs]
    down = runs[0]["redis_down_seconds"]
    return report("recovery", {
        "runs": RUNS,
        "jobs": runs[0]["jobs"],
        "batch_lines": runs[0]["batch_lines"],
        "kills_per_run": runs[0]["kills"],
        "redis_restarts_per_run": runs[0]["redis_restarts"],
        "redis_down_seconds": down,
        "lost": sum(r["lost"] for r in runs),
        "recovery_seconds_min": min(recovery),
        "recovery_seconds_median": statistics.median(recovery),
        "recovery_seconds_max": max(recovery),
        "recovery_over_downtime_median": statistics.median(recovery) / down,
        "target": "lost = 0",
        "met": all(r["lost"] == 0 for r in runs),
    })


def _env(figures: Path) -> dict[str, str]:
    return dict(os.environ) | {"PATHGRAD_FAULT_REPORT": str(figures)}


if __name__ == "__main__":
    run()
