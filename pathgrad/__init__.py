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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import examples

    __version__: str
    from worker.coursework.exercises import ExerciseError, exercise, exercises
    from worker.coursework.grading import AnswerKey, GradingError, grade
    from worker.engine import (
        AgreementError,
        ExactArithmeticError,
        InvalidInputError,
        ModelError,
        OptionError,
        PathgradError,
        PathLimitError,
        SpecError,
        UnknownWeightError,
        analyze,
        analyze_many,
        formula,
        from_onnx,
        from_torch,
        node_flow,
        path_contributions,
        top_paths,
    )

#: Every public name and the module that defines it.
_PUBLIC: dict[str, str] = {
    **dict.fromkeys(("analyze", "analyze_many", "path_contributions", "top_paths", "node_flow",
                     "formula", "from_onnx", "from_torch", "ModelError",
                     "PathgradError", "InvalidInputError", "SpecError", "OptionError",
                     "ExactArithmeticError", "PathLimitError", "UnknownWeightError",
                     "AgreementError"), "worker.engine"),
    **dict.fromkeys(("grade", "AnswerKey", "GradingError"), "worker.coursework.grading"),
    **dict.fromkeys(("exercise", "exercises", "ExerciseError"), "worker.coursework.exercises"),
}

__all__ = [  # noqa: F822 (each name is defined on first use, by __getattr__)
    "AgreementError", "AnswerKey", "ExactArithmeticError", "ExerciseError", "GradingError",
    "InvalidInputError", "ModelError", "OptionError", "PathLimitError", "PathgradError",
    "SpecError", "UnknownWeightError", "__version__", "analyze", "analyze_many", "examples",
    "exercise", "exercises", "formula", "from_onnx", "from_torch", "grade", "node_flow",
    "path_contributions", "top_paths",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it, on first use."""
    if name == "__version__":
        value: Any = _version()
    elif name == "examples":
        value = importlib.import_module(f"{__name__}.examples")
    elif name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def _version() -> str:
    """The installed package's version (importlib.metadata is slow to import: on first use)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pathgrad")
    except PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
