"""The sweeper: work whose lease ran out is sent again, or failed once it was lost too often.

Every unfinished job and batch chunk holds a lease (:mod:`worker.leases`): queued
work a few tens of seconds, running work a short lease its worker process renews.
A lease runs out when nobody works on the thing any more: its task message was lost
(Redis lost its last writes, or the message never reached it), or its task died
or ended without writing its outcome (Redis was away for longer than the worker's
retries, or the process was killed while Redis was away, so its message could not
go back to the queue).

For each run-out lease the sweeper looks in the broker first. A task message still
in the queue means the work will run: the lease is renewed. A message delivered and
not yet acknowledged means the same for work that has not started (a worker holds
it for its next free process); for work that had started, it is the message of a
task that no longer renews its lease: dead. Work neither waiting nor alive is sent
again, up to ``max_attempts`` sends in all, and then failed with a problem saying it
was lost. Sending twice is harmless: tasks are idempotent (a finished job is left as
it is; a batch records each network's outcome once).

One worker process of the service sweeps at a time (a lock in Redis), every
``sweep_interval`` seconds, from a thread of the worker's main process. After Redis
has been away it waits a renewal period before judging running work, whose
renewals failed meanwhile.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis
from celery import current_app
from celery.signals import worker_ready, worker_shutdown

from . import keys
from .batch_store import BatchStore
from .leases import RENEW_EVERY
from .problems import lost_problem
from .store import Store, task_id, timestamp

__all__ = ["BROKER_SCAN_LIMIT", "Sweeper", "start_sweeper"]

# Messages looked through in the queue per sweep; beyond it everything counts as waiting.
BROKER_SCAN_LIMIT = 20_000
# Where kombu's Redis transport keeps delivered, unacknowledged messages (its default).
UNACKED = "unacked"
_TASK_ID = re.compile(r'"id":\s*"([^"]+)"')

_log = logging.getLogger(__name__)

Send = Callable[[str, int], None]


class Sweeper:
    """Sends again, or fails, the jobs and chunks whose leases have run out.

    Parameters
    ----------
    store : Store
    settings : mapping
        The ``pathgrad`` settings: ``queued_lease``, ``max_attempts``.
    send : callable
        ``send(member, attempt)`` sends the task of lease member ``member``
        (``job:<id>`` or ``chunk:<batch>:<n>``) with its attempt number.
    """

    def __init__(self, store: Store, settings: Mapping[str, Any], send: Send) -> None:
        self.store = store
        self.batches = BatchStore(store)
        self.queue = store.queue
        self.lease = float(settings["queued_lease"])
        self.max_attempts = max(1, int(settings["max_attempts"]))
        self.send = send

    def __repr__(self) -> str:
        return f"Sweeper(queue={self.queue!r}, max_attempts={self.max_attempts})"

    def sweep(self) -> dict[str, int]:
        """Look at every run-out lease once; return how many were renewed, sent, failed."""
        counts = {"renewed": 0, "sent": 0, "failed": 0, "dropped": 0}
        due = self.store.expired_leases()
        if not due:
            return counts
        waiting = self._waiting()
        for member in due:
            kind, _, ident = member.partition(":")
            if kind == "job":
                outcome = self._job(member, ident, waiting)
            elif kind == "chunk":
                outcome = self._chunk(member, ident, waiting)
            else:
                self.store.drop_lease(member)
                outcome = "dropped"
            counts[outcome] += 1
        if counts["sent"] or counts["failed"]:
            _log.warning("sweeper: %s", counts)
        return counts

    def _waiting(self) -> tuple[set[str], set[str]] | None:
        """Task ids with a message in the queue, and delivered unacknowledged.

        None when the queue is too long to look through (then everything counts as
        waiting, and is looked at again after another lease).
        """
        client = self.store.redis
        if client.llen(self.queue) > BROKER_SCAN_LIMIT:
            return None
        queued: set[str] = set()
        for start in range(0, BROKER_SCAN_LIMIT, 1000):
            page = client.lrange(self.queue, start, start + 999)
            queued |= _ids(page)
            if len(page) < 1000:
                break
        return queued, _ids(client.hvals(UNACKED))

    def _alive(
        self, member: str, started: bool, waiting: tuple[set[str], set[str]] | None
    ) -> bool:
        """Whether work will still run: its message waits, or is held for a free process."""
        if waiting is None:
            return True
        queued, delivered = waiting
        prefix = member + "."
        if any(task.startswith(prefix) for task in queued):
            return True
        return not started and any(task.startswith(prefix) for task in delivered)

    def _job(
        self, member: str, job_id: str, waiting: tuple[set[str], set[str]] | None
    ) -> str:
        record = self.store.job(job_id)
        if record is None or record["status"] in ("succeeded", "failed"):
            self.store.drop_lease(member)
            return "dropped"
        if self._alive(member, record["status"] == "running", waiting):
            self.store.renew(member, self.lease)
            return "renewed"
        attempts = int(record.get("attempts") or 1)
        if attempts >= self.max_attempts:
            self.store.save_job(record | {"status": "failed", "finished_at": timestamp(),
                                          "error": lost_problem(attempts)})
            self.store.release(record["key"], job_id)
            return "failed"
        self.store.save_job(record | {"status": "queued", "attempts": attempts + 1},
                            lease=self.lease)
        self.send(member, attempts + 1)
        return "sent"

    def _chunk(
        self, member: str, ident: str, waiting: tuple[set[str], set[str]] | None
    ) -> str:
        batch_id, _, text = ident.rpartition(":")
        number = int(text) if text.isdigit() else -1
        task = self.batches.task(batch_id, number) if number >= 0 else None
        hashes = self.batches.unfinished(batch_id, task["keys"]) if task else []
        if task is None or not hashes or not self.batches.exists(batch_id):
            self.batches.forget_chunk(batch_id, number)
            self.store.drop_lease(member)
            return "dropped"
        if self._alive(member, bool(task.get("started")), waiting):
            self.store.renew(member, self.lease)
            return "renewed"
        attempts = int(task.get("attempts") or 1)
        if attempts >= self.max_attempts:
            self.batches.finish(batch_id, [(key, None, {"error": lost_problem(attempts)})
                                           for key in hashes])
            self.batches.forget_chunk(batch_id, number)
            return "failed"
        self.batches.save_task(batch_id, number, task | {"attempts": attempts + 1,
                                                         "started": False})
        self.store.renew(member, self.lease)
        self.send(member, attempts + 1)
        return "sent"


def _ids(messages: list[Any]) -> set[str]:
    """The task ids in kombu's messages (JSON whose headers carry ``"id"`` as plain text)."""
    return {task for message in messages for task in _TASK_ID.findall(str(message))}



