"""What the app keeps for its requests, and the one way each is reached.

:func:`init_app` builds them from the app's settings: the Redis store of jobs,
results and pages, the batch store beside it, the API process's copies of recently
read jobs, and the bound on requests that wait.
"""

from __future__ import annotations

from flask import Flask, current_app

from worker.batch_store import BatchStore
from worker.store import Store

from .recent import RecentJobs
from .waiters import Waiters

__all__ = ["batch_store", "init_app", "recent", "store", "waiters"]


def init_app(app: Flask) -> None:
    """Build the app's store, batch store, recent jobs and waiters from its settings."""
    kept = Store.from_settings(app.config["CELERY"]["pathgrad"])
    app.extensions["pathgrad_store"] = kept
    app.extensions["pathgrad_batches"] = BatchStore(kept)
    app.extensions["pathgrad_recent"] = RecentJobs(float(app.config["LOCAL_CACHE_TTL"]),
                                                   int(app.config["LOCAL_CACHE_BYTES"]))
    app.extensions["pathgrad_waiters"] = Waiters(int(app.config["MAX_WAITERS"]))


def store(app: Flask | None = None) -> Store:
    """The Redis store of jobs, results and pages (of ``app``, else of this request's)."""
    found: Store = (app or current_app).extensions["pathgrad_store"]
    return found


def batch_store(app: Flask | None = None) -> BatchStore:
    """The batches' records, lines and outcomes, beside :func:`store`'s results."""
    found: BatchStore = (app or current_app).extensions["pathgrad_batches"]
    return found


def recent(app: Flask | None = None) -> RecentJobs:
    """The succeeded jobs this API process has served lately."""
    found: RecentJobs = (app or current_app).extensions["pathgrad_recent"]
    return found


def waiters(app: Flask | None = None) -> Waiters:
    """The bound on requests that block waiting."""
    found: Waiters = (app or current_app).extensions["pathgrad_waiters"]
    return found
