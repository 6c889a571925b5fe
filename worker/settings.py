"""Celery settings for pathgrad's workers, and why each one is set.

- JSON only (``task_serializer``, ``result_serializer``, ``accept_content``): a message
  can carry data, never code; pickle is refused even if someone sends it.
- ``task_acks_late`` with ``task_reject_on_worker_lost``: a message is acknowledged
  only after its task has finished, so a worker killed mid-task (OOM, redeploy, power)
  leaves the job to be delivered again. That is safe because every task is
  idempotent: it recomputes a pure function of its input and overwrites the same keys.
- ``worker_prefetch_multiplier=1``: a worker process reserves one job at a time, so a
  long analysis does not hold other jobs hostage while idle workers wait.
- ``task_soft_time_limit`` / ``task_time_limit``: past the soft limit the task gets
  ``SoftTimeLimitExceeded`` and fails its job with a clear error; the hard limit
  (a little later) kills the process if the soft one could not interrupt it, and the
  job is failed by the ``task_failure`` handler.
- ``broker_transport_options.visibility_timeout``: longer than the hard time limit,
  so Redis redelivers an unacknowledged job only when its worker is really gone,
  never while it is still legitimately running.
- ``broker_connection_retry_on_startup``: a worker started before Redis keeps
  trying instead of exiting (compose starts them together).
"""

from __future__ import annotations

from typing import Any

from .store import celery_url

__all__ = ["VISIBILITY_MARGIN", "celery_config"]

# Seconds the visibility timeout exceeds the hard time limit by.
VISIBILITY_MARGIN = 60


def celery_config(
    redis_url: str,
    *,
    soft_time_limit: int,
    hard_time_limit: int,
    queue: str = "pathgrad",
) -> dict[str, Any]:
    """Return the Celery configuration for a Redis URL and the job time limits."""
    url = celery_url(redis_url)
    return {
        "broker_url": url,
        "result_backend": url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": soft_time_limit,
        "task_time_limit": hard_time_limit,
        "broker_transport_options": {"visibility_timeout": hard_time_limit + VISIBILITY_MARGIN},
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue,
        "task_ignore_result": True,
        "result_expires": 3600,
        "worker_send_task_events": False,
        "imports": ["worker.tasks", "worker.exercise_tasks", "worker.grading_tasks",
                    "worker.batch_tasks", "worker.sweeper"],
        # A task still running when the worker loses Redis finishes and writes its outcome
        # once Redis is back (its writes retry); its message, whose acknowledgement is
        # then lost, is delivered again later and finds the work done. (True would
        # cancel the task instead, and throw its work away.)
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }
