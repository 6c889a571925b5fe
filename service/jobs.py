"""The jobs resource: submit a network, read its analysis, its paths and formulas."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from worker import engine, tasks
from worker.engine.batch import stack
from worker.engine.contributions import check_page
from worker.engine.names import Names
from worker.jsoncodec import dumpb
from worker.problems import problem
from worker.store import Store, content_keys, task_id

from . import extensions
from .auth import owner, owns
from .models import NetworkPathsQuery, PathsQuery, WaitQuery
from .pages import on_demand
from .problems import ProblemError, short
from .validation import invalid, json_body, validate_job

__all__ = ["bp"]

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")

_FINISHED = ("succeeded", "failed")


@bp.post("")
def submit() -> Response | tuple[dict[str, Any], int, dict[str, str]]:
    """Queue a network for analysis, or answer at once from the result cache."""
    body = json_body()
    wait = min(WaitQuery.model_validate(request.args.to_dict()).wait, _config("MAX_WAIT"))
    network, options = validate_job(body)
    canonical, settings = network.to_dict(), options.to_dict()
    key = content_keys(stack([network]), settings, engine.ENGINE_VERSION)[0]
    store = extensions.store()
    cached = store.result_text(key, touch=True)
    if cached is not None:
        record = store.new_job(key, status="succeeded", cached=True, owner=owner())
        return _job_response(store, record, cached, {"Content-Location": _location(record["id"])})
    record = _enqueue(store, key, canonical, settings)
    if wait > 0 and record["status"] not in _FINISHED:
        with extensions.waiters().slot() as may_wait:
            if may_wait:
                record = _wait_for_job(store, record, wait)
    if record["status"] in _FINISHED:
        return _job_response(store, record, None, {"Content-Location": _location(record["id"])})
    return {"id": record["id"], "status": record["status"]}, 202, {
        "Location": _location(record["id"])
    }


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """Return a job: its status and, once finished, its result or error."""
    kept = extensions.recent().get(job_id)
    if kept is not None:
        if kept.owner != owner():
            raise _unknown_job(job_id)
        return _json_response(kept.body)
    store = extensions.store()
    record, result = store.job_and_result(job_id)
    if record is None or not owns(record):
        raise _unknown_job(job_id)
    body = _job_body(store, record, result)
    if record["status"] == "succeeded":
        extensions.recent().put(job_id, record.get("owner"), body)
    return _json_response(body)


@bp.get("/<job_id>/weights/<name>/paths")
def paths(job_id: str, name: str) -> dict[str, Any]:
    """Return one page of the paths of a weight or a bias, computed by a worker."""
    query = PathsQuery.model_validate(request.args.to_dict())
    _check_page_limit(query.limit)
    store = extensions.store()
    key, network = _job_input(store, job_id)
    check_page(tuple(network["layers"]), weight=name, order=query.order, limit=query.limit,
               cursor=query.cursor)
    what = {"paths": name, "order": query.order, "limit": query.limit, "cursor": query.cursor}
    page_key = store.page_key(key, what)
    args = [page_key, key, name, query.order, query.limit, query.cursor]
    return on_demand(store, page_key, tasks.path_page, args)


@bp.get("/<job_id>/paths")
def network_paths(job_id: str) -> dict[str, Any]:
    """Return one page of the network's input-to-output paths, computed by a worker."""
    query = NetworkPathsQuery.model_validate(request.args.to_dict())
    _check_page_limit(query.limit)
    store = extensions.store()
    key, network = _job_input(store, job_id)
    check_page(tuple(network["layers"]), through=query.through, output=query.output,
               order=query.order, limit=query.limit, cursor=query.cursor)
    what = {"network_paths": [query.through, query.output], "order": query.order,
            "limit": query.limit, "cursor": query.cursor}
    page_key = store.page_key(key, what)
    args = [page_key, key, query.through, query.output, query.order, query.limit, query.cursor]
    return on_demand(store, page_key, tasks.network_page, args)


@bp.get("/<job_id>/nodes/<name>")
def node(job_id: str, name: str) -> dict[str, Any]:
    """Return a neuron's value, delta and the flow of the paths through it."""
    store = extensions.store()
    key, network = _job_input(store, job_id)
    Names.of(tuple(network["layers"])).locate_node(name)
    page_key = store.page_key(key, {"node": name})
    return on_demand(store, page_key, tasks.node_page, [page_key, key, name])


