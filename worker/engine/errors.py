"""The engine's one exception family, and the helpers its messages are written with.

Every error pathgrad raises is a :class:`PathgradError`, whose message starts with
the offending field::

    weights[1]: expected shape (2, 3), got (3, 2)

Errors caused by bad input are :class:`InvalidInputError`, which is also a
``ValueError``; :class:`AgreementError` (backprop and the path sum disagree: a
pathgrad bug) is not, so no handler of bad input can swallow it. The errors know
nothing of HTTP: :mod:`worker.problems` maps them to problem bodies.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

__all__ = [
    "AgreementError",
    "ExactArithmeticError",
    "InvalidInputError",
    "ModelError",
    "OptionError",
    "PathLimitError",
    "PathgradError",
    "SpecError",
    "UnknownWeightError",
    "brief",
    "kind",
]

E = TypeVar("E", bound="PathgradError")


class PathgradError(Exception):
    """Base of every error pathgrad raises.

    Parameters
    ----------
    field : str
        Where the problem is, as a path into the input (``weights[1][0][2]``,
        ``options.subgradient``); empty when it concerns no one field.
    message : str
        What was expected and what was given.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def within(self: E, prefix: str) -> E:
        """Return a copy whose field is inside ``prefix`` (``network`` -> ``network.weights[1]``).

        The caller knows where in its own input the engine's input sat.

        Examples
        --------
        >>> str(SpecError("weights[1]", "expected shape (2, 3)").within("specs[4]"))
        'specs[4].weights[1]: expected shape (2, 3)'
        """
        moved = copy.copy(self)
        moved.field = f"{prefix}.{self.field}" if self.field else prefix
        moved.args = (f"{moved.field}: {self.message}",)
        return moved

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.message))


class InvalidInputError(PathgradError, ValueError):
    """Base of the errors caused by input pathgrad cannot use (each also a ValueError)."""


class SpecError(InvalidInputError):
    """The network spec is malformed: a size, shape, number or name is wrong."""


class OptionError(InvalidInputError):
    """An analysis option, or a query parameter, is unknown or out of its range."""


class ExactArithmeticError(InvalidInputError):
    """Exact (rational) arithmetic was asked of something that is not rational."""


class PathLimitError(InvalidInputError):
    """Enumerating the network's paths would exceed the configured limit."""

    def __init__(self, field: str, message: str, *, paths: int = 0, limit: int = 0) -> None:
        super().__init__(field, message)
        self.paths = paths
        self.limit = limit

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_path_limit, (self.field, self.message, self.paths, self.limit))


class UnknownWeightError(InvalidInputError):
    """A weight (or bias, or neuron) name does not exist in the network."""


class ModelError(InvalidInputError):
    """A model that is not one pathgrad reads: not ONNX, or not a chain of layers it knows.

    Its field is ``model`` (or ``module[2]``, the first module of a PyTorch chain
    that is not read), and its message names the operator and the node.
    """

    def __init__(self, message: str, field: str = "model") -> None:
        super().__init__(field, message)


class AgreementError(PathgradError):
    """Backprop and the explicit path sum disagree beyond tolerance.

    This is never the user's fault; it means a bug in pathgrad. The full
    analysis is attached as :attr:`result` so the disagreement can be inspected.
    """

    def __init__(self, field: str, message: str, *, result: dict[str, Any] | None = None) -> None:
        super().__init__(field, message)
        self.result = result


def _rebuild_path_limit(field: str, message: str, paths: int, limit: int) -> PathLimitError:
    return PathLimitError(field, message, paths=paths, limit=limit)


def kind(value: Any) -> str:
    """Say what a JSON value is, for messages: ``an object``, ``a list``, ``null``, ...

    Examples
    --------
    >>> kind({}), kind(None), kind(1.5)
    ('an object', 'null', 'a number')
    """
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             type(None): "null", int: "an integer", float: "a number"}
    return names.get(type(value), type(value).__name__)


def brief(value: Any) -> str:
    """``repr(value)``, cut to 40 characters: what an error message may echo of an input.

    Examples
    --------
    >>> brief("W" + "7" * 100)
    "'W77777777777777777777777777777777777..."
    """
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
