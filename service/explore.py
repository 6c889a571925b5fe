"""The explorer: a page for people (docs/CONTRACT.md section 9), and the drawing it shows.

``GET /`` redirects to ``/explore``, one page served from the package's files
(``service/static/explore``: HTML, CSS and a small script; no build step, nothing
fetched from another host). The page, its assets and the shipped examples need no
API key; what shows a job does, sent by the page as ``Authorization: Bearer``:

- ``GET /explore/jobs/{id}/drawing.svg?weight=W1`` (or ``?node=H4``): the drawing of
  :mod:`pathgrad.drawing`, the same as ``pathgrad draw``, with the top paths of the
  selection highlighted: the page of ``GET /v1/jobs/{id}/weights/{name}/paths?limit=20``
  (or ``/v1/jobs/{id}/paths?through=H4&limit=20``), from the same cache;
- ``GET /explore/jobs/{id}/network``: the job's network and options, which the page
  sends to ``POST /v1/grade`` with a student's answer.

The drawing is built in the API process from the cached result (no maths: reading
numbers and placing them); the path pages are computed by the workers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from pathgrad import drawing, examples
from worker import tasks
from worker.engine.contributions import check_page
from worker.engine.names import Names
from worker.problems import problem
from worker.store import Store

from . import extensions
from .auth import owns
from .pages import on_demand
from .problems import ProblemError, short
from .validation import invalid

__all__ = ["bp"]

STATIC = Path(__file__).resolve().parent / "static" / "explore"

bp = Blueprint("explore", __name__, static_folder=STATIC, static_url_path="/explore/assets")


_FINISHED = ("succeeded", "failed")
# Seconds the drawing waits for an unfinished job before asking the page to retry.
_JOB_WAIT = 10.0
_ORDER = "abs_desc"


@bp.get("/")
def root() -> BaseResponse:
    """Send a browser to the explorer."""
    return redirect(url_for("explore.page"))


@bp.get("/explore")
def page() -> Response:
    """Return the explorer page."""
    return Response((STATIC / "explore.html").read_bytes(), mimetype="text/html",
                    headers={"Cache-Control": "no-cache"})


@bp.get("/explore/examples/<name>.json")
def example(name: str) -> dict[str, Any]:
    """Return a network shipped with pathgrad (``seed``), for the page's example button."""
    if name not in examples.names():
        raise ProblemError(problem(404, "Unknown example", f"no example {short(name)}; "
                                   f"there are {', '.join(examples.names())}",
                                   slug="unknown-example"))
    found: dict[str, Any] = examples.load(name)
    return found


@bp.get("/explore/jobs/<job_id>/drawing.svg")
def drawing_svg(job_id: str) -> Response:
    """Return the drawing of a job's network, a weight's or a neuron's top paths lit."""
    weight, node = request.args.get("weight") or None, request.args.get("node") or None
    if weight and node:
        raise ProblemError(invalid("node", "expected weight or node, not both"))
    store = extensions.store()
    record = _finished(store, job_id)
    scene = _scene(store, str(record["key"]))
    highlight = None
    if weight:
        page = _weight_page(store, str(record["key"]), scene.layers, weight)
        highlight = drawing.Highlight.of_page("weight", str(page["weight"]), page)
    elif node:
        page = _node_page(store, str(record["key"]), scene.layers, node)
        highlight = drawing.Highlight.of_page("node", node, page)
    return Response(drawing.svg(scene, highlight), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-cache"})


@bp.get("/explore/jobs/<job_id>/network")
def network(job_id: str) -> dict[str, Any]:
    """Return a job's network and options (what ``POST /v1/grade`` needs beside answers)."""
    store = extensions.store()
    record = _record(store, job_id)
    inputs = store.input(str(record["key"]))
    if inputs is None:
        raise _expired(job_id)
    return {"network": inputs[0], "options": inputs[1]}


# --- helpers ----------------------------------------------------------------------------


def _record(store: Store, job_id: str) -> dict[str, Any]:
    record = store.job(job_id)
    if record is None or not owns(record):
        raise ProblemError(problem(404, "Unknown job", f"no job {short(job_id)} (or it has "
                                   "expired)", slug="unknown-job"))
    return record


def _finished(store: Store, job_id: str) -> dict[str, Any]:
    """The job's record once it has succeeded (waiting a little for an unfinished one)."""
    record = _record(store, job_id)
    if record["status"] not in _FINISHED:
        def finished() -> dict[str, Any] | None:
            current = store.job(job_id)
            return current if current is not None and current["status"] in _FINISHED else None

        with extensions.waiters().slot() as may_wait:
            wait = min(_JOB_WAIT, float(current_app.config["MAX_WAIT"])) if may_wait else 0.0
            record = store.wait("job:" + job_id, finished, wait) or record
    if record["status"] == "failed":
        detail = (record.get("error") or {}).get("detail", "the job failed")
        raise ProblemError(problem(409, "Job failed", f"job {short(job_id)} failed, so there "
                                   f"is nothing to draw: {detail}", slug="job-failed"))
    if record["status"] != "succeeded":
        raise ProblemError(problem(503, "Still computing", "the job has not finished yet; "
                                   "retry in a moment", slug="busy"),
                           headers={"Retry-After": "1"})
    return record


def _expired(job_id: str) -> ProblemError:
    return ProblemError(problem(410, "Result expired", f"job {short(job_id)} has expired; "
                                "submit the network again", slug="result-expired"))


class _Scenes:
    """The scenes of the results drawn lately: a result never changes, its scene neither.

    Reading a big result (75,000 weights: 17 MB of JSON) takes a tenth of a second;
    a page that selects one weight after another draws the same result each time.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._kept: OrderedDict[str, drawing.Scene] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> drawing.Scene | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: str, scene: drawing.Scene) -> None:
        with self._lock:
            self._kept[key] = scene
            self._kept.move_to_end(key)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)


_SCENES = _Scenes()


def _scene(store: Store, key: str) -> drawing.Scene:
    found = _SCENES.get(key)
    if found is not None:
        return found
    inputs, result = store.input(key), store.result_text(key, touch=True)
    if inputs is None or result is None:
        raise ProblemError(problem(410, "Result expired", "this job's result has expired; "
                                   "submit the network again", slug="result-expired"))
    scene = drawing.scene(inputs[0], orjson.loads(result))
    _SCENES.put(key, scene)
    return scene


def _weight_page(store: Store, key: str, layers: tuple[int, ...], name: str
                 ) -> dict[str, Any]:
    """The page of ``GET /v1/jobs/{id}/weights/{name}/paths?limit=20``, from its cache."""
    limit = drawing.DEFAULT_PATHS
    check_page(layers, weight=name, order=_ORDER, limit=limit, cursor=None)
    page_key = store.page_key(key, {"paths": name, "order": _ORDER, "limit": limit,
                                    "cursor": None})
    return on_demand(store, page_key, tasks.path_page,
                     [page_key, key, name, _ORDER, limit, None])


def _node_page(store: Store, key: str, layers: tuple[int, ...], name: str) -> dict[str, Any]:
    """The page of ``GET /v1/jobs/{id}/paths?through={name}&limit=20``, from its cache."""
    limit = drawing.DEFAULT_PATHS
    Names.of(layers).locate_node(name)
    check_page(layers, through=name, output=None, order=_ORDER, limit=limit, cursor=None)
    page_key = store.page_key(key, {"network_paths": [name, None], "order": _ORDER,
                                    "limit": limit, "cursor": None})
    return on_demand(store, page_key, tasks.network_page,
                     [page_key, key, name, None, _ORDER, limit, None])