@bp.get("/<job_id>/weights/<name>/formula")
def formula(job_id: str, name: str) -> dict[str, Any]:
    """Return the symbolic gradient formula of a weight, computed by a worker."""
    store = extensions.store()
    key, network = _job_input(store, job_id)
    Names.of(tuple(network["layers"])).locate(name)
    page_key = store.page_key(key, {"formula": name})
    return on_demand(store, page_key, tasks.formula, [page_key, key, name])


# --- helpers ----------------------------------------------------------------------------


def _config(name: str) -> float:
    return float(current_app.config[name])


def _location(job_id: str) -> str:
    return url_for("jobs.get_job", job_id=job_id)


def _enqueue(
    store: Store, key: str, network: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """Queue a job for ``key``, or return this key's job already computing it.

    Another API key's job is never handed out (its id is its owner's alone): then
    this request gets a job of its own, computed alongside.
    """
    job_id = store.new_id()
    other = store.claim(key, job_id)
    if other is not None:
        record = store.job(other)
        running = record is not None and record["status"] not in _FINISHED
        if running and record is not None and owns(record):
            return record
        if not running:
            store.release(key)
            store.claim(key, job_id)
    record = store.new_job(key, status="queued", job_id=job_id, owner=owner(),
                           inputs=(network, options), lease=_config("QUEUED_LEASE"))
    # Should the message be lost on its way (Redis gone between the record and the
    # message), the job's lease runs out and the sweeper sends it (worker.sweeper).
    tasks.run_job.apply_async(args=[job_id], task_id=task_id("job:" + job_id, 1))
    return record


def _wait_for_job(store: Store, record: dict[str, Any], wait: float) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        current = store.job(record["id"])
        return current if current is not None and current["status"] in _FINISHED else None

    return store.wait("job:" + record["id"], finished, wait) or store.job(record["id"]) or record


def _record(store: Store, job_id: str) -> dict[str, Any]:
    record = store.job(job_id)
    if record is None or not owns(record):
        raise _unknown_job(job_id)
    return record


def _unknown_job(job_id: str) -> ProblemError:
    return ProblemError(problem(404, "Unknown job", f"no job {short(job_id)} (or it has expired)",
                                slug="unknown-job"))


def _job_response(
    store: Store, record: dict[str, Any], result: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The job as a JSON response (see :func:`_job_body`)."""
    return _json_response(_job_body(store, record, result), headers)


def _job_body(store: Store, record: dict[str, Any], result: str | None = None) -> bytes:
    """The job as JSON; a result is passed on as the text stored, not parsed and rewritten.

    A cached result is most of a job's bytes: splicing its stored JSON into the
    response spares a parse and a serialisation of thousands of numbers per request.
    """
    view: dict[str, Any] = {
        "id": record["id"],
        "status": record["status"],
        "cached": record["cached"],
        "created_at": record["created_at"],
        "started_at": record["started_at"],
        "finished_at": record["finished_at"],
    }
    if record["status"] == "succeeded":
        result = result or store.result_text(record["key"])
        if result is None:
            raise ProblemError(problem(410, "Result expired",
                                       f"the result of job {record['id']!r} has expired; "
                                       "submit the network again", slug="result-expired"))
        return dumpb(view)[:-1] + b',"result":' + result.encode() + b"}"
    if record["status"] == "failed":
        view["error"] = record["error"]
        if record.get("result") is not None:
            view["result"] = record["result"]
    return dumpb(view)


def _json_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return current_app.response_class(body, status=200, headers=headers,
                                      mimetype="application/json")


def _job_input(store: Store, job_id: str) -> tuple[str, dict[str, Any]]:
    """Return the job's content hash and its canonical network (410 once expired)."""
    record = _record(store, job_id)
    inputs = store.input(record["key"])
    if inputs is None:
        raise ProblemError(problem(410, "Input expired", f"job {short(job_id)} has expired",
                                   slug="input-expired"))
    return str(record["key"]), inputs[0]


def _check_page_limit(limit: int) -> None:
    cap = int(_config("PAGE_LIMIT"))
    if limit > cap:
        raise ProblemError(invalid("limit", f"expected at most {cap} paths per page"))
