"""Celery task of the exercises resource: draw exercises, cache them as a page.

Like the formula task, the answer goes to the page cache (``Store.save_page``)
under a key the API derives from the request, so the API can wait for it and a
repeated request is answered from the cache. The task is idempotent: the same
request always draws the same exercises.
"""

from __future__ import annotations

from typing import Any

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from .engine.errors import PathgradError
from .engine.exercises import exercises
from .problems import problem, time_limit_problem
from .store import Store

__all__ = ["draw_exercises", "exercise_problem"]

# Seconds an unexpected error stays cached (a retry after that draws again).
INTERNAL_ERROR_TTL = 30

_stores: dict[str, Store] = {}


def task_store() -> Store:
    settings = current_app.conf["pathgrad"]
    key = repr(sorted(settings.items()))
    if key not in _stores:
        _stores[key] = Store.from_settings(settings)
    return _stores[key]


def exercise_problem(exc: PathgradError) -> dict[str, Any]:
    """Return the problem of an invalid exercise request, its field named as in the body."""
    return problem(exc.status, exc.title, str(exc), slug="invalid-exercise",
                   errors=[{"field": exc.field, "message": exc.message}])


@shared_task(name="pathgrad.exercises")
def draw_exercises(page_key: str, request: dict[str, Any]) -> None:
    """Draw ``request["count"]`` exercises and cache ``{"exercises": [...]}`` under page_key."""
    store = task_store()
    params = dict(request)
    count, seed = params.pop("count"), params.pop("seed")
    try:
        store.save_page(page_key, {"exercises": exercises(count, seed=seed, **params)})
    except SoftTimeLimitExceeded:
        limit = float(current_app.conf.task_soft_time_limit or 0)
        store.save_page(page_key, {"error": time_limit_problem(limit)})
    except PathgradError as exc:
        store.save_page(page_key, {"error": exercise_problem(exc)})
    except Exception as exc:
        store.save_page(page_key, {"error": problem(
            500, "Internal error", f"the worker failed: {type(exc).__name__}: {exc}",
            slug="internal")}, ttl=INTERNAL_ERROR_TTL)
        raise  # logged by Celery as a failed task
    finally:
        store.release(page_key)
