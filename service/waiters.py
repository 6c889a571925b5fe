"""A bound on requests that block waiting (``?wait=``, result streams, on-demand pages).

Each waiting request holds one of the WSGI server's threads. Without a bound, a few
clients waiting on slow jobs (or holding result streams open for an hour) would
leave no thread for anyone else, health checks included. Past the bound a request
simply does not wait: a job answers 202 at once (poll it), a result stream ends at
the first unfinished line (reopen it with ``?start=``), a page not yet computed
answers 503 with ``Retry-After``. ``PATHGRAD_MAX_WAITERS`` sets the bound; keep it
below the server's thread count.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Waiters"]


class Waiters:
    """At most ``limit`` requests waiting at once; the others go on without waiting.

    Parameters
    ----------
    limit : int
        Concurrent waiters allowed; 0 lets no request wait.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(0, int(limit))
        self._slots = threading.BoundedSemaphore(self.limit) if self.limit else None

    def __repr__(self) -> str:
        return f"Waiters(limit={self.limit})"

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Take a waiting slot if one is free; yield whether this request may wait."""
        taken = self._slots is not None and self._slots.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken and self._slots is not None:
                self._slots.release()
