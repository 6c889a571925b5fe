"""Numbers: reading spec numbers as float64 or exactly, and exact values back out.

In float mode a spec number is a finite JSON number (booleans and strings are
refused); NumPy scalars count as numbers. In exact mode it may also be a string
such as ``"3"``, ``"-0.25"`` or ``"1/3"``, and a JSON ``0.1`` means one tenth (its
shortest decimal repr), not the binary value next to it. Absurd sizes are refused:
``Fraction("1e999999999")`` would build a billion-digit integer.
"""

from __future__ import annotations

import math
import re
import sys
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import SpecError, brief, kind

__all__ = [
    "MAX_EXACT_CHARS",
    "MAX_EXACT_EXPONENT",
    "as_float",
    "exact_number",
    "exact_str",
    "float_number",
    "is_finite_number",
    "parse_fraction",
]

# Exact numbers: 10**1000 is a 3,300-bit integer, still cheap; 10**(10**9) is not.
MAX_EXACT_EXPONENT = 1000
MAX_EXACT_CHARS = 1000
_EXPONENT = re.compile(r"[eE]\s*([+-]?\s*\d+)")


def float_number(value: Any, field: str) -> float:
    """Read a spec number as a float64, refusing non-numbers and non-finite values.

    Raises
    ------
    SpecError
        Naming ``field``.

    Examples
    --------
    >>> float_number(np.float32(0.5), "input[0]")
    0.5
    """
    kind_ = type(value)
    if kind_ is float or isinstance(value, np.floating):
        if math.isfinite(value):
            return float(value)
        raise SpecError(field, f"expected a finite number, got {value!r}")
    if kind_ is int or isinstance(value, np.integer):
        try:
            return float(value)
        except OverflowError:
            raise SpecError(
                field, "expected a number within float64 range, got a huge integer"
            ) from None
    if kind_ is str:
        raise SpecError(
            field,
            f"expected a number, got the string {brief(value)} "
            "(strings such as \"1/3\" are allowed only with arithmetic 'exact')",
        )
    raise SpecError(field, f"expected a number, got {kind(value)}")


def exact_number(value: Any, field: str) -> Fraction:
    """Read a spec number exactly: an int, a float by its decimal repr, or a string.

    Raises
    ------
    SpecError
        Naming ``field``.

    Examples
    --------
    >>> exact_number(0.1, "input[0]"), exact_number("-1/3", "input[1]")
    (Fraction(1, 10), Fraction(-1, 3))
    """
    kind_ = type(value)
    if kind_ is int or kind_ is Fraction or isinstance(value, np.integer):
        return Fraction(int(value) if isinstance(value, np.integer) else value)
    if kind_ is float or isinstance(value, np.floating):
        if not math.isfinite(value):
            raise SpecError(field, f"expected a finite number, got {value!r}")
        # A JSON 0.1 means one tenth: take the shortest decimal repr, not the binary value.
        return Fraction(repr(float(value)))
    if kind_ is str:
        try:
            return parse_fraction(value)
        except ValueError as error:
            raise SpecError(
                field, f"expected an exact number such as \"3\", \"-0.25\" or \"1/3\", "
                f"got {brief(value)}{_reason(error)}") from None
    raise SpecError(field, f"expected a number or a numeric string, got {kind(value)}")


def parse_fraction(text: str) -> Fraction:
    """Read an integer, decimal or fraction string exactly, refusing absurd sizes.

    Exponents beyond :data:`MAX_EXACT_EXPONENT` and strings over
    :data:`MAX_EXACT_CHARS` are refused.

    Raises
    ------
    ValueError
        When the text is not such a number, is too large, or divides by zero.

    Examples
    --------
    >>> parse_fraction(" -0.25 "), parse_fraction("1/3"), parse_fraction("2e3")
    (Fraction(-1, 4), Fraction(1, 3), Fraction(2000, 1))
    """
    text = text.strip()
    if len(text) > MAX_EXACT_CHARS:
        raise _Unusable(f"longer than {MAX_EXACT_CHARS} characters")
    exponent = _EXPONENT.search(text)
    if exponent is not None and abs(int(exponent.group(1))) > MAX_EXACT_EXPONENT:
        raise _Unusable(f"exponent beyond ±{MAX_EXACT_EXPONENT}")
    try:
        return Fraction(text)
    except ZeroDivisionError:
        raise _Unusable("division by zero") from None


class _Unusable(ValueError):
    """A number :func:`parse_fraction` reads but refuses; its message says why."""


def _reason(error: ValueError) -> str:
    """`` (why)`` for a number refused; nothing for text that is simply not a number."""
    return f" ({error})" if isinstance(error, _Unusable) else ""


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a number (not a boolean) that float64 holds finitely.

    Examples
    --------
    >>> is_finite_number(0.5), is_finite_number(10**400), is_finite_number(True)
    (True, False, False)
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer
                                                            | np.floating):
        return False
    if isinstance(value, int | np.integer):
        # Compared exactly (math.isfinite would raise OverflowError on 10**400).
        return abs(int(value)) <= sys.float_info.max
    return bool(np.isfinite(value))


def as_float(value: Any) -> float | None:
    """Return ``value`` as a float, or None when it is beyond float64 (an exact result can be).

    Examples
    --------
    >>> as_float(Fraction(1, 4)), as_float(Fraction(10**400))
    (0.25, None)
    """
    try:
        return float(value)
    except OverflowError:
        return None


def exact_str(value: Any) -> str:
    """An exact value as its fraction string: ``"-7/12"``.

    Examples
    --------
    >>> exact_str(Fraction(-7, 12)), exact_str(3)
    ('-7/12', '3')
    """
    return str(Fraction(value))
