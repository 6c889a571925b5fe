"""Pages computed on demand by the workers: path pages, formulas, gradings, exercises.

A page is cached under a key derived from what it is of (``Store.page_key``). The
API answers from the cache, or sends the page's task (once, however many ask at
the same time) and waits, bounded by ``COMPUTE_WAIT``, for a worker to cache it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from worker.problems import problem
from worker.store import Store

from .extensions import waiters
from .problems import ProblemError

__all__ = ["on_demand"]


def on_demand(store: Store, page_key: str, task: Any, args: list[Any]) -> dict[str, Any]:
    """Return a cached page, or have a worker compute it and wait (bounded) for it.

    ``task`` is sent with ``args`` unless one is already computing the page: many
    clients may ask for the same page at once.
    """

    def send() -> None:
        if store.claim(page_key, task.name) is None:
            task.apply_async(args=args)

    page = store.page(page_key)
    if page is None:
        with waiters().slot() as may_wait:
            page = store.wait("page:" + page_key, lambda: store.page(page_key),
                              float(current_app.config["COMPUTE_WAIT"]) if may_wait else 0.0,
                              start=send)
    if page is None:
        raise ProblemError(
            problem(503, "Still computing", "the workers have not finished this yet; "
                    "retry in a few seconds", slug="busy"),
            headers={"Retry-After": "5"},
        )
    if "error" in page:
        raise ProblemError(page["error"])
    return page
