"""Path contributions and formulas over HTTP: computed by a worker, paged, cached."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
import sympy
from conftest import unique_seed
from flask.testing import FlaskClient

from service import create_app
from service.models import Formula, PathPage
from worker.engine import path_contributions

_TARGET = time.time() % 1  # a network no earlier run has cached


def _network() -> dict[str, Any]:
    # [2, 3, 4, 3, 1]: W1 (X1 -> H1) has 4 * 3 * 1 = 12 paths.
    layers = [2, 3, 4, 3, 1]
    weights = [[[round(0.1 * (i + 1) - 0.07 * j * (l + 1), 3) for j in range(a)]
                for i in range(b)]
               for l, (a, b) in enumerate(zip(layers[:-1], layers[1:], strict=True))]
    return {"layers": layers, "weights": weights, "activation": "tanh",
            "input": [0.5, -1.5], "target": [_TARGET], "loss": "half_sse"}


@pytest.fixture
def job(client: FlaskClient) -> dict[str, Any]:
    """A finished job for the [2, 3, 4, 3, 1] network."""
    body = client.post("/v1/jobs?wait=30", json={"network": _network()}).get_json()
    assert body["status"] == "succeeded", body
    return dict(body)


def test_pages_partition_the_paths_and_sum_to_the_gradient(
    client: FlaskClient, job: dict[str, Any]
) -> None:
    seen: list[tuple[str, ...]] = []
    contributions: list[float] = []
    cursor: str | None = None
    pages = 0
    while True:
        url = f"/v1/jobs/{job['id']}/weights/W1/paths?limit=5"
        response = client.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.get_json()
        page = PathPage.model_validate(response.get_json())
        pages += 1
        seen += [tuple(p["nodes"]) for p in page.paths]
        contributions += [p["contribution"] for p in page.paths]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == page.total_paths == 12
    assert all(nodes[:2] == ("X1", "H1") for nodes in seen)
    assert [abs(c) for c in contributions] == sorted((abs(c) for c in contributions), reverse=True)
    gradient = next(w["gradient"] for w in job["result"]["weights"] if w["name"] == "W1")
    assert math.fsum(contributions) == pytest.approx(gradient, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("order", ["abs_desc", "abs_asc", "index"])
def test_a_page_is_what_the_engine_gives(
    client: FlaskClient, job: dict[str, Any], order: str
) -> None:
    page = client.get(f"/v1/jobs/{job['id']}/weights/W20/paths?order={order}&limit=4")
    assert page.status_code == 200
    assert page.get_json() == path_contributions(_network(), "W20", order=order, limit=4)


def test_a_page_asked_twice_is_served_from_the_cache(
    client: FlaskClient, job: dict[str, Any]
) -> None:
    url = f"/v1/jobs/{job['id']}/weights/W3/paths?limit=2"
    first = client.get(url).get_json()
    started = time.perf_counter()
    second = client.get(url).get_json()
    assert second == first
    assert time.perf_counter() - started < 0.5


def test_seed_formula_of_w1(client: FlaskClient) -> None:
    job = client.post("/v1/jobs?wait=30", json={"network": unique_seed(5.0)}).get_json()
    response = client.get(f"/v1/jobs/{job['id']}/weights/W1/formula")
    assert response.status_code == 200, response.get_json()
    formula = Formula.model_validate(response.get_json())
    assert formula.weight == "W1" and formula.latex
    names = {n: sympy.Symbol(n) for n in ("Out", "Y", "X1", "W7", "W10", "W13", "W14")}
    expected = sympy.sympify("sign(Out - Y)*(W13*W7 + W14*W10)*X1", locals=names)
    assert sympy.simplify(sympy.sympify(formula.text, locals=names) - expected) == 0


def test_a_page_many_ask_for_at_once_is_sent_to_the_workers_once(redis_url: str) -> None:
    queue = f"nobody-{time.time_ns()}"  # no worker: every page stays uncomputed
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                      "COMPUTE_WAIT": 0.1})
    client = app.test_client()
    redis = app.extensions["pathgrad_store"].redis
    job = client.post("/v1/jobs", json={"network": unique_seed(31.0)}).get_json()
    assert redis.llen(queue) == 1  # the job itself
    for _ in range(3):
        assert client.get(f"/v1/jobs/{job['id']}/weights/W1/paths?limit=5").status_code == 503
    assert redis.llen(queue) == 2  # one task for the page, not three
    for _ in range(3):
        assert client.get(f"/v1/jobs/{job['id']}/weights/W1/formula").status_code == 503
    assert redis.llen(queue) == 3
    client.get(f"/v1/jobs/{job['id']}/weights/W1/paths?limit=6")  # another page: its own task
    assert redis.llen(queue) == 4
