"""Celery tasks: thin, idempotent steps of validate -> engine -> store.

Each task reads its input from Redis, calls the engine and writes the answer back
under the same keys, so running it twice (a redelivery after a lost worker) is
harmless. Client errors found by the engine are stored as problem details, never
raised, so a job always ends ``succeeded`` or ``failed`` with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import heartbeat_sent, task_failure, worker_ready, worker_shutdown

from . import engine
from .engine.errors import AgreementError, InvalidInputError, PathgradError
from .leases import RUNNING, renewer
from .problems import internal_problem, problem, problem_of, time_limit_problem
from .store import Store, timestamp

__all__ = [
    "WORKER_TTL", "compute_page", "formula", "network_page", "node_page", "noop", "path_page",
    "run_job", "task_store",
]

_stores: dict[str, Store] = {}

# Seconds an unexpected error of a page stays cached (a retry after that recomputes).
INTERNAL_ERROR_TTL = 30

# Seconds a worker counts as alive after its last heartbeat (Celery beats every 2 s).
WORKER_TTL = 10


def task_store() -> Store:
    """The store of this worker's settings (one Redis client per process, reused)."""
    settings = current_app.conf["pathgrad"]
    key = repr(sorted(settings.items()))
    if key not in _stores:
        _stores[key] = Store.from_settings(settings,
                                           retry_seconds=float(settings["retry_seconds"]))
    return _stores[key]



def _soft_limit() -> float:
    return float(current_app.conf.task_soft_time_limit or 0)


@shared_task(name="pathgrad.run_job")
def run_job(job_id: str) -> None:
    """Analyse the network of a job and store its result under the content hash.

    At least once, idempotent: a job already finished is left as it is, and a job
    run twice (redelivered, or sent again by the sweeper) computes the same result
    from the same input and writes it under the same keys.
    """
    store = task_store()
    record = store.job(job_id)
    if record is None or record["status"] in ("succeeded", "failed"):
        return  # expired, or a redelivery of a job that already finished
    key = record["key"]
    member = "job:" + job_id
    with renewer(store).holding(member):
        try:
            _run(store, record, key)
        finally:
            store.release(key, job_id)


def _run(store: Store, record: dict[str, Any], key: str) -> None:
    job_id = record["id"]
    cached, inputs = store.cached_or_input(key)
    if cached:
        store.save_job(record | {"status": "succeeded", "cached": True, "finished_at": timestamp()})
        return
    if inputs is None:
        _fail(store, job_id, problem(410, "Input expired", "the job's input has expired"))
        return
    network, options = inputs
    record |= {"status": "running", "started_at": timestamp()}
    store.save_job(record, lease=RUNNING)
    try:
        result = engine.analyze(network, **options)
    except SoftTimeLimitExceeded:
        _fail(store, job_id, time_limit_problem(_soft_limit()))
    except AgreementError as exc:
        # A disagreement is pathgrad's bug: the job fails loudly, the numbers stay visible.
        _fail(store, job_id, problem_of(exc, network="network"), result=exc.result)
    except InvalidInputError as exc:
        _fail(store, job_id, problem_of(exc, network="network"))
    except Exception as exc:
        _fail(store, job_id, internal_problem(exc))
        raise  # logged by Celery as a failed task
    else:
        store.save_result(key, result,
                          job=record | {"status": "succeeded", "finished_at": timestamp()})


def _fail(
    store: Store, job_id: str, error: dict[str, Any], result: dict[str, Any] | None = None
) -> None:
    changes: dict[str, Any] = {"status": "failed", "finished_at": timestamp(), "error": error}
    if result is not None:
        changes["result"] = result
    store.update_job(job_id, **changes)


@task_failure.connect
def _on_task_failure(sender: Any = None, args: Any = None, exception: Any = None, **_: Any) -> None:
    """Fail a job whose worker process was killed by the hard time limit."""
    if getattr(sender, "name", None) != "pathgrad.run_job" or not args:
        return
    if isinstance(exception, TimeLimitExceeded):
        store = task_store()
        record = store.job(args[0])
        limit = float(current_app.conf.task_time_limit or 0)
        if record is not None and record["status"] not in ("succeeded", "failed"):
            _fail(store, args[0], time_limit_problem(limit))
            store.release(record["key"], args[0])


@shared_task(name="pathgrad.path_page")
def path_page(
    page_key: str, key: str, weight: str, order: str, limit: int, cursor: str | None
) -> None:
    """Compute one page of a weight's (or a bias's) paths and cache it."""
    _on_input(page_key, key, lambda network, options: engine.path_contributions(
        network, weight, order=order, limit=limit, cursor=cursor, **options))


