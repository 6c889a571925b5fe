"""Example networks shipped with pathgrad, so they work from any folder.

``seed`` is the seed question's 2-3-2-1 network with identity activations and the
loss |Out - Y|, weights W1 ... W14 = 0.1 ... 1.4, X = (1, 2), Y = 1; ``seed-job`` is
the same as a job body for ``POST /v1/jobs``.

>>> load("seed")["layers"]
[2, 3, 2, 1]
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["load", "names", "path"]


def names() -> list[str]:
    """The examples shipped, by name."""
    return sorted(entry.name.removesuffix(".json") for entry in resources.files(__name__)
                  .iterdir() if entry.name.endswith(".json"))


def path(name: str) -> str:
    """The file of example ``name`` (to open it, or pass it to a command)."""
    return str(resources.files(__name__) / f"{name}.json")


def load(name: str) -> Any:
    """Example ``name``'s JSON document.

    Raises
    ------
    KeyError
        When pathgrad ships no such example.
    """
    if name not in names():
        raise KeyError(f"no example {name!r}; expected one of {', '.join(names())}")
    return json.loads((resources.files(__name__) / f"{name}.json").read_text(encoding="utf-8"))
