"""The docs resource: ``/openapi.json`` generated from the models, ``/docs`` rendering it.

The document is built for each app, from its settings: it gives this server's limits
(``PATHGRAD_PAGE_LIMIT``, ``PATHGRAD_MAX_PATHS``, ``PATHGRAD_MAX_BATCH_JOBS``) and
declares bearer auth, with the 401 of every protected operation, only when the app
has API keys. The Swagger UI assets come from the ``flask-swagger-ui`` package and
are served by this app: the docs work offline, with no CDN.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app
from flask_swagger_ui import get_swaggerui_blueprint
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from pathgrad import __version__, examples
from worker import engine

from . import models

__all__ = ["OPERATIONS", "Operation", "Reply", "SEED_JOB", "bp", "init_app", "openapi_document"]

NDJSON = "application/x-ndjson"
PROBLEM = "application/problem+json"
SCHEMAS = "#/components/schemas/"

bp = Blueprint("docs", __name__)


@dataclass(frozen=True)
class Reply:
    """One response an operation can give: its description, body and headers."""

    description: str
    model: type[BaseModel] | tuple[type[BaseModel], ...] | None = None  # a tuple: any of them
    media: str = "application/json"
    headers: tuple[str, ...] = ()
    # Further media types of the same status, as OpenAPI media type objects.
    alternatives: Mapping[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> tuple[type[BaseModel], ...]:
        """The models the body may be (none for a body without one)."""
        if self.model is None:
            return ()
        return self.model if isinstance(self.model, tuple) else (self.model,)


@dataclass(frozen=True)
class Operation:
    """One documented route and method, with every response the server can give."""

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    replies: dict[int, Reply]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    example: Any = None  # a request body the server accepts
    parameter_examples: dict[str, Any] = field(default_factory=dict)
    links: dict[int, dict[str, Any]] = field(default_factory=dict)
    protected: bool = True  # needs an API key when the server has keys
    file_body: str | None = None  # the media type of a body that is a file, not JSON


#: The seed network of the README, as a job (the example pathgrad ships as seed-job).
SEED_JOB: dict[str, Any] = examples.load("seed-job")
_EXAMPLE_ID = "cc374d82ae7b411c827cff533e50ca69"


def _problem(description: str, *headers: str) -> Reply:
    return Reply(description, models.Problem, PROBLEM, headers)


_MALFORMED = _problem("Malformed JSON (or nested too deeply, or an integer of over 4,300 "
                      "digits)")
_TOO_LARGE = _problem("Body over PATHGRAD_MAX_BODY")
_UNKNOWN_JOB = _problem("Unknown or expired job (or another API key's)")
_EXPIRED = _problem("The job's result or input has expired; submit the network again")
_UNAVAILABLE = "Redis (the queue) is unreachable; retry later"
_STILL_COMPUTING = _problem(f"Not computed within PATHGRAD_COMPUTE_WAIT; retry. Or: "
                            f"{_UNAVAILABLE}", "Retry-After")
_REDIS_DOWN = _problem(_UNAVAILABLE, "Retry-After")
_JOB_LINKS = {
    "GetJob": {"operationId": "getJob", "parameters": {"id": "$response.body#/id"}},
    "GetPaths": {"operationId": "getWeightPaths",
                 "parameters": {"id": "$response.body#/id", "name": "W1"}},
    "GetFormula": {"operationId": "getWeightFormula",
                   "parameters": {"id": "$response.body#/id", "name": "W1"}},
}
_BATCH_LINKS = {
    "GetBatch": {"operationId": "getBatch", "parameters": {"id": "$response.body#/id"}},
    "GetBatchResults": {"operationId": "getBatchResults",
                        "parameters": {"id": "$response.body#/id"}},
}
_WEIGHT = {"id": _EXAMPLE_ID, "name": "W1"}

OPERATIONS: list[Operation] = [
    Operation("post", "/v1/jobs", "submitJob", "jobs", "Submit a network for analysis", {
        200: Reply("Finished: from the cache, or within ?wait", models.Job,
                   headers=("Content-Location",)),
        202: Reply("Queued; poll the Location header", models.JobAccepted,
                   headers=("Location",)),
        400: _MALFORMED,
        413: _TOO_LARGE,
        422: _problem("Invalid network or options (naming the field; also shapes that do "
                      "not match layers, which JSON Schema cannot say), or over the path "
                      "limit (with paths and limit)"),
        503: _REDIS_DOWN,
    }, body=models.JobRequest, query=models.WaitQuery, example=SEED_JOB,
        parameter_examples={"wait": 10}, links={200: _JOB_LINKS, 202: _JOB_LINKS}),
    Operation("get", "/v1/jobs/{id}", "getJob", "jobs", "Read a job", {
        200: Reply("The job, with its result or error once finished", models.Job),
        404: _UNKNOWN_JOB,
        410: _EXPIRED,
        503: _REDIS_DOWN,
    }, parameter_examples={"id": _EXAMPLE_ID}),
    Operation("get", "/v1/jobs/{id}/weights/{name}/paths", "getWeightPaths", "jobs",
              "Page through a weight's (or a bias's) paths, at any size", {
                  200: Reply("One page, the best by |contribution| (exact, without listing "
                             "the paths) or at any position in index order, with what the "
                             "rest can add; pass next_cursor for the next", models.PathPage),
                  404: _problem("Unknown job, weight or bias"),
                  410: _EXPIRED,
                  422: _problem("Invalid order, limit or cursor, or a page too deep for the "
                                "work limit"),
                  503: _STILL_COMPUTING,
              }, query=models.PathsQuery,
              parameter_examples=_WEIGHT | {"limit": 10, "order": "abs_desc"}),
    Operation("get", "/v1/jobs/{id}/paths", "getNetworkPaths", "jobs",
              "Page through the network's input-to-output paths", {
                  200: Reply("One page of the paths (through a neuron or a weight, to one "
                             "output or all), with what the rest can add",
                             models.NetworkPathPage),
                  404: _problem("Unknown job, or a through or output that is no neuron or "
                                "weight of it"),
                  410: _EXPIRED,
                  422: _problem("Invalid order, limit, cursor or output, or a page too deep "
                                "for the work limit"),
                  503: _STILL_COMPUTING,
              }, query=models.NetworkPathsQuery,
              parameter_examples={"id": _EXAMPLE_ID, "through": "H4", "limit": 10}),
    Operation("get", "/v1/jobs/{id}/nodes/{name}", "getNode", "jobs",
              "A neuron's value, delta and the flow of the paths through it", {
                  200: Reply("The neuron", models.NodeFlow),
                  404: _problem("Unknown job or neuron"),
                  410: _EXPIRED,
                  503: _STILL_COMPUTING,
              }, parameter_examples={"id": _EXAMPLE_ID, "name": "H4"}),
    Operation("get", "/v1/jobs/{id}/weights/{name}/formula", "getWeightFormula", "jobs",
              "Symbolic gradient of a weight", {
                  200: Reply("text parses with sympy.sympify", models.Formula),
                  404: _problem("Unknown job or weight"),
                  410: _EXPIRED,
                  422: _problem("Too many paths for a readable formula"),
                  503: _STILL_COMPUTING,
              }, parameter_examples=_WEIGHT),
    Operation("post", "/v1/batches", "submitBatch", "batches",
              "Submit up to PATHGRAD_MAX_BATCH_JOBS jobs (JSON, or NDJSON one job a line)", {
                  202: Reply("Accepted, with the counts at acceptance (lines answered from "
                             "the cache have succeeded, invalid lines have failed); results "
                             "at Location + /results", models.BatchStatus, headers=("Location",)),
                  400: _problem("Malformed JSON (a malformed NDJSON line fails only that "
                                "line)"),
                  413: _problem("Body over PATHGRAD_MAX_BATCH_BODY"),
                  422: _problem("Not {\"jobs\": [...]}, or no jobs, or more than "
                                "PATHGRAD_MAX_BATCH_JOBS; an invalid job fails only its "
                                "own line"),
                  503: _REDIS_DOWN,
              }, body=models.BatchRequest,
              example={"jobs": [SEED_JOB, {"network": SEED_JOB["network"],
                                           "options": {"arithmetic": "exact"}}]},
              links={202: _BATCH_LINKS}),
    Operation("get", "/v1/batches/{id}", "getBatch", "batches",
              "Read a batch's status and counts", {
                  200: Reply("running while pending > 0, then succeeded or failed",
                             models.BatchStatus),
                  404: _problem("Unknown or expired batch (or another API key's)"),
                  503: _REDIS_DOWN,
              }, parameter_examples={"id": _EXAMPLE_ID}),
    Operation("get", "/v1/batches/{id}/results", "getBatchResults", "batches",
              "Stream a batch's results as NDJSON, in order", {
                  200: Reply("application/x-ndjson: one BatchLine (the schema) a line, in "
                             "submission order; each is written once it and every line "
                             "before it have finished; the stream ends early (fewer lines "
                             "than total) when ?timeout runs out, or with a BatchInterrupted "
                             "line if Redis goes away", (models.BatchLine,
                                                         models.BatchInterrupted), NDJSON),
                  404: _problem("Unknown or expired batch (or another API key's)"),
                  422: _problem("Invalid timeout, or start over the batch's total"),
                  503: _REDIS_DOWN,
              }, query=models.BatchResultsQuery,
              parameter_examples={"id": _EXAMPLE_ID, "timeout": 10, "start": 0}),
    Operation("post", "/v1/exercises", "drawExercises", "exercises",
              "Draw backprop exercises with answer keys", {
                  200: Reply("count variants: network, Markdown question, answer key",
                             models.ExerciseList),
                  400: _MALFORMED,
                  413: _TOO_LARGE,
                  422: _problem("Invalid request, naming the field (also what JSON Schema "
                                "cannot say: over the path limits, integers with lower > "
                                "upper or both 0, an asked weight the network lacks, an "
                                "activation list of the wrong length)"),
                  503: _problem(f"Still drawing; retry. Or: {_UNAVAILABLE}", "Retry-After"),
              }, body=models.ExerciseRequest,
              example={"layers": [2, 3, 2, 1], "ask": ["W1", "W7"], "seed": 7, "count": 2}),
    Operation("post", "/v1/grade", "gradeAnswers", "grading",
              "Grade hand-computed gradients, with feedback", {
                  200: Reply("The grading (?format=json); ?format=gradescope gives a "
                             "Gradescope results.json, ?format=junit JUnit XML "
                             "(application/xml)", (models.Grading, models.GradescopeResults),
                             alternatives={
                                 "application/xml": {"schema": {"type": "string"}}}),
                  400: _MALFORMED,
                  413: _TOO_LARGE,
                  422: _problem("Invalid network, options, answers, tolerance, points or "
                                "format (naming the field; also shapes that do not match "
                                "layers)"),
                  503: _problem(f"Still grading; retry. Or: {_UNAVAILABLE}", "Retry-After"),
              }, body=models.GradeRequest, query=models.GradeQuery,
              example={"network": SEED_JOB["network"], "answers": {"W1": 2.31, "W13": "5/2"},
                       "points": {"W1": 2, "W13": 1}},
              parameter_examples={"format": "json"}),
    Operation("post", "/v1/convert", "convertModel", "models",
              "Read an ONNX model (a chain of fully connected layers) into a network spec", {
                  200: Reply("The spec; input, target and loss only when given in the query",
                             models.ConvertedNetwork),
                  413: _TOO_LARGE,
                  415: _problem("The body is not sent as application/onnx"),
                  422: _problem("Not ONNX (or cut short), an operator outside the chain "
                                "(naming it and its node), or input/target/loss that do not "
                                "fit the model (naming the field)"),
              }, query=models.ConvertQuery, file_body="application/onnx",
              parameter_examples={"loss": "softmax_cross_entropy"}),
    Operation("get", "/v1/health", "getHealth", "health", "Service health", {
        200: Reply("Redis reachable", models.Health),
        503: Reply("Redis unreachable", models.Health),
    }, protected=False),
    Operation("get", "/openapi.json", "getOpenApi", "docs", "This document", {
        200: Reply("The OpenAPI 3.1 document of this server"),
    }, protected=False),
    Operation("get", "/docs/", "getDocs", "docs", "Swagger UI (GET /docs redirects here)", {
        200: Reply("The Swagger UI page, served from local assets", media="text/html"),
    }, protected=False),
]
_HEADERS = {
    "Location": "Where to read the resource created",
    "Content-Location": "Where to read this job again",
    "Retry-After": "Seconds to wait before retrying",
    "WWW-Authenticate": "Bearer realm=\"pathgrad\"",
}
_TAGS = [
    {"name": "jobs", "description": "Analyse one network; its path contributions and "
     "formulas"},
    {"name": "batches", "description": "Many networks at once, results streamed in order"},
    {"name": "exercises", "description": "Backprop exercises with answer keys"},
    {"name": "grading", "description": "Grade hand-computed gradients"},
    {"name": "models", "description": "Real models in: ONNX files as network specs"},
    {"name": "health", "description": "Is Redis reachable, are workers listening"},
    {"name": "docs", "description": "This document and its Swagger UI"},
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
        current_app.extensions["openapi"] = openapi_document(
            current_app.config, keyed=bool(current_app.extensions["pathgrad_keys"]))
    document: dict[str, Any] = current_app.extensions["openapi"]
    return document


def openapi_document(config: Mapping[str, Any], *, keyed: bool) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document of a server with these settings (and keys or not)."""
    schemas = _schemas(config)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, config, keyed)
    components: dict[str, Any] = {"schemas": schemas}
    if keyed:
        components["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "A key of PATHGRAD_API_KEYS; without a valid one every route "
            "but /v1/health and the docs answers 401 (application/problem+json, "
            "WWW-Authenticate: Bearer)."}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "pathgrad", "version": __version__,
                 "description": "Explain and check neural-network gradients: explicit "
                 f"path sums and backprop that check each other (engine version "
                 f"{engine.ENGINE_VERSION}). Errors are RFC 9457 application/problem+json; "
                 "no request makes the server answer a 5xx but 503 (retry later)."},
        "tags": _TAGS,
        "paths": paths,
        "components": components,
    }


