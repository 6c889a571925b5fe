"""Drawing distractor-proof exercises: 500 variants of the seed exercise.

The README's exercise (``pathgrad exercise --layers 2,3,2,1 --activation identity
--loss l1 --seed 7 --ask W1,W7 --integers -3..3 --count 500``): every variant is
redrawn until no asked gradient touches a kink, not all are 0, and every slip the
grader diagnoses gives a value of its own within the grading tolerance. Reported:
the wall time (best of 3, SymPy already imported and the formulas of this shape
built, as in a long-running worker), and the mean number of networks drawn per
accepted variant, with the share of variants drawn at the first try.
"""

from __future__ import annotations

from typing import Any

from worker.coursework.exercises import exercise, exercises

from .common import best_of, report

COUNT = 500
REQUEST: dict[str, Any] = {"layers": (2, 3, 2, 1), "activation": "identity", "loss": "l1",
                           "ask": ("W1", "W7"), "integers": (-3, 3)}
SEED = 7


def run() -> dict[str, Any]:
    """Time 500 variants and count their draws."""
    exercise(seed=SEED, **REQUEST)  # imports SymPy and builds the shape's formulas
    seconds = best_of(lambda: exercises(COUNT, seed=SEED, **REQUEST), repeat=3)
    drawn = exercises(COUNT, seed=SEED, **REQUEST)
    draws = [variant["draws"] for variant in drawn]
    distractors = [len(key["distractors"]) for variant in drawn
                   for key in variant["answers"].values()]
    return report("exercises", {
        "variants": COUNT,
        "wall_seconds": seconds,
        "ms_per_variant": 1000 * seconds / COUNT,
        "mean_draws_per_variant": sum(draws) / COUNT,
        "max_draws_of_a_variant": max(draws),
        "first_draw_accepted": sum(d == 1 for d in draws) / COUNT,
        "mean_distractors_per_weight": sum(distractors) / len(distractors),
        "target": "none (reported)",
        "met": True,
    })


if __name__ == "__main__":
    run()
