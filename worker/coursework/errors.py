"""The errors of coursework requests: grading and its tolerance, partial credit and points."""

from __future__ import annotations

from ..engine.errors import InvalidInputError

__all__ = ["GradingError"]


class GradingError(InvalidInputError):
    """The answers, tolerance, partial credit or points of a grading request are malformed."""

    title = "Invalid grading request"