# --- schemas ----------------------------------------------------------------------------


def _schemas(config: Mapping[str, Any]) -> dict[str, Any]:
    """The components' schemas, with this server's limits in them."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation" if _is_request(m) else "serialization") for m in _used_models()
    ]
    _, defs = models_json_schema(wanted, ref_template=SCHEMAS + "{model}")
    schemas: dict[str, Any] = _untitled(defs.get("$defs", {}))
    max_paths = int(config["MAX_PATHS"])
    options = schemas["AnalysisOptions"]["properties"]
    options["max_paths"].update(default=max_paths, maximum=max_paths)
    schemas["BatchRequest"]["properties"]["jobs"]["maxItems"] = int(config["MAX_BATCH_JOBS"])
    return schemas


def _used_models() -> list[type[BaseModel]]:
    found = {op.body for op in OPERATIONS if op.body is not None} | {
        model for op in OPERATIONS for reply in op.replies.values() for model in reply.models}
    return sorted(found, key=lambda m: m.__name__)


def _is_request(model: type[BaseModel]) -> bool:
    return any(op.body is model for op in OPERATIONS)


def _untitled(node: Any) -> Any:
    """A schema without pydantic's ``title`` of every property (the name says it)."""
    if isinstance(node, dict):
        return {key: _untitled(value) for key, value in node.items()
                if not (key == "title" and isinstance(value, str) and "properties" not in node)}
    if isinstance(node, list):
        return [_untitled(value) for value in node]
    return node


