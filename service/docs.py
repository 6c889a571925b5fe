"""The docs resource: ``/openapi.json`` generated from the models, ``/docs`` rendering it.

The Swagger UI assets come from the ``flask-swagger-ui`` package and are served by
this app: the docs work offline, with no CDN.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app
from flask_swagger_ui import get_swaggerui_blueprint
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from worker import engine

from . import models

NDJSON = "application/x-ndjson"
# Served without an API key (see auth.OPEN_ENDPOINTS), as are /openapi.json and /docs.
_OPEN_PATHS = ("/v1/health",)

__all__ = ["OPERATIONS", "bp", "init_app", "openapi_document"]

bp = Blueprint("docs", __name__)

#: (method, path, summary, request body, query model, {status: (response model, description)})
OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None,
                       dict[int, tuple[type[BaseModel] | None, str]]]] = [
    ("post", "/v1/jobs", "Submit a network for analysis", models.JobRequest, models.WaitQuery, {
        200: (models.Job, "Finished: from the cache, or within ?wait"),
        202: (models.JobAccepted, "Queued; poll the Location header"),
        400: (models.Problem, "Malformed JSON"),
        413: (models.Problem, "Body over the size limit"),
        422: (models.Problem, "Invalid network or options, or over the path limit"),
    }),
    ("get", "/v1/jobs/{id}", "Read a job", None, None, {
        200: (models.Job, "The job, with its result or error once finished"),
        404: (models.Problem, "Unknown or expired job"),
    }),
    ("get", "/v1/jobs/{id}/weights/{name}/paths", "Page through a weight's path contributions",
     None, models.PathsQuery, {
        200: (models.PathPage, "One page; pass next_cursor for the next"),
        404: (models.Problem, "Unknown job or weight"),
        422: (models.Problem, "Invalid order, limit or cursor"),
        503: (models.Problem, "Not computed yet; retry"),
    }),
    ("get", "/v1/jobs/{id}/weights/{name}/formula", "Symbolic gradient of a weight", None, None, {
        200: (models.Formula, "text parses with sympy.sympify"),
        404: (models.Problem, "Unknown job or weight"),
        422: (models.Problem, "Too many paths for a readable formula"),
    }),
    ("post", "/v1/exercises", "Draw backprop exercises with answer keys",
     models.ExerciseRequest, None, {
        200: (models.ExerciseList, "count variants: network, Markdown question, answer key"),
        400: (models.Problem, "Malformed JSON"),
        422: (models.Problem, "Invalid request, naming the field"),
        503: (models.Problem, "Still drawing; retry (Retry-After)"),
    }),
    ("post", "/v1/grade", "Grade hand-computed gradients, with feedback", models.GradeRequest,
     models.GradeQuery, {
        200: (models.Grading, "The grading; ?format=gradescope gives a Gradescope "
              "results.json, ?format=junit JUnit XML (application/xml)"),
        400: (models.Problem, "Malformed JSON"),
        422: (models.Problem, "Invalid network, options, answers, tolerance or points"),
        503: (models.Problem, "Still grading; retry (Retry-After)"),
    }),
    ("post", "/v1/batches", "Submit up to 100,000 jobs (JSON, or NDJSON one job a line)",
     models.BatchRequest, None, {
        202: (models.Batch, "Accepted, with the counts at acceptance (lines answered from "
              "the cache have succeeded, invalid lines have failed); results at Location "
              "+ /results"),
        400: (models.Problem, "Malformed JSON (a malformed NDJSON line fails only that line)"),
        413: (models.Problem, "Body over PATHGRAD_MAX_BATCH_BODY"),
        422: (models.Problem, "Not {\"jobs\": [...]}, or no jobs, or too many; an invalid job "
              "fails only its own line"),
    }),
    ("get", "/v1/batches/{id}", "Read a batch's status and counts", None, None, {
        200: (models.Batch, "running while pending > 0, then succeeded or failed"),
        404: (models.Problem, "Unknown or expired batch"),
    }),
    ("get", "/v1/batches/{id}/results", "Stream a batch's results as NDJSON, in order",
     None, models.BatchResultsQuery, {
        200: (models.BatchLine, "application/x-ndjson, one BatchLine per job in submission "
              "order; each is written once it and every line before it have finished; the "
              "stream ends early (fewer lines than total) when ?timeout runs out"),
        404: (models.Problem, "Unknown or expired batch"),
        422: (models.Problem, "Invalid timeout or start"),
    }),
    ("get", "/v1/health", "Service health", None, None, {
        200: (models.Health, "Redis reachable"),
        503: (models.Health, "Redis unreachable"),
    }),
]


def init_app(app: Flask) -> None:
    """Serve the Swagger UI at ``/docs``."""
    app.register_blueprint(
        get_swaggerui_blueprint("/docs", "/openapi.json",
                                config={"app_name": "pathgrad API", "validatorUrl": None})
    )


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """Return the OpenAPI document of this API."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = openapi_document()
    document: dict[str, Any] = current_app.extensions["openapi"]
    return document


def openapi_document() -> dict[str, Any]:
    """Build the OpenAPI 3.1 document from :data:`OPERATIONS` and the pydantic models."""
    used = {m for op in OPERATIONS for m in _models(op)}
    keyed: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation" if _is_request(m) else "serialization") for m in used
    ]
    refs, defs = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, body, query, responses in OPERATIONS:
        operation: dict[str, Any] = {"summary": summary, "parameters": _path_params(path)}
        if query is not None:
            operation["parameters"] += _query_params(query)
        if body is not None:
            content = {"application/json": {"schema": refs[(body, "validation")]}}
            if body is models.BatchRequest:
                content[NDJSON] = {"schema": {
                    "type": "string", "description": "One JobRequest object a line."}}
            operation["requestBody"] = {"required": True, "content": content}
        if path not in _OPEN_PATHS:
            operation["security"] = [{"bearer": []}]
        operation["responses"] = {
            str(status): _response(refs, model, text)
            for status, (model, text) in responses.items()
        }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "pathgrad", "version": engine.ENGINE_VERSION,
                 "description": "Explain and check neural-network gradients: explicit "
                 "path sums and backprop that check each other."},
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {}), "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "Needed only when the server sets PATHGRAD_API_KEYS; without a "
            "valid key every route but /v1/health and the docs answers 401 "
            "(application/problem+json, WWW-Authenticate: Bearer)."}}},
    }


def _models(op: tuple[Any, ...]) -> list[type[BaseModel]]:
    found = [op[3]] + [model for model, _ in op[5].values()]
    return [m for m in found if m is not None]


def _is_request(model: type[BaseModel]) -> bool:
    return any(op[3] is model for op in OPERATIONS)


def _response(refs: dict[Any, Any], model: type[BaseModel] | None, text: str) -> dict[str, Any]:
    if model is None:
        return {"description": text}
    mode = "validation" if _is_request(model) else "serialization"
    media = ("application/problem+json" if model is models.Problem
             else NDJSON if model is models.BatchLine else "application/json")
    return {"description": text, "content": {media: {"schema": refs[(model, mode)]}}}


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in names]


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": prop,
         "description": prop.get("description", "")}
        for name, prop in schema.get("properties", {}).items()
    ]
