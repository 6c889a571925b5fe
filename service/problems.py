"""One error handler: every error becomes RFC 9457 ``application/problem+json``."""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask, current_app, json, request
from kombu.exceptions import OperationalError
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from worker.engine.errors import PathgradError
from worker.problems import problem, problem_of

__all__ = ["ProblemError", "init_app", "problem_response", "validation_problem"]

MEDIA_TYPE = "application/problem+json"
# pydantic names the member of a union that failed in the location; not a field.
_UNION_TAGS = frozenset({"int", "float", "str", "bool", "list", "dict", "none"})


class ProblemError(Exception):
    """Raised by a view to answer with a ready problem body."""

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body["detail"])
        self.body = body
        self.headers = headers or {}


def init_app(app: Flask) -> None:
    """Register :func:`problem_response` for every exception."""
    app.register_error_handler(Exception, problem_response)


def problem_response(exc: Exception) -> Any:
    """Map an exception to a problem details response."""
    headers: dict[str, str] = {}
    if isinstance(exc, ProblemError):
        body, headers = exc.body, exc.headers
    elif isinstance(exc, PathgradError):
        body = problem_of(exc)
    elif isinstance(exc, ValidationError):
        body = validation_problem(exc)
    elif isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length  # per route: batches allow larger bodies
        body = problem(413, "Request body too large", f"the body is over {limit} bytes",
                       slug="body-too-large", limit=limit)
    elif isinstance(exc, HTTPException):
        code = exc.code or 500
        body = problem(code, exc.name, exc.description or exc.name)
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    elif isinstance(exc, redis.ConnectionError | redis.TimeoutError | OperationalError):
        current_app.logger.error("Redis unreachable: %s", exc)
        body = problem(503, "Service Unavailable", "the queue (Redis) is unreachable; "
                       "retry later", slug="unavailable")
        headers = {"Retry-After": "5"}
    else:
        current_app.logger.exception("unexpected error")
        body = problem(500, "Internal Server Error", "an unexpected error; it has been logged")
    response = current_app.response_class(
        json.dumps(body), status=body["status"], mimetype=MEDIA_TYPE
    )
    response.headers.update(headers)
    return response


def short(text: str) -> str:
    """An id from the URL as it may be echoed: quoted, and cut short (ids are 32 hex digits)."""
    return repr(text) if len(text) <= 64 else repr(text[:61] + "...")


def validation_problem(exc: ValidationError) -> dict[str, Any]:
    messages: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        field = _field(error["loc"])
        text = str(error["msg"]).removeprefix("Input should be ")
        if text not in messages.setdefault(field, []):
            messages[field].append(text)
    errors = [
        {"field": field, "message": _message(texts)} for field, texts in messages.items()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid request", detail, slug="invalid-request", errors=errors)


def _message(texts: list[str]) -> str:
    if len(texts) == 1:
        return texts[0] if texts[0][0].isupper() else "expected " + texts[0]
    return "expected " + " or ".join(texts)


def _field(loc: tuple[int | str, ...]) -> str:
    """Spell a pydantic location as a JSON path, dropping union-member tags."""
    field = ""
    for part in loc:
        if isinstance(part, int):
            field += f"[{part}]"
        elif part.isidentifier() and part not in _UNION_TAGS:
            field += ("." if field else "") + part
        # else: a tag such as "literal['identity', ...]" naming a union member.
    return field or "body"
