"""The API against its own OpenAPI document: generated requests, every answer conforming.

Schemathesis generates requests from /openapi.json (valid ones, and ones the document
refuses) and sends them to the real app (WSGI, a real Redis and Celery worker), with
every built-in check: no 5xx, status codes, content types, headers and bodies as
documented, schema-invalid requests refused, undocumented methods answered 405 with
Allow, and with API keys a 401 for requests without a valid one.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from conftest import TEST_SETTINGS
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from service import create_app
from service.docs import OPERATIONS, openapi_document
from service.settings import DEFAULTS

NDJSON = "application/x-ndjson"
KEY = "key-of-the-fuzzer"
# A few hundred generated requests in all, beside the examples and boundary cases;
# the same ones every run (a fixed seed, no replay database), so the suite is not flaky.
FUZZ = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

# Rules JSON Schema cannot express, which the server answers with 422 (documented):
# a network's weight matrices must have the shapes its layers give and its paths must
# fit max_paths; an exercise's integers must not be [0, 0] nor lower > upper, its
# asked weights must exist in the network and have at most 64 paths; grading points
# must name parameters of the network; a cursor must be a next_cursor the server gave
# for that weight and order; a results stream's start must not pass the batch's
# total; a formula must not sum too many paths for the job's network; the network's
# paths go through a neuron or weight, and to an output, of the job's network. "A
# schema-valid request is accepted" cannot hold where they apply, and is checked
# everywhere else.
# A model's body must be an ONNX file of a chain of layers, which no schema of bytes says.
_CROSS_FIELD = {"submitJob", "drawExercises", "gradeAnswers", "getWeightFormula",
                "convertModel"}
_CROSS_FIELD_QUERY = {"getWeightPaths": ("cursor",), "getBatchResults": ("start",),
                      "getNetworkPaths": ("cursor", "through", "output")}


# Schemathesis has no NDJSON serializer: send such bodies as its text/plain ones, as written.
schemathesis.serializer.alias(NDJSON, "text/plain")
# ... and an ONNX model as the bytes it is.
schemathesis.serializer.alias("application/onnx", "application/octet-stream")


def _unbound(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Stand for the app until a test passes its own: a request sent here fails the test."""
    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
    return [b"sent to no test app"]


def _schema(*, keyed: bool, auth: dict[str, Any] | None = None) -> Any:
    """The document of the test apps, to send requests to over WSGI.

    Each test passes its app (a real Redis and worker) as ``app=``, and the checks'
    own requests (such as those without a key) go there too; the schema's app only
    picks schemathesis's WSGI transport. The document is the test apps' (checked below).
    """
    document = openapi_document(DEFAULTS | TEST_SETTINGS, keyed=keyed)
    # An explicit configuration: no schemathesis.toml of the machine is read.
    loaded = schemathesis.openapi.from_dict(
        document, config=schemathesis.Config.from_dict({"auth": auth} if auth else {}))
    loaded.app = _unbound
    return loaded


schema = _schema(keyed=False)
# The key as schemathesis's own bearer credentials: it sends it on every request it
# means to be authorized, and leaves it out (or spoils it) where it tests the 401.
keyed_schema = _schema(keyed=True, auth={"openapi": {"bearer": {"bearer": KEY}}})


@pytest.fixture
def keyed_app(redis_url: str, queue: str) -> Flask:
    """The test app with an API key."""
    return create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                       "API_KEYS": f"fuzzer:{KEY}", **TEST_SETTINGS})


def _ndjson_lines_conform(ctx: Any, response: schemathesis.Response,
                          case: schemathesis.Case) -> bool | None:
    """Check every line of an NDJSON answer against the schema documented for it.

    Schemathesis reads no NDJSON (it skips the body), so this check reads each line.
    """
    media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    if media != NDJSON:
        return None
    declared = case.operation.definition.raw["responses"][str(response.status_code)]["content"]
    line = jsonschema_rs.validator_for(declared[NDJSON]["schema"]
                                       | {"components": case.operation.schema.raw_schema[
                                           "components"]})
    for number, text in enumerate(response.text.splitlines()):
        errors = [str(error) for error in line.iter_errors(json.loads(text))]
        assert not errors, f"NDJSON line {number} does not conform: {errors}"
    return True


def _validate(case: schemathesis.Case, response: schemathesis.Response, **kwargs: Any) -> None:
    case.validate_response(response, excluded_checks=_excluded(case),
                           additional_checks=[_ndjson_lines_conform], transport_kwargs=kwargs)


def _excluded(case: schemathesis.Case) -> list[Any]:
    excluded = []
    operation = case.operation.definition.raw["operationId"]
    if operation in _CROSS_FIELD or set(_CROSS_FIELD_QUERY.get(operation, ())) & set(
            case.query or {}):
        excluded.append(positive_data_acceptance)
    if case.media_type == NDJSON:
        # Every body goes as bytes, and all text is an NDJSON body: a generated
        # "non-string" body can only be sent as its text, which the server rightly
        # reads as lines (each invalid line fails alone). Only for this media type.
        excluded.append(negative_data_rejection)
    return excluded