# --- operations -------------------------------------------------------------------------


def _operation(op: Operation, config: Mapping[str, Any], keyed: bool) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op.operation_id, "tags": [op.tag], "summary": op.summary,
        "parameters": _path_params(op) + _query_params(op, config),
    }
    if op.body is not None:
        operation["requestBody"] = _request_body(op.body, op.example)
    elif op.file_body is not None:
        operation["requestBody"] = {"required": True, "content": {op.file_body: {
            "schema": {"type": "string", "contentMediaType": op.file_body},
        }}}
    replies = dict(op.replies)
    if keyed and op.protected:
        operation["security"] = [{"bearer": []}]
        replies[401] = _problem("No API key, or not a valid one", "WWW-Authenticate")
    operation["responses"] = {str(status): _response(op, status, reply)
                              for status, reply in sorted(replies.items())}
    return operation


def _request_body(body: type[BaseModel], example: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {
        "schema": {"$ref": SCHEMAS + body.__name__},
        "examples": {"seed": {"summary": "The seed network", "value": example}},
    }}
    if body is models.BatchRequest:
        lines = "\n".join(json.dumps(job) for job in example["jobs"]) + "\n"
        content[NDJSON] = {
            # A body with a line that is not only whitespace holds at least one job.
            "schema": {"type": "string", "pattern": "[^\t\n\x0b\x0c\r ]",
                       "description": "One JobRequest object a line (an invalid line fails "
                       "alone); application/jsonl and application/json-lines are read "
                       "the same."},
            "examples": {"seed": {"summary": "The seed network, twice", "value": lines}},
        }
    return {"required": True, "content": content}


