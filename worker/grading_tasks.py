"""Celery task of the grading resource: grade an answer set, cache the grading as a page.

Like the formula task, the grading goes to the page cache (``Store.save_page``)
under a key the API derives from the request, so the API waits for it and an
identical request is answered from the cache. Grading is a pure function of the
request, so a redelivered task only rewrites the same page.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .coursework.grading import grade as grade_answers
from .tasks import compute_page, task_store

__all__ = ["grade"]


@shared_task(name="pathgrad.grade")
def grade(page_key: str, request: dict[str, Any]) -> None:
    """Grade ``request["answers"]`` on ``request["ask"]`` for ``request["network"]``; cache it."""
    store = task_store()
    try:
        compute_page(store, page_key, lambda: grade_answers(
            request["network"], request["answers"], ask=request.get("ask"),
            tolerance=request["tolerance"], points=request["points"], **request["options"]))
    finally:
        store.release(page_key)
