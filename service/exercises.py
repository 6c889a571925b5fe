"""The exercises resource: backprop exercises with answer keys, drawn by a worker, cached.

``POST /v1/exercises`` validates the request here (422 naming the field: the
network shape, the tolerance, partial credit, points and the draws), then
has a worker draw the exercises (SymPy builds the formulas) and waits, bounded
by ``COMPUTE_WAIT``, for the answer in the page cache. The cache key is a hash of
the canonical request, so a repeated request is answered at once; a request
still being drawn answers 503 with ``Retry-After`` and is not drawn twice.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from worker import engine
from worker.coursework.errors import GradingError
from worker.coursework.exercises import (
    EXERCISE_VERSION,
    MAX_TOTAL_DRAWS,
    ExerciseError,
    parse_exercise,
)
from worker.exercise_tasks import draw_exercises
from worker.problems import problem_of

from . import extensions
from .models import ExerciseRequest
from .pages import on_demand
from .problems import ProblemError
from .validation import json_body

__all__ = ["bp"]

bp = Blueprint("exercises", __name__, url_prefix="/v1/exercises")


@bp.post("")
def create() -> dict[str, Any]:
    """Draw ``count`` exercises of one network shape, with their answer keys."""
    raw = json_body()
    body = ExerciseRequest.model_validate(raw)
    try:
        # The tolerance as sent: the model fills in rtol and atol beside a sigfig.
        params = parse_exercise(layers=body.layers, activation=body.activation, loss=body.loss,
                                ask=body.ask, integers=body.integers, fractions=body.fractions,
                                tolerance=raw.get("tolerance"), partial=body.partial,
                                points=body.points, max_draws=body.max_draws)
    except (ExerciseError, GradingError) as exc:
        raise ProblemError(problem_of(exc)) from None
    if body.count * params.max_draws > MAX_TOTAL_DRAWS:
        raise ProblemError(problem_of(ExerciseError(
            "max_draws", f"expected count * max_draws of at most {MAX_TOTAL_DRAWS:,}, got "
            f"{body.count} * {params.max_draws}")))
    canonical = params.to_dict() | {"seed": body.seed, "count": body.count}
    store = extensions.store()
    page_key = store.page_key("exercises", {"request": canonical, "engine": engine.ENGINE_VERSION,
                                            "exercise": EXERCISE_VERSION})

    return on_demand(store, page_key, draw_exercises, [page_key, canonical])