@shared_task(name="pathgrad.network_page")
def network_page(
    page_key: str, key: str, through: str | None, output: str | None, order: str, limit: int,
    cursor: str | None,
) -> None:
    """Compute one page of the network's input-to-output paths and cache it."""
    _on_input(page_key, key, lambda network, options: engine.top_paths(
        network, through=through, output=output, order=order, limit=limit, cursor=cursor,
        **options))


@shared_task(name="pathgrad.node_page")
def node_page(page_key: str, key: str, node: str) -> None:
    """Compute a neuron's value, delta and flow and cache them."""
    _on_input(page_key, key, lambda network, options: engine.node_flow(network, node,
                                                                      **options))


@shared_task(name="pathgrad.formula")
def formula(page_key: str, key: str, weight: str) -> None:
    """Compute the symbolic gradient formula of one weight and cache it."""
    _on_input(page_key, key, lambda network, _options: engine.formula(network, weight))


def _on_input(
    page_key: str, key: str,
    compute: Callable[[dict[str, Any], dict[str, Any]], Mapping[str, Any]],
) -> None:
    """Cache what ``compute(network, options)`` gives for the job input ``key``."""
    store = task_store()
    inputs = store.input(key)
    if inputs is None:
        store.save_page(page_key, {"error": problem(410, "Input expired", "the job expired")})
        store.release(page_key)
        return
    network, options = inputs
    compute_page(store, page_key, lambda: compute(network, options))


def compute_page(
    store: Store, page_key: str, compute: Callable[[], Mapping[str, Any]],
    invalid: Callable[[InvalidInputError], dict[str, Any]] = problem_of,
) -> None:
    """Store what ``compute`` returns, or the problem it raised, under ``page_key``.

    ``invalid`` turns an error for bad input into its problem body.
    """
    try:
        store.save_page(page_key, compute())
    except SoftTimeLimitExceeded:
        store.save_page(page_key, {"error": time_limit_problem(_soft_limit())})
    except InvalidInputError as exc:
        store.save_page(page_key, {"error": invalid(exc)})
    except PathgradError as exc:  # a disagreement: pathgrad's bug, asked again soon after
        store.save_page(page_key, {"error": problem_of(exc)}, ttl=INTERNAL_ERROR_TTL)
    except Exception as exc:
        # Not the client's fault: answer the waiting request now, and retry soon after.
        store.save_page(page_key, {"error": internal_problem(exc)}, ttl=INTERNAL_ERROR_TTL)
        raise
    finally:
        # The page (or its error) is saved: the next request for it after that expires
        # may send a task again (see on_demand's claim).
        store.release(page_key)




# The pool size of each worker of this process that is consuming, by node name.
_ready_pools: dict[str, int] = {}
_presence: list[Store] = []


def _presence_store() -> Store:
    """The store of the worker's main process: no retries, as its event loop must not wait.

    A heartbeat that finds Redis away fails at once (and Celery logs it); the next
    one, two seconds later, tries again.
    """
    if not _presence:
        _presence.append(Store.from_settings(current_app.conf["pathgrad"], retry_seconds=0))
    return _presence[0]


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    """Announce a worker and its pool's size as soon as it consumes (health counts it)."""
    processes = getattr(sender.pool, "num_processes", None)
    _ready_pools[sender.hostname] = processes if isinstance(processes, int) and processes else 1
    _presence_store().mark_worker(sender.hostname, WORKER_TTL,
                                  processes=_ready_pools[sender.hostname])


@heartbeat_sent.connect
def _on_heartbeat(sender: Any = None, **_: Any) -> None:
    """Keep a worker's presence key alive while it consumes."""
    hostname = sender.eventer.hostname
    # Celery beats once before the worker consumes: that beat must not announce it.
    if hostname in _ready_pools:
        _presence_store().mark_worker(hostname, WORKER_TTL, processes=_ready_pools[hostname])


@worker_shutdown.connect
def _on_worker_shutdown(sender: Any = None, **_: Any) -> None:
    """Withdraw a stopping worker at once."""
    _ready_pools.pop(sender.hostname, None)
    _presence_store().forget_worker(sender.hostname)


@shared_task(name="pathgrad.noop", ignore_result=False)
def noop() -> None:
    """Do nothing: the floor for round-trip benchmarks and worker checks."""
