"""RFC 9457 problem details for the engine's errors, shared by the API and the workers."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from .engine.errors import AgreementError, PathgradError, PathLimitError

__all__ = [
    "disagreement_problem", "internal_problem", "lost_problem", "problem", "problem_of",
    "time_limit_problem",
]

TYPE_PREFIX = "urn:pathgrad:problem:"
_log = logging.getLogger(__name__)
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


def internal_problem(exc: Exception) -> dict[str, Any]:
    """The 500 problem of an unexpected worker failure (a pathgrad bug).

    The exception is logged under a fresh incident id, which the problem names; its
    text never reaches the client (it may hold paths, input or other users' data).
    """
    incident = uuid.uuid4().hex[:12]
    _log.error("incident %s: %s: %s", incident, type(exc).__name__, exc, exc_info=exc)
    return problem(500, "Internal error", f"an unexpected error in a worker (incident "
                   f"{incident}); it has been logged", slug="internal", incident=incident)


def lost_problem(attempts: int) -> dict[str, Any]:
    """The problem of work sent ``attempts`` times that never finished."""
    return problem(503, "Lost", f"the work was sent to the workers {attempts} times and "
                   "never finished (its worker, its message or Redis was lost each time); "
                   "submit it again", slug="lost", attempts=attempts)


def disagreement_problem(result: dict[str, Any]) -> dict[str, Any]:
    """The 500 problem of a result whose backprop and path sum disagree (a pathgrad bug)."""
    agreement = result.get("agreement", {})
    return problem(
        500,
        "Backprop and path sum disagree",
        f"max_abs_diff={agreement.get('max_abs_diff')}, max_rel_diff="
        f"{agreement.get('max_rel_diff')} beyond rtol={agreement.get('rtol')}, atol="
        f"{agreement.get('atol')} (a bug in pathgrad: please report it with this network)",
        slug="agreement",
    )


def _slug(name: str) -> str:
    name = name.removesuffix("Error") or "pathgrad"
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
