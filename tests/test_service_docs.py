"""Health, the generated OpenAPI document and the offline /docs page."""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from conftest import SEED_JOB, TEST_SETTINGS
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.models import Health
from worker.engine.spec import MAX_DEPTH, MAX_LAYER_SIZE

PROBLEM = {"$ref": "#/components/schemas/Problem"}
OPEN_PATHS = {"/v1/health", "/openapi.json", "/docs/"}
# Routes that never touch Redis (so have no 503): the model conversion runs in the API.
REDIS_FREE = OPEN_PATHS | {"/v1/convert"}
TAG_OF = {"/v1/jobs": "jobs", "/v1/batches": "batches", "/v1/exercises": "exercises",
          "/v1/grade": "grading", "/v1/convert": "models", "/v1/health": "health",
          "/openapi.json": "docs", "/docs/": "docs"}


def test_health_sees_redis_and_the_worker(client: FlaskClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    health = Health.model_validate(response.get_json())
    assert health.status == "ok" and health.redis is True and health.workers >= 1


def test_health_is_503_when_redis_is_unreachable(tmp_path: Any) -> None:
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


def _document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _url(path: str) -> str:
    return path.replace("{id}", "nope").replace("{name}", "W1")


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema validator of ``schema``, its $refs read from the document."""
    return jsonschema_rs.validator_for(schema | {"components": document["components"]})


@pytest.fixture
def keyed_app(redis_url: str, queue: str) -> Flask:
    """The test app with an API key."""
    return create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                       "API_KEYS": "staff:key-of-staff", **TEST_SETTINGS})


def test_openapi_documents_every_route_from_the_models(app: Flask) -> None:
    document = _document(app)
    assert document["openapi"].startswith("3.1")
    routes = {re.sub(r"<(\w+)>", r"{\1}", rule.rule).replace("{job_id}", "{id}")
              .replace("{batch_id}", "{id}")
              for rule in app.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in ("jobs", "batches", "health", "exercises",
                                                 "grade", "convert", "docs")}
    assert routes | {"/docs/"} == set(document["paths"])
    for path, method, _ in _operations(document):
        assert method.upper() in app.url_map.bind("localhost").allowed_methods(_url(path))
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    network = schemas["NetworkSpec"]["properties"]
    assert {"layers", "weights", "biases", "activation", "input", "target", "loss"} == set(network)
    assert "application/problem+json" in document["paths"]["/v1/jobs"]["post"]["responses"]["422"][
        "content"]


def test_without_keys_no_security_is_declared(app: Flask) -> None:
    assert not app.extensions["pathgrad_keys"]
    document = _document(app)
    assert "securitySchemes" not in document["components"]
    for path, method, operation in _operations(document):
        assert "security" not in operation, (method, path)
        assert "401" not in operation["responses"], (method, path)
    assert app.test_client().get("/v1/jobs/nope").status_code == 404  # no key needed indeed


def test_with_keys_every_protected_operation_declares_bearer_and_its_401(
    keyed_app: Flask,
) -> None:
    document = _document(keyed_app)
    assert document["components"]["securitySchemes"]["bearer"] | {"description": ""} == {
        "type": "http", "scheme": "bearer", "description": ""}
    client = keyed_app.test_client()
    protected = 0
    for path, method, operation in _operations(document):
        answer = client.open(_url(path), method=method.upper(), json={}).status_code
        if path in OPEN_PATHS:
            assert "security" not in operation and "401" not in operation["responses"], path
            assert answer != 401, path
            continue
        protected += 1
        assert operation["security"] == [{"bearer": []}], (method, path)
        unauthorized = operation["responses"]["401"]
        assert unauthorized["content"] == {"application/problem+json": {"schema": PROBLEM}}
        assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True
        assert answer == 401, (method, path)  # what the document says, the server does
    assert protected == 12


def test_limits_are_this_servers_settings(redis_url: str, queue: str) -> None:
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "PAGE_LIMIT": 250,
                      "MAX_PATHS": 5000, "MAX_BATCH_JOBS": 7})
    document = _document(app)
    paths = document["paths"]["/v1/jobs/{id}/weights/{name}/paths"]["get"]
    limit = next(p for p in paths["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 250)
    schemas = document["components"]["schemas"]
    max_paths = schemas["AnalysisOptions"]["properties"]["max_paths"]
    assert (max_paths["maximum"], max_paths["default"]) == (5000, 5000)
    assert schemas["BatchRequest"]["properties"]["jobs"]["maxItems"] == 7
    client = app.test_client()
    refused = client.get("/v1/jobs/nope/weights/W1/paths?limit=251")
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "limit"
    assert client.get("/v1/jobs/nope/weights/W1/paths?limit=250").status_code == 404
    # Another app's document has its own limits: each app builds its own.
    default = _document(create_app({"REDIS_URL": redis_url, "QUEUE": queue}))
    limit = next(p for p in default["paths"]["/v1/jobs/{id}/weights/{name}/paths"]["get"][
        "parameters"] if p["name"] == "limit")["schema"]
    assert limit["maximum"] == 1000


def test_the_network_schema_has_the_engines_limits(app: Flask) -> None:
    document = _document(app)
    schemas = document["components"]["schemas"]
    layers = schemas["NetworkSpec"]["properties"]["layers"]
    assert (layers["minItems"], layers["maxItems"]) == (2, MAX_DEPTH + 1)
    assert (layers["items"]["minimum"], layers["items"]["maximum"]) == (1, MAX_LAYER_SIZE)
    options = schemas["AnalysisOptions"]["properties"]
    assert not [name for name, prop in options.items() if "null" in json.dumps(prop)]
    # What the schema refuses, the server refuses, naming the field.
    network = SEED_JOB["network"]
    client = app.test_client()
    for body, field in (({"network": network | {"layers": [2]}}, "network.layers"),
                        ({"network": network | {"layers": [2, 0, 2, 1]}}, "network.layers[1]"),
                        ({"network": network | {"layers": [2, MAX_LAYER_SIZE + 1, 2, 1]}},
                         "network.layers[1]"),
                        ({"network": network, "options": {"subgradient": None}},
                         "options.subgradient")):
        assert not _validator(document, {"$ref": "#/components/schemas/JobRequest"}).is_valid(
            body), body
        response = client.post("/v1/jobs", json=body)
        assert response.status_code == 422, body
        assert field in [error["field"] for error in response.get_json()["errors"]], body


def test_operation_ids_are_unique_and_tags_name_resources(app: Flask) -> None:
    document = _document(app)
    names = [tag["name"] for tag in document["tags"]]
    assert names == ["jobs", "batches", "exercises", "grading", "models", "health", "docs"]
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)) == 15
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", name) for name in ids), ids
    for path, _, operation in _operations(document):
        resource = next(tag for prefix, tag in TAG_OF.items() if path.startswith(prefix))
        assert operation["tags"] == [resource], path
    assert {tag for _, _, op in _operations(document) for tag in op["tags"]} == set(names)


def test_every_error_is_problem_json_and_every_body_can_be_refused(app: Flask) -> None:
    document = _document(app)
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        for status, response in responses.items():
            assert response["description"] and response["content"], (method, path, status)
            if int(status) >= 400 and path != "/v1/health":
                assert response["content"] == {"application/problem+json": {
                    "schema": PROBLEM}}, (method, path, status)
        if path not in REDIS_FREE:
            assert "503" in responses, (method, path)  # Redis unreachable
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]
            malformed = {"400"} if "application/json" in content else {"415"}  # a JSON body
            assert malformed | {"413", "422"} <= set(responses), (method, path)
        if any(p["in"] == "query" for p in operation["parameters"]):
            assert "422" in responses, (method, path)
    assert document["paths"]["/v1/health"]["get"]["responses"]["503"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}


def test_the_version_is_the_packages(app: Flask) -> None:
    assert _document(app)["info"]["version"] == importlib.metadata.version("pathgrad")


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, str, str, Any, dict[str, Any]]]:
    """(path, method, media type, example body, example query) of every request body."""
    for path, method, operation in _operations(document):
        query = {p["name"]: p["example"] for p in operation["parameters"]
                 if p["in"] == "query" and "example" in p}
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            # A file body (an ONNX model) has no example in the document.
            for example in content.get("examples", {}).values():
                yield path, method, media, example["value"], query


def test_every_request_has_an_example_valid_against_its_schema(app: Flask) -> None:
    document = _document(app)
    found = {(path, media) for path, _, media, _, _ in _examples(document)}
    assert found == {("/v1/jobs", "application/json"), ("/v1/batches", "application/json"),
                     ("/v1/batches", "application/x-ndjson"),
                     ("/v1/exercises", "application/json"), ("/v1/grade", "application/json")}
    jobs = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert jobs["examples"]["seed"]["value"] == SEED_JOB  # the README's network
    for path, method, media, body, _ in _examples(document):
        schema = document["paths"][path][method]["requestBody"]["content"][media]["schema"]
        _validator(document, schema).validate(body)
        if media == "application/x-ndjson":
            job = _validator(document, {"$ref": "#/components/schemas/JobRequest"})
            for line in body.splitlines():
                job.validate(json.loads(line))
    for path, _, operation in _operations(document):
        for parameter in operation["parameters"]:
            if parameter["required"]:
                assert "example" in parameter, (path, parameter["name"])
            if "example" in parameter:
                _validator(document, parameter["schema"]).validate(parameter["example"])


def test_the_examples_are_accepted_by_the_server(client: FlaskClient, app: Flask) -> None:
    for path, method, media, body, query in _examples(_document(app)):
        data = body if isinstance(body, str) else json.dumps(body)
        response = client.open(path, method=method.upper(), query_string=query, data=data,
                               content_type=media)
        assert response.status_code in (200, 202), (path, media, response.get_json())
        if path == "/v1/batches":
            assert response.get_json()["failed"] == 0


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
