"""pathgrad: explain and check neural-network gradients, two independent ways.

For any layered network, pathgrad computes dLoss/dW for every weight by explicit
path sums (every path from the weight to the outputs, each with its contribution)
and by layer-wise backprop (the delta recursion), and says how closely they agree.
This package is its public face (docs/CONTRACT.md section 4)::

    >>> import pathgrad
    >>> seed = pathgrad.examples.load("seed")
    >>> round(pathgrad.analyze(seed)["weights"][0]["gradient"], 12)
    2.31
    >>> pathgrad.formula(seed, "W1")["text"]
    'X1*(W10*W14 + W13*W7)*sign(Out - Y)'

The names are imported on first use, so ``import pathgrad`` is quick and
``python -m pathgrad`` can set up its import path first. The command line is
``pathgrad`` (or ``python -m pathgrad``); the HTTP service is ``pathgrad serve``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from . import examples

if TYPE_CHECKING:
    from worker.coursework.exercises import ExerciseError, exercise, exercises
    from worker.coursework.grading import AnswerKey, GradingError, grade
    from worker.engine import (
        AgreementError,
        ExactArithmeticError,
        InvalidInputError,
        OptionError,
        PathgradError,
        PathLimitError,
        SpecError,
        UnknownWeightError,
        analyze,
        analyze_many,
        formula,
        path_contributions,
    )

try:
    __version__ = version("pathgrad")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

#: Every public name and the module that defines it.
_PUBLIC: dict[str, str] = {
    **dict.fromkeys(("analyze", "analyze_many", "path_contributions", "formula",
                     "PathgradError", "InvalidInputError", "SpecError", "OptionError",
                     "ExactArithmeticError", "PathLimitError", "UnknownWeightError",
                     "AgreementError"), "worker.engine"),
    **dict.fromkeys(("grade", "AnswerKey", "GradingError"), "worker.coursework.grading"),
    **dict.fromkeys(("exercise", "exercises", "ExerciseError"), "worker.coursework.exercises"),
}

__all__ = [  # noqa: F822 (each name is defined on first use, by __getattr__)
    "AgreementError", "AnswerKey", "ExactArithmeticError", "ExerciseError", "GradingError",
    "InvalidInputError", "OptionError", "PathLimitError", "PathgradError", "SpecError",
    "UnknownWeightError", "__version__", "analyze", "analyze_many", "examples", "exercise",
    "exercises", "formula", "grade", "path_contributions",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it, on first use."""
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
