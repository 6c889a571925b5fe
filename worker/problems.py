"""RFC 9457 problem details: the one mapping from pathgrad's errors to problem bodies.

The API's error handler, the batch lines refused at submission, and the tasks that
fail a job or a page all turn errors into problems here.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from .coursework.exercises import ExerciseError
from .coursework.grading import GradingError
from .engine.errors import (
    AgreementError,
    ExactArithmeticError,
    InvalidInputError,
    ModelError,
    OptionError,
    PathgradError,
    PathLimitError,
    SpecError,
    UnknownWeightError,
)
from .engine.spec import SPEC_FIELDS

__all__ = [
    "PROBLEMS", "internal_problem", "lost_problem", "problem", "problem_of", "time_limit_problem",
]

TYPE_PREFIX = "urn:pathgrad:problem:"
_log = logging.getLogger(__name__)


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


#: The one table from the error family to problem bodies: (class, status, title, slug),
#: the most specific first.
PROBLEMS: tuple[tuple[type[PathgradError], int, str, str], ...] = (
    (AgreementError, 500, "Backprop and path sum disagree", "agreement"),
    (PathLimitError, 422, "Too many paths", "path-limit"),
    (UnknownWeightError, 404, "Unknown weight", "unknown-weight"),
    (ExactArithmeticError, 422, "Not rational", "exact-arithmetic"),
    (OptionError, 422, "Invalid option", "option"),
    (SpecError, 422, "Invalid network", "spec"),
    (GradingError, 422, "Invalid grading request", "grading"),
    (ExerciseError, 422, "Invalid exercise request", "invalid-exercise"),
    (ModelError, 422, "Unsupported model", "model"),
    (InvalidInputError, 422, "Invalid input", "invalid-input"),
    (PathgradError, 500, "Internal error", "internal"),
)


def problem_of(exc: PathgradError, *, network: str | None = None) -> dict[str, Any]:
    """Return the problem details of a pathgrad error, its field named in ``errors``.

    Parameters
    ----------
    exc : PathgradError
    network : str, optional
        Where the network spec sits in the caller's input (``network`` in a job body):
        the fields of the spec (``weights[1]``, ``layers``) are named under it.
    """
    status, title, slug = next((s, t, g) for cls, s, t, g in PROBLEMS if isinstance(exc, cls))
    field = exc.field
    if network and re.split(r"[.\[]", field, maxsplit=1)[0] in SPEC_FIELDS:
        field = f"{network}.{field}"
    detail = f"{field}: {exc.message}" if field else exc.message
    extensions: dict[str, Any] = {}
    if isinstance(exc, PathLimitError):
        extensions = {"paths": exc.paths, "limit": exc.limit}
    if isinstance(exc, AgreementError):
        detail = f"{detail} (a bug in pathgrad: please report it with this network)"
    return problem(status, title, detail, slug=slug,
                   errors=[{"field": field, "message": exc.message}], **extensions)


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
