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
        seen += [tuple(p.nodes) for p in page.paths]
        contributions += [p.contribution for p in page.paths]
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


def test_bias_network_and_node_pages_are_what_the_engine_gives(
    client: FlaskClient, job: dict[str, Any]
) -> None:
    from service.models import NetworkPathPage, NodeFlow
    from worker.engine import node_flow, top_paths

    network = _network()
    bias = client.get(f"/v1/jobs/{job['id']}/weights/b_H4/paths?limit=3").get_json()
    assert PathPage.model_validate(bias) and bias == path_contributions(network, "b_H4",
                                                                        limit=3)
    url = f"/v1/jobs/{job['id']}/paths?through=H4&order=abs_asc&limit=4"
    page = client.get(url).get_json()
    NetworkPathPage.model_validate(page)
    assert page == top_paths(network, through="H4", order="abs_asc", limit=4)
    again = client.get(f"{url}&cursor={page['next_cursor']}").get_json()
    assert [p["rank"] for p in again["paths"]] == [5, 6, 7, 8]
    flow = client.get(f"/v1/jobs/{job['id']}/nodes/H4").get_json()
    NodeFlow.model_validate(flow)
    assert flow == node_flow(network, "H4")


@pytest.mark.parametrize(("url", "status", "field"), [
    ("nodes/H99", 404, "node"),
    ("paths?through=H99", 404, "node"),
    ("paths?output=H4", 422, "output"),
    ("paths?through=W1&cursor=abc", 422, "cursor"),
    ("weights/b_X1/paths", 404, "weight"),
    ("weights/W1/paths?limit=1001", 422, "limit"),
])
def test_bad_page_requests_are_refused_before_a_worker_is_asked(
    client: FlaskClient, job: dict[str, Any], url: str, status: int, field: str
) -> None:
    response = client.get(f"/v1/jobs/{job['id']}/{url}")
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == field


def test_a_weight_of_billions_of_paths_answers_over_http(redis_url: str, queue: str,
                                                          client: FlaskClient) -> None:
    import numpy as np

    # [64, 128 x 5, 10]: W1 has 128^4 * 10 = 2.7e9 paths; the spec is ~1.6 MB of JSON.
    layers = [64] + [128] * 5 + [10]
    rng = np.random.default_rng(int(_TARGET * 1e6))
    network = {"layers": layers, "activation": "tanh", "loss": "softmax_cross_entropy",
               "weights": [rng.normal(0, 1 / math.sqrt(m), (n, m)).round(6).tolist()
                           for m, n in zip(layers[:-1], layers[1:], strict=True)],
               "input": rng.normal(size=64).round(6).tolist(),
               "target": np.eye(10)[3].tolist()}
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "MAX_BODY": 8 << 20})
    big = app.test_client()
    job = big.post("/v1/jobs?wait=60", json={"network": network,
                                             "options": {"path_sum": False}}).get_json()
    assert job["status"] == "succeeded", job
    page = big.get(f"/v1/jobs/{job['id']}/weights/W1/paths?limit=10").get_json()
    assert page["total_paths"] == 2_684_354_560
    expected = path_contributions(network, "W1", limit=10, path_sum=False)
    assert page == expected
    assert abs(page["gradient"] - page["listed_sum"]) <= \
        page["abs_sum"] - page["listed_abs_sum"]