def _response(op: Operation, status: int, reply: Reply) -> dict[str, Any]:
    response: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        response["headers"] = {name: {"description": _HEADERS[name], "required": True,
                                      "schema": {"type": "string"}} for name in reply.headers}
    refs = [{"$ref": SCHEMAS + model.__name__} for model in reply.models]
    if len(refs) > 1:
        schema: dict[str, Any] = {"anyOf": refs}
    elif refs:
        schema = refs[0]
    else:
        schema = {"type": "object"} if reply.media == "application/json" else {"type": "string"}
    response["content"] = {reply.media: {"schema": schema}, **reply.alternatives}
    if status in op.links:
        response["links"] = copy.deepcopy(op.links[status])
    return response


def _path_params(op: Operation) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in op.path.split("/") if part.startswith("{")]
    return [_parameter(name, "path", {"type": "string", "minLength": 1}, "",
                       op.parameter_examples, required=True) for name in names]


def _query_params(op: Operation, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    limits: dict[str, dict[str, Any]] = {}
    if op.query in (models.PathsQuery, models.NetworkPathsQuery):  # refused beyond (422)
        limits["limit"] = {"maximum": int(config["PAGE_LIMIT"])}
    found = []
    for name, prop in op.query.model_json_schema()["properties"].items():
        schema = _untitled(_not_null(prop))
        schema.pop("description", None)
        schema.update(limits.get(name, {}))
        found.append(_parameter(name, "query", schema, prop.get("description", ""),
                                op.parameter_examples))
    return found


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query value cannot be null: a parameter left out takes its default."""
    branches = [b for b in prop.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) != 1:
        return dict(prop)
    merged = {k: v for k, v in prop.items() if k not in ("anyOf", "default")} | branches[0]
    return merged


def _parameter(name: str, where: str, schema: dict[str, Any], description: str,
               examples: Mapping[str, Any], *, required: bool = False) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": where, "required": required,
                                 "schema": schema}
    if description:
        parameter["description"] = description
    if name in examples:
        parameter["example"] = examples[name]
    return parameter
