"""The batches resource: submit up to 100,000 jobs at once, stream their results in order.

``POST /v1/batches`` checks every job as ``POST /v1/jobs`` does (an invalid one fails
only its own line, with the same problem body), keys each network by content hash,
answers lines whose result is cached at once and sends each distinct uncached network
once, in chunks of up to ``BATCH_CHUNK`` per Celery task grouped by options
(:mod:`service.batch_submit`). ``GET /v1/batches/{id}/results`` streams NDJSON in
submission order: each line is written as soon as it and every line before it have
finished.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Response, current_app, request, url_for

from worker.batch_store import BatchStore, collector_paused
from worker.jsoncodec import dumpb
from worker.problems import problem
from worker.store import Store

from . import extensions
from .auth import owner, owns
from .batch_submit import NDJSON, Submission, job_bodies
from .models import BatchResultsQuery
from .problems import ProblemError, short
from .validation import invalid
from .waiters import Waiters

__all__ = ["MIN_SHARE", "bp", "chunk_size"]

bp = Blueprint("batches", __name__, url_prefix="/v1/batches")

# Lines read from Redis per round trip while streaming.
WINDOW = 1000
MIN_SHARE = 250


@bp.before_request
def _batch_body_limit() -> None:
    request.max_content_length = int(current_app.config["MAX_BATCH_BODY"])


@bp.post("")
def submit() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Check and queue a batch of jobs; 202 with its counts as accepted, and Location."""
    batches = extensions.batch_store()
    with collector_paused():
        bodies = job_bodies()
        cap = int(current_app.config["MAX_BATCH_JOBS"])
        if not 1 <= len(bodies) <= cap:
            raise ProblemError(invalid("jobs", f"expected 1 to {cap} jobs, got {len(bodies)}"))
        batch_id = Store.new_id()
        record = batches.create(batch_id, owner=owner(), total=len(bodies))
        submission = Submission(batches, batch_id, chunk_size(len(bodies)))
        submission.add(bodies)
    record |= {"succeeded": submission.succeeded, "failed": submission.failed}
    return _view(record), 202, {"Location": url_for("batches.get_batch", batch_id=batch_id)}


@bp.get("/<batch_id>")
def get_batch(batch_id: str) -> dict[str, Any]:
    """Return a batch's status and counts."""
    return _view(_record(extensions.batch_store(), batch_id))


@bp.get("/<batch_id>/results")
def results(batch_id: str) -> Response:
    """Stream the result lines in submission order, each once it and those before are done."""
    batches = extensions.batch_store()
    record = _record(batches, batch_id)
    query = BatchResultsQuery.model_validate(request.args.to_dict())
    if query.start > record["total"]:
        raise ProblemError(invalid("start", f"expected at most {record['total']} (the total)"))
    timeout = current_app.config["BATCH_WAIT"] if query.timeout is None else query.timeout
    timeout = min(float(timeout), float(current_app.config["MAX_BATCH_WAIT"]))
    lines = _stream(batches, batch_id, query.start, record["total"], timeout, extensions.waiters())
    return Response(lines, mimetype=NDJSON, headers={"X-Accel-Buffering": "no"})


def chunk_size(total: int) -> int:
    """Jobs per task: at most ``BATCH_CHUNK``, and small enough to cut a batch in four.

    Big tasks amortise the per-task costs (a message, a Redis round trip, a vectorised
    pass); four or more let every worker process share a batch. Tasks of fewer than
    :data:`MIN_SHARE` jobs are not worth cutting a batch for.
    """
    return min(int(current_app.config["BATCH_CHUNK"]), max(MIN_SHARE, math.ceil(total / 4)))


# --- reading ----------------------------------------------------------------------------



def _record(batches: BatchStore, batch_id: str) -> dict[str, Any]:
    record = batches.record(batch_id)
    if record is None or not owns(record):
        raise ProblemError(problem(404, "Unknown batch", f"no batch {short(batch_id)} (or it has "
                                   "expired)", slug="unknown-batch"))
    return record


def _view(record: dict[str, Any]) -> dict[str, Any]:
    total, succeeded, failed = record["total"], record["succeeded"], record["failed"]
    pending = total - succeeded - failed
    status = "running" if pending > 0 else "failed" if failed else "succeeded"
    return {"id": record["id"], "status": status, "total": total, "succeeded": succeeded,
            "failed": failed, "pending": pending, "created_at": record["created_at"]}


def _stream(
    batches: BatchStore, batch_id: str, start: int, total: int, timeout: float,
    bound: Waiters,
) -> Iterator[bytes]:
    """Yield NDJSON: finished lines in order, waiting (bounded) for unfinished ones."""
    with bound.slot() as may_wait:
        yield from _lines(batches, batch_id, start, total, timeout if may_wait else 0.0)


def _lines(
    batches: BatchStore, batch_id: str, start: int, total: int, timeout: float
) -> Iterator[bytes]:
    """The lines from ``start`` on; if Redis goes away, a last line saying where to read on.

    The response has begun by then (status 200, NDJSON), so an error cannot become a
    problem response: the stream ends with ``{"status": "interrupted", "next",
    "error"}`` instead, where ``next`` is the ``?start=`` to read on from.
    """
    position = start
    try:
        for text, count in _windows(batches, batch_id, start, total, timeout):
            yield text
            position += count
    except redis.RedisError as exc:
        current_app.logger.warning("results stream of batch %s: Redis: %s", batch_id, exc)
        error = problem(503, "Service Unavailable", f"the results stream lost Redis after "
                        f"line {position}; read on with ?start={position}", slug="unavailable")
        yield dumpb({"status": "interrupted", "next": position, "error": error}) + b"\n"


def _windows(
    batches: BatchStore, batch_id: str, start: int, total: int, timeout: float
) -> Iterator[tuple[bytes, int]]:
    """Yield (NDJSON, line count) of the finished lines, in order, waiting for the rest."""
    deadline = time.monotonic() + timeout
    with batches.store.subscribed("batch:" + batch_id) as pause:
        position = start
        while position < total:
            stop = min(position + WINDOW, total)
            count, text = batches.window(batch_id, position, stop)
            if count:
                yield text, count
                position += count
            if position == stop:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return  # fewer lines than total: the client reopens with ?start=
            pause(remaining)
