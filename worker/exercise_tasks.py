"""Celery task of the exercises resource: draw exercises, cache them as a page.

Like the formula task, the answer goes to the page cache (``Store.save_page``)
under a key the API derives from the request, so the API can wait for it and a
repeated request is answered from the cache. The task is idempotent: the same
request always draws the same exercises.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .coursework.exercises import exercises
from .tasks import compute_page, task_store

__all__ = ["draw_exercises"]


@shared_task(name="pathgrad.exercises")
def draw_exercises(page_key: str, request: dict[str, Any]) -> None:
    """Draw ``request["count"]`` exercises and cache ``{"exercises": [...]}`` under page_key."""
    store = task_store()
    params = dict(request)
    count, seed = params.pop("count"), params.pop("seed")
    try:
        compute_page(store, page_key, lambda: {"exercises": exercises(count, seed=seed, **params)})
    finally:
        store.release(page_key)
