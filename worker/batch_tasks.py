"""Celery task of the batches resource: analyse one chunk of a batch with ``analyze_many``.

The API keeps each chunk's distinct networks (one content hash each, all with the
same options) and its task (the options and hashes) in Redis and sends the chunk's
number; the batch store counts the lines that share each hash. Float networks come
as the arrays the API parsed (:func:`worker.engine.batch.pack`), exact ones as their
JSON specs; both are analysed exactly as ``analyze_many`` analyses the specs. A
network whose analysis raises fails only itself: when the chunk's analysis raises,
it is analysed again one network at a time. Outcomes are recorded once per hash
(:meth:`BatchStore.finish`), so a chunk run twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import task_failure

from . import engine
from .batch_store import BatchStore, chunk_member, collector_paused
from .engine.batch import PACKED, Batch, take, unpack
from .engine.errors import AgreementError, InvalidInputError
from .engine.options import Options, parse_options
from .engine.pipeline import analyze_batches
from .jsoncodec import loads
from .leases import RUNNING, renewer
from .problems import internal_problem, problem, problem_of, time_limit_problem
from .tasks import task_store

__all__ = ["analyze_chunk", "analyze_packed", "run_chunk"]

Outcome = tuple[Mapping[str, Any] | None, dict[str, Any] | None]

_batch_stores: dict[int, BatchStore] = {}


def _batch_store() -> BatchStore:
    store = task_store()
    if id(store) not in _batch_stores:
        _batch_stores[id(store)] = BatchStore(store)
    return _batch_stores[id(store)]


@shared_task(name="pathgrad.batch_chunk")
def run_chunk(batch_id: str, number: int) -> None:
    """Analyse the distinct networks of chunk ``number`` of a batch and record each.

    At least once, idempotent: outcomes are recorded once per hash, so a chunk run
    again (redelivered, or sent again by the sweeper) counts nothing twice.
    """
    batches = _batch_store()
    task = batches.task(batch_id, number)
    if task is None or not batches.exists(batch_id):
        batches.forget_chunk(batch_id, number)
        return  # finished, or the batch expired meanwhile
    keys, options = list(task["keys"]), dict(task["options"])
    with renewer(batches.store).holding(chunk_member(batch_id, number)):
        batches.store.renew(chunk_member(batch_id, number), RUNNING)
        batches.save_task(batch_id, number, task | {"started": True})
        specs = batches.chunk(batch_id, number)
        if specs is None:
            expired = problem(410, "Input expired", "the batch's input has expired")
            batches.finish(batch_id, [(key, None, {"error": expired}) for key in keys])
            batches.forget_chunk(batch_id, number)
            return
        with collector_paused():
            try:
                outcomes = (analyze_packed(unpack(specs), options) if specs.startswith(PACKED)
                            else analyze_chunk(loads(specs), options))
            except SoftTimeLimitExceeded:
                limit = float(current_app.conf.task_soft_time_limit or 0)
                outcomes = [(None, {"error": time_limit_problem(limit)})] * len(keys)
            except Exception as exc:
                failure = {"error": internal_problem(exc)}
                batches.finish(batch_id, [(key, None, failure) for key in keys])
                batches.forget_chunk(batch_id, number)
                raise  # logged by Celery as a failed task
            batches.finish(batch_id, [(key, result, failure) for key, (result, failure)
                                      in zip(keys, outcomes, strict=True)])
    batches.forget_chunk(batch_id, number)


def analyze_chunk(specs: list[dict[str, Any]], options: dict[str, Any]) -> list[Outcome]:
    """Return ``(result, None)`` or ``(None or result, failure)`` for each spec, in order."""
    try:
        results = engine.analyze_many(specs, **options)
    except (InvalidInputError, AgreementError):
        # One network failed the chunk: each on its own, so it fails alone.
        return [_analyze_one(spec, options) for spec in specs]
    return [(result, None) for result in results]


def analyze_packed(batches: list[Batch], options: dict[str, Any]) -> list[Outcome]:
    """:func:`analyze_chunk` for networks the API has parsed already (packed batches).

    Each network's outcome is what ``analyze_many`` (or, when a network of the batch
    fails, ``analyze`` of that network alone) gives its spec.
    """
    parsed = parse_options(options)
    outcomes: list[Outcome] = []
    for batch in batches:
        try:
            results = analyze_batches([(list(range(batch.size)), batch)], batch.size, parsed)
        except (InvalidInputError, AgreementError):
            outcomes += [_analyze_alone(take(batch, [row]), parsed) for row in range(batch.size)]
        else:
            outcomes += [(result, None) for result in results]
    return outcomes


def _analyze_alone(batch: Batch, options: Options) -> Outcome:
    return _outcome(lambda: analyze_batches([([0], batch)], 1, options)[0])


def _analyze_one(spec: dict[str, Any], options: dict[str, Any]) -> Outcome:
    return _outcome(lambda: engine.analyze(spec, **options))


def _outcome(analyze: Callable[[], Mapping[str, Any]]) -> Outcome:
    """The outcome of analysing one network: its result, or the problem it raised."""
    try:
        return analyze(), None
    except AgreementError as exc:
        # A disagreement is pathgrad's bug: the line fails loudly, the numbers stay visible.
        return None, {"error": problem_of(exc, network="network"), "result": exc.result}
    except InvalidInputError as exc:
        return None, {"error": problem_of(exc, network="network")}


@task_failure.connect
def _on_task_failure(sender: Any = None, args: Any = None, exception: Any = None, **_: Any) -> None:
    """Fail the lines of a chunk whose worker process was killed by the hard time limit."""
    if getattr(sender, "name", None) != "pathgrad.batch_chunk" or not args:
        return
    if isinstance(exception, TimeLimitExceeded):
        batch_id, number = args
        batches = _batch_store()
        task = batches.task(batch_id, number)
        if task is None:
            return
        limit = float(current_app.conf.task_time_limit or 0)
        failure = {"error": time_limit_problem(limit)}
        batches.finish(batch_id, [(key, None, failure) for key in task["keys"]])
        batches.forget_chunk(batch_id, number)

