"""Health, the generated OpenAPI document and the offline /docs page."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from service.models import Health


def test_health_sees_redis_and_the_worker(client: FlaskClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    health = Health.model_validate(response.get_json())
    assert health.status == "ok" and health.redis is True and health.workers >= 1


def test_health_is_503_when_redis_is_unreachable(tmp_path: Any) -> None:
    from service import create_app

    app = create_app({"REDIS_URL": f"unix://{tmp_path}/no.sock"})
    response = app.test_client().get("/v1/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "down"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values()
                                                              for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_documents_every_route_from_the_models(app: Flask) -> None:
    document = app.test_client().get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    routes = {re.sub(r"<(\w+)>", r"{\1}", rule.rule).replace("{job_id}", "{id}")
              .replace("{batch_id}", "{id}")
              for rule in app.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in ("jobs", "batches", "health", "exercises",
                                                 "grade")}
    assert routes == set(document["paths"])
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    network = schemas["NetworkSpec"]["properties"]
    assert {"layers", "weights", "biases", "activation", "input", "target", "loss"} == set(network)
    assert "application/problem+json" in document["paths"]["/v1/jobs"]["post"]["responses"]["422"][
        "content"]


def test_docs_render_from_local_assets(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/docs", follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/openapi.json" in html
    scripts = re.findall(r'src="([^"]+)"', html) + re.findall(r'href="([^"]+\.css)"', html)
    assert scripts and not [s for s in scripts if "//" in s]  # nothing from a CDN
    for asset in scripts:
        with client.get(asset) as response:
            assert response.status_code == 200 and len(response.data) > 100, asset
