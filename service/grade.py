"""The grading resource: grade hand-computed gradients, as JSON, Gradescope or JUnit.

``POST /v1/grade`` validates the request here (422 naming the field), then a
worker runs the analysis and grades the answers; the API waits, bounded by
``COMPUTE_WAIT``, for the grading in the page cache. The cache key hashes the
canonical network and options with the answers, asked names, tolerance and
points, so an identical request is answered at once and graded only once.

The graded set is what the caller asked (``ask``, else the names of ``points``),
never what the answers happen to name: a request with neither is refused. The
tolerance may be ``{"rtol", "atol"}``, ``{"sigfig": n}`` or ``{"decdig": n}``, and
``partial`` gives credit per diagnosis. Gradescope's ``execution_time`` and JUnit's
``time`` are the worker's seconds grading the request.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from worker import engine
from worker.coursework.formats import MEDIA_TYPES, gradescope, junit
from worker.coursework.grading import (
    GradingError,
    check_answers,
    check_asked,
    parse_partial,
    parse_points,
    parse_tolerance,
)
from worker.grading_tasks import grade as grade_task
from worker.store import content_hash

from . import extensions
from .models import GradeQuery, GradeRequest
from .pages import on_demand
from .validation import checked_network, job_options, json_body

__all__ = ["GRADING_VERSION", "bp"]

bp = Blueprint("grade", __name__, url_prefix="/v1/grade")

# Part of the cache key, beside the engine's: bump it when feedback or diagnoses change.
GRADING_VERSION = "3"


@bp.post("")
def grade() -> Any:
    """Grade an answer set; ``?format=json|gradescope|junit``."""
    query = GradeQuery.model_validate(request.args.to_dict())
    fmt = query.format
    body = json_body()
    GradeRequest.model_validate(body)
    options = job_options(body.get("options") or {})
    network = checked_network(body["network"], options)
    answers = check_answers(body["answers"])
    tolerance = parse_tolerance(body.get("tolerance")).to_dict()
    points = parse_points(body["points"]) if body.get("points") is not None else None
    partial = parse_partial(body.get("partial"))
    ask = _asked(network.layers, body.get("ask"), points)
    canonical, settings = network.to_dict(), options.to_dict()
    key = content_hash(canonical, settings, engine.ENGINE_VERSION)
    store = extensions.store()
    page_key = store.page_key(key, {"grade": list(answers.items()), "ask": ask,
                                    "tolerance": tolerance, "points": points,
                                    "partial": partial, "grading": GRADING_VERSION})
    job = {"network": canonical, "options": settings, "answers": answers, "ask": ask,
           "tolerance": tolerance, "points": points, "partial": partial}

    page = on_demand(store, page_key, grade_task, [page_key, job])
    grading = page["grading"]
    if fmt == "junit":
        return Response(junit(grading, timings=page["timings"], seconds=page["seconds"]),
                        mimetype=MEDIA_TYPES["junit"])
    if fmt == "gradescope":
        return gradescope(grading, execution_time=page["seconds"], visibility=query.visibility)
    return grading


def _asked(layers: tuple[int, ...], ask: Any, points: dict[str, float] | None) -> list[str]:
    """The graded names, checked against the network; one of ask and points is required."""
    asked = check_asked(layers, ask, points)
    if asked is None:
        raise GradingError("ask", 'expected the names of the graded parameters, such as '
                           '["W1", "W7"] (or give points): only what was asked is graded')
    return asked