def start_sweeper(
    store: Store, settings: Mapping[str, Any], send: Send, name: str
) -> threading.Event:
    """Sweep every ``settings["sweep_interval"]`` s in a daemon thread; set the event to stop.

    ``name`` identifies this process in the lock, so one process sweeps at a time.
    """
    stop = threading.Event()
    interval = max(0.5, float(settings["sweep_interval"]))
    sweeper = Sweeper(store, settings, send)

    hold = max(1, int(3 * interval))
    lock = keys.sweeper(store.queue)
    quiet_until = 0.0

    def run() -> None:
        nonlocal quiet_until
        while not stop.wait(interval):
            if time.monotonic() < quiet_until:
                continue  # Redis was away: running work renews its leases first
            try:
                if not store.redis.set(lock, name, nx=True, ex=hold):
                    if store.redis.get(lock) != name:
                        continue  # another worker sweeps
                    store.redis.expire(lock, hold)
                sweeper.sweep()
            except redis.RedisError as exc:
                quiet_until = time.monotonic() + 1.5 * RENEW_EVERY
                _log.warning("sweeper: Redis unavailable: %s", exc)
            except Exception:  # a sweeper bug must not stop the sweeping
                _log.exception("sweeper: unexpected error")

    threading.Thread(target=run, name="pathgrad-sweeper", daemon=True).start()
    return stop


# --- wiring into the Celery worker ----------------------------------------------------


def _send(member: str, attempt: int) -> None:
    """Send the task of a lease member again (``job:<id>`` or ``chunk:<batch>:<n>``)."""
    from .batch_tasks import run_chunk
    from .tasks import run_job

    kind, _, ident = member.partition(":")
    if kind == "job":
        run_job.apply_async(args=[ident], task_id=task_id(member, attempt))
    else:
        batch_id, _, number = ident.rpartition(":")
        run_chunk.apply_async(args=[batch_id, int(number)], task_id=task_id(member, attempt))


_running: list[threading.Event] = []


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    """Start sweeping from the worker's main process (one thread; never in the pool)."""
    settings = current_app.conf["pathgrad"]
    _running.append(start_sweeper(Store.from_settings(settings), settings, _send,
                                  name=str(sender.hostname)))


@worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    """Stop sweeping."""
    while _running:
        _running.pop().set()
