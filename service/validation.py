"""Validation of one job body, shared by single jobs and every line of a batch."""

from __future__ import annotations

import json
import sys
from typing import Any

from flask import current_app, request
from pydantic import ValidationError

from worker.engine.analysis import check_limits
from worker.engine.errors import InvalidInputError, PathgradError
from worker.engine.options import Options, parse_options
from worker.engine.spec import Network, parse_spec
from worker.problems import problem, problem_of

from .models import JobRequest
from .problems import ProblemError, validation_problem

__all__ = [
    "checked_network",
    "invalid",
    "job_options",
    "json_body",
    "malformed_json",
    "parse_json",
    "problem_of_exception",
    "validate_job",
]


def validate_job(body: Any) -> tuple[Network, Options]:
    """Check a job body ``{"network", "options"}``: its outline, options, spec and path limit."""
    JobRequest.model_validate(body)
    # The engine validates the raw JSON: pydantic only checked its outline.
    options = job_options(body.get("options") or {})
    return checked_network(body["network"], options), options


def checked_network(raw: Any, options: Options) -> Network:
    """Parse a body's ``network`` and check its size against the limits, before queueing."""
    try:
        network = parse_spec(raw, exact=options.exact)
        check_limits(network.layers, options, network.samples)
    except InvalidInputError as exc:
        raise ProblemError(problem_of(exc, network="network")) from None
    return network


def job_options(raw: dict[str, Any]) -> Options:
    """Validate options; the server's path limit is the default and the ceiling."""
    cap = int(current_app.config["MAX_PATHS"])
    if "max_paths" in raw and isinstance(raw["max_paths"], int) and raw["max_paths"] > cap:
        raise ProblemError(invalid("options.max_paths", f"expected at most {cap} on this server"))
    return parse_options({"max_paths": cap} | raw)


def json_body() -> Any:
    """Parse the body as JSON whatever its Content-Type; 400 with the parser's reason."""
    return parse_json(request.get_data(cache=False))


def parse_json(data: bytes) -> Any:
    """Parse a request body or NDJSON line; raise a 400 :class:`ProblemError` saying why not."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ProblemError(malformed_json(exc)) from None


def malformed_json(exc: ValueError | RecursionError) -> dict[str, Any]:
    """Return the 400 problem of a body (or batch line) that is not JSON."""
    if isinstance(exc, RecursionError):
        reason = "it is nested too deeply"
    elif "integer string conversion" in str(exc):  # int() refuses over 4300 digits
        reason = f"an integer has more than {sys.get_int_max_str_digits()} digits"
    else:
        reason = str(exc)
    return problem(400, "Malformed JSON", f"the body is not valid JSON: {reason}",
                   slug="malformed-json")


def invalid(field: str, message: str) -> dict[str, Any]:
    """Return the 422 problem of one invalid request field."""
    return problem(422, "Invalid request", f"{field}: {message}", slug="invalid-request",
                   errors=[{"field": field, "message": message}])


def problem_of_exception(exc: Exception) -> dict[str, Any]:
    """Return the problem body the API answers for a validation failure."""
    if isinstance(exc, ProblemError):
        return exc.body
    if isinstance(exc, PathgradError):
        return problem_of(exc, network="network")
    if isinstance(exc, ValidationError):
        return validation_problem(exc)
    raise TypeError(f"not a validation failure: {exc!r}")
