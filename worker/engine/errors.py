"""The engine's one exception family.

Every error the engine raises on bad input is a :class:`PathgradError`, a
``ValueError``, whose message starts with the offending field::

    weights[1]: expected shape (2, 3), got (3, 2)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgreementError",
    "ExactArithmeticError",
    "OptionError",
    "PathLimitError",
    "PathgradError",
    "SpecError",
    "UnknownWeightError",
]


class PathgradError(ValueError):
    """Base of every error pathgrad raises on input it cannot use.

    Parameters
    ----------
    field : str
        Where the problem is, as a path into the input (``weights[1][0][2]``,
        ``options.subgradient``).
    message : str
        What was expected and what was given.
    """

    status = 422
    title = "Invalid network"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.message))


class SpecError(PathgradError):
    """The network spec is malformed: a size, shape, number or name is wrong."""


class OptionError(PathgradError):
    """An analysis option is unknown or has a value out of its range."""

    title = "Invalid option"


class ExactArithmeticError(PathgradError):
    """Exact (rational) arithmetic was asked of something that is not rational."""

    title = "Not rational"


class PathLimitError(PathgradError):
    """Enumerating the network's paths would exceed the configured limit."""

    title = "Too many paths"

    def __init__(self, field: str, message: str, *, paths: int = 0, limit: int = 0) -> None:
        super().__init__(field, message)
        self.paths = paths
        self.limit = limit

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_path_limit, (self.field, self.message, self.paths, self.limit))


class UnknownWeightError(PathgradError):
    """A weight name does not exist in the network."""

    status = 404
    title = "Unknown weight"


class AgreementError(PathgradError):
    """Backprop and the explicit path sum disagree beyond tolerance.

    This is never the user's fault; it means a bug in pathgrad. The full
    analysis is attached as :attr:`result` so the disagreement can be inspected.
    """

    status = 500
    title = "Backprop and path sum disagree"

    def __init__(self, field: str, message: str, *, result: dict[str, Any] | None = None) -> None:
        super().__init__(field, message)
        self.result = result


def _rebuild_path_limit(field: str, message: str, paths: int, limit: int) -> PathLimitError:
    return PathLimitError(field, message, paths=paths, limit=limit)
