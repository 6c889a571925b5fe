"""RFC 9457 problem details for the engine's errors, shared by the API and the workers."""

from __future__ import annotations

import re
from typing import Any

from .engine.errors import AgreementError, PathgradError, PathLimitError

__all__ = ["problem", "problem_of", "time_limit_problem"]

TYPE_PREFIX = "urn:pathgrad:problem:"
_SPEC_FIELDS = frozenset({"layers", "weights", "biases", "activation", "input", "target", "loss"})


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, str]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """Return a problem details object (``type``, ``title``, ``status``, ``detail``)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extensions)
    return body


def problem_of(exc: PathgradError) -> dict[str, Any]:
    """Return the problem details of an engine error, its field named in ``errors``."""
    field = exc.field
    if re.split(r"[.\[]", field, maxsplit=1)[0] in _SPEC_FIELDS:
        # Fields are paths into the request body, where the spec sits under "network".
        field = "network." + field
    detail = f"{field}: {exc.message}" if field else exc.message
    extensions: dict[str, Any] = {}
    if isinstance(exc, PathLimitError):
        extensions = {"paths": exc.paths, "limit": exc.limit}
    if isinstance(exc, AgreementError):
        detail = f"{detail} (a bug in pathgrad: please report it with this network)"
    return problem(
        exc.status,
        exc.title,
        detail,
        slug=_slug(type(exc).__name__),
        errors=[{"field": field, "message": exc.message}],
        **extensions,
    )


def time_limit_problem(seconds: float) -> dict[str, Any]:
    """Return the problem of a computation stopped by its time limit."""
    return problem(
        422,
        "Time limit exceeded",
        f"the computation took longer than the time limit of {seconds:g} s and was stopped; "
        "try path_sum: false, or a smaller network",
        slug="time-limit",
        limit_seconds=seconds,
    )


def _slug(name: str) -> str:
    name = name.removesuffix("Error") or "pathgrad"
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
