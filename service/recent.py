"""Recently read finished jobs, kept in the API process in front of Redis.

A succeeded job never changes: its record is final and its result is stored
under a content hash. Polling finished jobs is the service's hottest read
(grading pipelines poll), so each API process keeps the response bodies of the
succeeded jobs it has just served for a few seconds (``PATHGRAD_LOCAL_CACHE_TTL``)
within a byte budget (``PATHGRAD_LOCAL_CACHE_BYTES``), and answers a repeat read
without a Redis round trip. A job that expires in Redis may so be served for at
most that many seconds more; a TTL of 0 turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import NamedTuple

__all__ = ["RecentJob", "RecentJobs"]


class RecentJob(NamedTuple):
    """A finished job's response body, who owns it, and when the copy lapses."""

    owner: str | None
    body: bytes
    expires: float


class RecentJobs:
    """A thread-safe, time- and size-bounded LRU map of job id -> :class:`RecentJob`.

    Parameters
    ----------
    ttl : float
        Seconds a body is kept after it was stored; 0 or less keeps nothing.
    max_bytes : int
        Budget for all bodies together; the least recently read go first. A
        body over an eighth of it is not kept (one big result must not flush
        every small one).
    """

    def __init__(self, ttl: float, max_bytes: int) -> None:
        self.ttl = float(ttl)
        self.max_bytes = int(max_bytes)
        self._jobs: OrderedDict[str, RecentJob] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"RecentJobs(ttl={self.ttl:g}, max_bytes={self.max_bytes}, "
                f"jobs={len(self._jobs)}, bytes={self._bytes})")

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> RecentJob | None:
        """Return the kept copy of a job, or None when there is none or it has lapsed."""
        if self.ttl <= 0:
            return None
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.expires <= time.monotonic():
                self._drop(job_id)
                return None
            self._jobs.move_to_end(job_id)
            return job

    def put(self, job_id: str, owner: str | None, body: bytes) -> None:
        """Keep a finished job's response body for ``ttl`` seconds."""
        if self.ttl <= 0 or len(body) > self.max_bytes // 8:
            return
        with self._lock:
            if job_id in self._jobs:
                self._drop(job_id)
            self._jobs[job_id] = RecentJob(owner, body, time.monotonic() + self.ttl)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._jobs)))

    def _drop(self, job_id: str) -> None:
        self._bytes -= len(self._jobs.pop(job_id).body)
