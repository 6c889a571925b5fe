"""Analysis options (docs/CONTRACT.md section 1, "Options"): parsed, checked, defaulted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import OptionError, brief
from .exact import is_finite_number

__all__ = ["ARITHMETICS", "DEFAULT_MAX_PATHS", "SUBGRADIENTS", "Options", "parse_options"]

SUBGRADIENTS = ("min_norm", "left", "right")
ARITHMETICS = ("float", "exact")
DEFAULT_MAX_PATHS = 10**9


@dataclass(frozen=True)
class Options:
    """Analysis options (docs/CONTRACT.md section 1, "Options").

    Attributes
    ----------
    subgradient : {"min_norm", "left", "right"}
        What a kink contributes.
    arithmetic : {"float", "exact"}
    finite_difference : bool
        Compute central differences as a third witness.
    path_sum : bool
        Enumerate paths; False gives backprop only, for networks of any size.
    max_paths : int
        Refuse to enumerate more suffix paths than this.
    rtol, atol : float
        Agreement tolerance: ``|backprop - path_sum| <= atol + rtol * scale``, where
        scale is the sum of the absolute path contributions.
    """

    subgradient: str = "min_norm"
    arithmetic: str = "float"
    finite_difference: bool = False
    path_sum: bool = True
    max_paths: int = DEFAULT_MAX_PATHS
    rtol: float = 1e-9
    atol: float = 1e-12

    @property
    def exact(self) -> bool:
        return self.arithmetic == "exact"

    def to_dict(self) -> dict[str, Any]:
        """Return every option, defaults filled in (for cache keys and echoing back)."""
        return {
            "subgradient": self.subgradient,
            "arithmetic": self.arithmetic,
            "finite_difference": self.finite_difference,
            "path_sum": self.path_sum,
            "max_paths": self.max_paths,
            "rtol": self.rtol,
            "atol": self.atol,
        }


def parse_options(options: Mapping[str, Any] | None = None) -> Options:
    """Validate analysis options and fill in defaults.

    Parameters
    ----------
    options : mapping, optional
        Any of the :class:`Options` fields.

    Returns
    -------
    Options

    Raises
    ------
    OptionError
        For an unknown option or a value of the wrong type or range, naming it.
    """
    options = dict(options or {})
    known = Options.__dataclass_fields__
    for key in options:
        if key not in known:
            raise OptionError(
                f"options.{key}", f"unknown option; expected one of {', '.join(known)}"
            )
    _check_choice(options, "subgradient", SUBGRADIENTS)
    _check_choice(options, "arithmetic", ARITHMETICS)
    for key in ("finite_difference", "path_sum"):
        if key in options and not isinstance(options[key], bool):
            raise OptionError(f"options.{key}", f"expected true or false, got {options[key]!r}")
    if "max_paths" in options:
        value = options["max_paths"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise OptionError("options.max_paths",
                              f"expected a positive integer, got {brief(value)}")
    for key in ("rtol", "atol"):
        if key in options:
            value = options[key]
            if not is_finite_number(value) or value < 0:
                raise OptionError(
                    f"options.{key}", f"expected a finite number >= 0, got {brief(value)}"
                )
            options[key] = float(value)
    return Options(**options)


def _check_choice(options: Mapping[str, Any], key: str, choices: Sequence[str]) -> None:
    if key in options and options[key] not in choices:
        raise OptionError(
            f"options.{key}", f"expected one of {', '.join(choices)}, got {options[key]!r}"
        )
