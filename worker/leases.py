"""Leases: what the workers are working on, renewed while they work on it.

Every unfinished job and batch chunk has a lease in Redis (``pathgrad:leases``, see
:class:`~worker.store.Store`): a deadline by which it must be finished or looked at
again. The API gives a queued one :data:`QUEUED` seconds; a task running it renews
a short lease (:data:`RUNNING` seconds, every :data:`RENEW_EVERY`) from a thread of
its worker process for as long as it runs. A lease that runs out therefore means the
work was lost (its message, its process, or its final write), and the sweeper
(:mod:`worker.sweeper`) sends it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from .store import Store

__all__ = ["RENEW_EVERY", "RUNNING", "Renewer", "renewer"]

# Seconds a running task's lease lasts, and how often its process renews it.
RUNNING = 30.0
RENEW_EVERY = 10.0

_log = logging.getLogger(__name__)


class Renewer:
    """One thread per worker process that renews the leases of the work in hand.

    Parameters
    ----------
    store : Store
    seconds : float
        Length of each renewed lease.
    every : float
        Seconds between renewals.
    """

    def __init__(self, store: Store, seconds: float = RUNNING, every: float = RENEW_EVERY) -> None:
        self.store = store
        self.seconds = seconds
        self.every = every
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Renewer(held={sorted(self._held)}, seconds={self.seconds:g})"

    @contextmanager
    def holding(self, member: str) -> Iterator[None]:
        """Renew ``member``'s lease while the block runs (the first renewal is the caller's)."""
        with self._lock:
            self._held[member] = self._held.get(member, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pathgrad-leases",
                                                daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held[member] -= 1
                if not self._held[member]:
                    del self._held[member]

    def _run(self) -> None:
        while not self._wake.wait(self.every):
            with self._lock:
                members = list(self._held)
            if not members:
                continue
            try:
                pipe = self.store.redis.pipeline(transaction=False)
                for member in members:
                    self.store.lease(pipe, member, self.seconds)
                pipe.execute()
            except redis.RedisError as exc:
                # Redis is away: the sweeper waits a renewal period after it is back.
                _log.warning("could not renew leases of %s: %s", members, exc)


_renewers: dict[int, Renewer] = {}


def renewer(store: Store) -> Renewer:
    """The renewer of this process for ``store`` (created on first use)."""
    if id(store) not in _renewers:
        _renewers[id(store)] = Renewer(store)
    return _renewers[id(store)]
