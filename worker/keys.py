"""Every Redis key pathgrad uses, named in one place (all under ``pathgrad:``).

::

    pathgrad:job:<id>              a job record (JSON): status, timestamps, error   JOB_TTL
    pathgrad:input:<hash>          the canonical network and options of a job        CACHE_TTL
    pathgrad:result:<hash>         the analysis result (JSON)                        CACHE_TTL
    pathgrad:inflight:<hash>       the id of the job computing <hash> right now      time limit
    pathgrad:page:<hash>:<digest>  a page of path contributions, or a formula        CACHE_TTL
    pathgrad:worker:<hostname>     a worker node: its pool size, last heartbeat      10 s
    pathgrad:leases:<queue>        what must be finished, or looked at again, by when
    pathgrad:sweeper:<queue>       which worker sweeps the queue's leases now
    pathgrad:batch:<id>[:<part>]   a batch's record and parts (worker.batch_store)
    pathgrad:done:<channel>        PUBLISHed when a job, page or batch line finishes

``<hash>`` is a content hash (:func:`worker.store.content_keys`). Celery's own keys
(the queue, ``unacked``) are kombu's, not listed here.
"""

from __future__ import annotations

__all__ = [
    "PREFIX",
    "RESULT_PREFIX",
    "batch",
    "done",
    "inflight",
    "job",
    "job_input",
    "leases",
    "page",
    "result",
    "sweeper",
    "worker",
    "worker_name",
    "workers",
]

PREFIX = "pathgrad:"
#: What a result's key is made of, for scripts that build result keys from hashes.
RESULT_PREFIX = PREFIX + "result:"
_WORKER = PREFIX + "worker:"


def job(job_id: str) -> str:
    """A job's record."""
    return PREFIX + "job:" + job_id


def job_input(key: str) -> str:
    """The canonical network and options of content hash ``key``."""
    return PREFIX + "input:" + key


def result(key: str) -> str:
    """The cached result of content hash ``key``."""
    return RESULT_PREFIX + key


def inflight(key: str) -> str:
    """Who computes ``key`` (a content hash or a page key) right now."""
    return PREFIX + "inflight:" + key


def page(page_key: str) -> str:
    """A cached page (path contributions, a formula, a grading, exercises)."""
    return PREFIX + "page:" + page_key


def worker(hostname: str) -> str:
    """A worker node's presence."""
    return _WORKER + hostname


def workers() -> str:
    """The pattern of every worker node's presence key."""
    return _WORKER + "*"


def worker_name(key: str) -> str:
    """The worker node of a presence key."""
    return key.removeprefix(_WORKER)


def leases(queue: str) -> str:
    """The leases of a queue's unfinished work."""
    return PREFIX + "leases:" + queue


def sweeper(queue: str) -> str:
    """The lock of the worker that sweeps a queue's leases."""
    return PREFIX + "sweeper:" + queue


def batch(batch_id: str, part: str = "") -> str:
    """A batch's record, or one of its parts (``:lines``, ``:done``, ``:chunk:3``)."""
    return PREFIX + "batch:" + batch_id + part


def done(channel: str) -> str:
    """The channel that wakes whoever waits for ``channel`` (``job:<id>``, ``page:<key>``)."""
    return PREFIX + "done:" + channel
