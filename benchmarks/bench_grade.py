"""Grading many answer sets for one network through the offline CLI: sets per second.

Target (issue 4): at least 1,000 answer sets a second through ``pathgrad grade
--answers sets.ndjson``, wall time including the process start-up. The sets are
the seed network's 14 weights and 6 biases, a mix of right answers and the
common slips (sign errors, single paths, rounding), so diagnosis is exercised too.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pathgrad import examples

from .common import report

ROOT = Path(__file__).resolve().parent.parent
SEED = Path(examples.path("seed"))
SETS = 1_000
TARGET = 1_000.0
# Every parameter of the seed network is asked: the graded set is the instructor's.
ASK = ",".join([f"W{k}" for k in range(1, 15)] + [f"b_{n}" for n in
                                                  ("H1", "H2", "H3", "H4", "H5", "Out")])


def answer_sets(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Return ``count`` answer sets for the seed network: mostly right, some slips."""
    from worker.engine import analyze

    result = analyze(json.loads(SEED.read_text()))
    expected = {p["name"]: p["gradient"] for p in (*result["weights"], *result["biases"])}
    rng = random.Random(seed)
    sets = []
    for index in range(count):
        answers: dict[str, Any] = {}
        for name, value in expected.items():
            roll = rng.random()
            if roll < 0.7:
                answers[name] = round(value, 9)
            elif roll < 0.8:
                answers[name] = -value
            elif roll < 0.9:
                answers[name] = f"{value * 1.001:.4f}"
            else:
                answers[name] = rng.choice(["1/2", "abc", 0, 7])
        sets.append({"id": f"student-{index}", **answers})
    return sets


def run() -> dict[str, Any]:
    """Time ``pathgrad grade`` on 1,000 answer sets (best of 3 runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sets.ndjson"
        path.write_text("".join(json.dumps(s) + "\n" for s in answer_sets(SETS)))
        command = [*_pathgrad(), "grade", "--network", str(SEED), "--answers", str(path),
                   "--ask", ASK, "--out", str(Path(tmp) / "graded.ndjson")]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True)
            times.append(time.perf_counter() - start)
        lines = (Path(tmp) / "graded.ndjson").read_text().splitlines()
        one = Path(tmp) / "one.ndjson"
        one.write_text(json.dumps(answer_sets(1)[0]) + "\n")
        startup = _startup(one)
    best = min(times)
    rate = SETS / best
    return report("grade", {
        "answer_sets": SETS,
        "answers_per_set": 20,
        "graded_lines": len(lines),
        "wall_seconds": best,
        "startup_seconds": startup,
        "sets_per_second": rate,
        "target": f">= {TARGET:.0f} sets/s",
        "met": rate >= TARGET and len(lines) == SETS,
    })


def _pathgrad() -> list[str]:
    """The installed ``pathgrad`` script beside this Python, else ``python -m pathgrad``."""
    script = Path(sys.executable).parent / "pathgrad"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pathgrad"]


def _startup(one: Path) -> float:
    """Seconds to grade a single answer set: start-up (imports, analysis) dominates it."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([*_pathgrad(), "grade", "--network", str(SEED), "--answers", str(one),
                        "--ask", ASK],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    run()
