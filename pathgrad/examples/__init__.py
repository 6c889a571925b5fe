"""Example networks shipped with pathgrad, so they work from any folder.

``seed`` is the seed question's 2-3-2-1 network with identity activations and the
loss |Out - Y|, weights W1 ... W14 = 0.1 ... 1.4, X = (1, 2), Y = 1; ``seed-job`` is
the same as a job body for ``POST /v1/jobs``.

>>> load("seed")["layers"]
[2, 3, 2, 1]
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["load", "names", "path"]

# The package's own folder: the examples are package data beside this file (os.path,
# not importlib.resources, which the command line would pay for at every start).
_HERE = os.path.dirname(os.path.abspath(__file__))


def names() -> list[str]:
    """The examples shipped, by name."""
    return sorted(name.removesuffix(".json") for name in os.listdir(_HERE)
                  if name.endswith(".json"))


def path(name: str) -> str:
    """The file of example ``name`` (to open it, or pass it to a command)."""
    return os.path.join(_HERE, f"{name}.json")


def load(name: str) -> Any:
    """Example ``name``'s JSON document.

    Raises
    ------
    KeyError
        When pathgrad ships no such example.
    """
    if name not in names():
        raise KeyError(f"no example {name!r}; expected one of {', '.join(names())}")
    with open(path(name), encoding="utf-8") as file:
        return json.load(file)