def test_the_fuzzed_documents_are_the_test_apps(app: Flask, keyed_app: Flask) -> None:
    assert app.test_client().get("/openapi.json").get_json() == schema.raw_schema
    assert keyed_app.test_client().get("/openapi.json").get_json() == keyed_schema.raw_schema


@schema.parametrize()
@FUZZ
def test_every_answer_conforms(
    case: schemathesis.Case, app: Flask, celery_worker: subprocess.Popen[bytes]
) -> None:
    _validate(case, case.call(app=app), app=app)


@keyed_schema.parametrize()
@settings(FUZZ, max_examples=5)
def test_every_answer_conforms_with_api_keys(
    case: schemathesis.Case, keyed_app: Flask, celery_worker: subprocess.Popen[bytes]
) -> None:
    _validate(case, case.call(app=keyed_app), app=keyed_app)


def test_linked_calls_conform(redis_url: str, queue: str,
                              celery_worker: subprocess.Popen[bytes]) -> None:
    """Follow the document's links: read the jobs and batches the fuzzed requests made."""
    # Result streams wait at most 10 s for unfinished lines (not the default hour).
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                      "MAX_BATCH_WAIT": 10, **TEST_SETTINGS})
    assert app.test_client().get("/openapi.json").get_json() == schema.raw_schema

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": app}

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            _validate(case, response, **kwargs)

    Workflow.run(settings=settings(FUZZ, max_examples=25, stateful_step_count=6))


def _example(operation_id: str) -> Any:
    return next(op.example for op in OPERATIONS if op.operation_id == operation_id)


def _call(path: str, method: str, app: Flask, **data: Any) -> schemathesis.Response:
    case = schema[path][method].Case(**data)
    response = case.call(app=app)
    _validate(case, response, app=app)
    assert response.status_code in (200, 202), response.text
    return response


def test_real_resources_conform(client: FlaskClient, app: Flask) -> None:
    """The answers fuzzing seldom reaches (existing jobs and batches), checked alike."""
    job = _call("/v1/jobs", "POST", app, body=_example("submitJob"), query={"wait": 30}).json()
    deadline = time.monotonic() + 60
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/v1/jobs/{job['id']}").get_json()
    assert job["status"] == "succeeded", job
    weight = {"id": job["id"], "name": "W1"}
    _call("/v1/jobs/{id}", "GET", app, path_parameters={"id": job["id"]})
    limit = int(app.config["PAGE_LIMIT"])
    for order in ("abs_desc", "abs_asc", "index"):
        _call("/v1/jobs/{id}/weights/{name}/paths", "GET", app, path_parameters=weight,
              query={"order": order, "limit": limit})
    first = _call("/v1/jobs/{id}/weights/{name}/paths", "GET", app, path_parameters=weight,
                  query={"limit": 1}).json()
    _call("/v1/jobs/{id}/weights/{name}/paths", "GET", app, path_parameters=weight,
          query={"limit": 1, "cursor": first["next_cursor"]})
    _call("/v1/jobs/{id}/weights/{name}/formula", "GET", app, path_parameters=weight)
    _call("/v1/jobs/{id}/weights/{name}/paths", "GET", app,
          path_parameters={"id": job["id"], "name": "b_H4"}, query={"limit": 1})
    for query in ({}, {"through": "H4", "limit": 2}, {"through": "W7", "output": "Out",
                                                      "order": "index"}):
        page = _call("/v1/jobs/{id}/paths", "GET", app, path_parameters={"id": job["id"]},
                     query=query).json()
    _call("/v1/jobs/{id}/paths", "GET", app, path_parameters={"id": job["id"]},
          query={"through": "W7", "output": "Out", "order": "index", "limit": 1})
    assert page["total_paths"] == 2
    for node in ("X1", "H4", "Out"):
        _call("/v1/jobs/{id}/nodes/{name}", "GET", app,
              path_parameters={"id": job["id"], "name": node})

    batch_body = _example("submitBatch")
    for media in ("application/json", NDJSON):
        body = batch_body if media == "application/json" else "\n".join(
            json.dumps(line) for line in batch_body["jobs"])
        batch = _call("/v1/batches", "POST", app, body=body, media_type=media).json()
        _call("/v1/batches/{id}", "GET", app, path_parameters={"id": batch["id"]})
        results = _call("/v1/batches/{id}/results", "GET", app,
                        path_parameters={"id": batch["id"]}, query={"timeout": 30})
        lines = [json.loads(text) for text in results.text.splitlines()]
        assert [item["index"] for item in lines] == list(range(len(batch_body["jobs"])))
        assert {item["status"] for item in lines} == {"succeeded"}

    _call("/v1/exercises", "POST", app, body=_example("drawExercises"))
    for fmt in ("json", "gradescope", "junit"):
        _call("/v1/grade", "POST", app, body=_example("gradeAnswers"), query={"format": fmt})
