"""Celery task of the grading resource: grade an answer set, cache the grading as a page.

Like the formula task, the grading goes to the page cache (``Store.save_page``)
under a key the API derives from the request, so the API waits for it and an
identical request is answered from the cache. Grading is a pure function of the
request, so a redelivered task only rewrites the same page. The page holds the
grading and how long it took (``seconds`` in all, ``timings`` per asked name), for
Gradescope's ``execution_time`` and JUnit's ``time``.
"""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task

from .coursework.grading import AnswerKey
from .tasks import compute_page, task_store

__all__ = ["grade"]


@shared_task(name="pathgrad.grade")
def grade(page_key: str, request: dict[str, Any]) -> None:
    """Grade ``request["answers"]`` on ``request["ask"]`` for ``request["network"]``; cache it."""
    store = task_store()
    try:
        compute_page(store, page_key, lambda: _graded(request))
    finally:
        store.release(page_key)


def _graded(request: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    grading = AnswerKey(request["network"], **request["options"]).grade(
        request["answers"], ask=request.get("ask"), tolerance=request["tolerance"],
        points=request["points"], partial=request.get("partial"), timings=timings)
    return {"grading": grading, "seconds": time.perf_counter() - started, "timings": timings}
