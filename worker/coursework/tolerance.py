"""How close a float answer must be: relative and absolute, significant figures, decimal digits.

The three comparisons of PrairieLearn's number input (``pl-number-input``,
``comparison="relabs"|"sigfig"|"decdig"``), as PrairieLearn defines them in
``prairielearn.grading_utils`` (``is_correct_scalar_ra``, ``is_correct_scalar_sf``,
``is_correct_scalar_dd``):
https://github.com/PrairieLearn/PrairieLearn/blob/master/apps/prairielearn/python/prairielearn/grading_utils.py

- ``relabs`` (``{"rtol", "atol"}``, the default): accepted when
  ``|given - expected| <= atol + rtol * |expected|`` (``numpy.allclose``), a closed
  interval.
- ``sigfig`` (``{"sigfig": d}``): with ``n = -floor(log10(|expected|)) + (d - 1)``
  (``n = d - 1`` when expected is 0) and ``eps = 0.51 * 10**-n``, accepted when
  ``expected - eps < given < expected + eps``, an open interval: the answer agrees with
  the expected value to within 0.51 units of its d-th significant digit.
- ``decdig`` (``{"decdig": d}``): with ``eps = 0.51 * 10**-d``, accepted when
  ``expected - eps < given < expected + eps``: within 0.51 units of the d-th digit
  after the decimal point.

The bounds are computed in float64 in PrairieLearn's order of operations, so an
answer on either side of a bound is judged as PrairieLearn judges it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.errors import brief, kind
from ..engine.exact import is_finite_number
from .errors import GradingError

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "MAX_DIGITS",
    "MODES",
    "Tolerance",
    "parse_tolerance",
]

Array = npt.NDArray[Any]
Number = float | Fraction

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
# Digits beyond float64's ~15.9 significant ones would compare rounding noise.
MAX_DIGITS = 15
MODES = ("relabs", "sigfig", "decdig")
# PrairieLearn's margin: 0.51 units of the last digit asked for (a rounded answer passes).
_MARGIN = 0.51


@dataclass(frozen=True)
class Tolerance:
    """How close a float answer must be to the expected value (see the module docstring).

    Attributes
    ----------
    rtol, atol : float
        Relative and absolute tolerance of ``relabs``, both >= 0.
    sigfig : int or None
        Significant figures (``sigfig`` mode), 1 ... :data:`MAX_DIGITS`.
    decdig : int or None
        Digits after the decimal point (``decdig`` mode), 0 ... :data:`MAX_DIGITS`.

    Examples
    --------
    >>> Tolerance(sigfig=2).equal(98.6, 99, exact=False), Tolerance(sigfig=2).equal(98.4, 99,
    ...                                                                          exact=False)
    (True, False)
    """

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    sigfig: int | None = None
    decdig: int | None = None

    @property
    def mode(self) -> str:
        """``relabs``, ``sigfig`` or ``decdig``."""
        if self.sigfig is not None:
            return "sigfig"
        return "decdig" if self.decdig is not None else "relabs"

    @property
    def digits(self) -> int | None:
        """The digits of ``sigfig`` or ``decdig``; None for ``relabs``."""
        return self.sigfig if self.sigfig is not None else self.decdig

    def to_dict(self) -> dict[str, float]:
        """Return ``{"rtol", "atol"}``, ``{"sigfig": n}`` or ``{"decdig": n}``."""
        if self.sigfig is not None:
            return {"sigfig": self.sigfig}
        if self.decdig is not None:
            return {"decdig": self.decdig}
        return {"rtol": self.rtol, "atol": self.atol}

    def half_width(self, expected: Number) -> float:
        """How far from ``expected`` an answer may be (the bound, excluded unless relabs)."""
        value = float(expected)
        if self.sigfig is not None:
            if value == 0:
                n = self.sigfig - 1
            else:
                n = -int(np.floor(np.log10(np.abs(value)))) + (self.sigfig - 1)
            return _MARGIN * (10.0 ** -n)
        if self.decdig is not None:
            return _MARGIN * (10.0 ** -self.decdig)
        return self.atol + self.rtol * abs(value)

    def half_widths(self, expected: Array) -> Array:
        """:meth:`half_width` of many expected floats at once (the same floats, bit for bit)."""
        values = np.abs(np.asarray(expected, dtype=np.float64))
        if self.sigfig is None:
            if self.decdig is not None:
                return np.full(values.shape, self.half_width(0.0))
            result: Array = self.atol + self.rtol * values
            return result
        with np.errstate(divide="ignore"):
            scale = np.floor(np.log10(np.where(values == 0, 1.0, values))).astype(np.int64)
        n = np.where(values == 0, self.sigfig - 1, -scale + (self.sigfig - 1))
        # Python's 10.0 ** -n for each distinct n, as the scalar rule computes it.
        exponents, where = np.unique(n, return_inverse=True)
        widths = np.array([_MARGIN * (10.0 ** -int(k)) for k in exponents.tolist()])
        return widths[where.reshape(values.shape)]

    def equal(self, given: Number, expected: Number, *, exact: bool) -> bool:
        """Whether ``given`` is accepted as ``expected``: equal when exact, else close."""
        if exact:
            return given == expected
        value, answer = float(expected), float(given)
        if self.mode == "relabs":
            return abs(answer - value) <= self.atol + self.rtol * abs(value)
        eps = self.half_width(value)
        return value - eps < answer < value + eps

    def accepts(self, given: float, expected: Array) -> Array:
        """:meth:`equal` of one float answer against many expected floats, vectorised."""
        values = np.asarray(expected, dtype=np.float64)
        if self.mode == "relabs":
            result: Array = np.abs(values - given) <= self.atol + self.rtol * np.abs(values)
            return result
        eps = self.half_widths(values)
        return (values - eps < given) & (given < values + eps)

    def disjoint(self, first: Number, second: Number) -> bool:
        """Whether no answer is accepted as both values: each slip is then told apart."""
        gap = abs(float(first) - float(second))
        return gap > self.half_width(first) + self.half_width(second)

    def describe(self) -> str:
        """The rule in words, for feedback: ``|answer - expected| <= 1e-09 + 1e-06*|expected|``."""
        if self.sigfig is not None:
            digits = "figure" if self.sigfig == 1 else "figures"
            return (f"{self.sigfig} significant {digits} (within 0.51 units of the last "
                    "significant digit asked for)")
        if self.decdig is not None:
            digits = "digit" if self.decdig == 1 else "digits"
            return (f"{self.decdig} {digits} after the decimal point (within 0.51 units of "
                    "the last digit asked for)")
        return f"|answer - expected| <= {self.atol:g} + {self.rtol:g}*|expected|"


def parse_tolerance(tolerance: Mapping[str, Any] | Tolerance | None) -> Tolerance:
    """Validate a tolerance: ``{"rtol", "atol"}`` (either may be left out), ``{"sigfig": n}``
    or ``{"decdig": n}``; fill in the defaults.

    Raises
    ------
    GradingError
        Naming ``tolerance`` or ``tolerance.<field>``.

    Examples
    --------
    >>> parse_tolerance({"sigfig": 3}).to_dict(), parse_tolerance(None).mode
    ({'sigfig': 3}, 'relabs')
    """
    if tolerance is None or isinstance(tolerance, Tolerance):
        return tolerance or Tolerance()
    if not isinstance(tolerance, Mapping):
        raise GradingError("tolerance", 'expected an object: {"rtol", "atol"}, {"sigfig": n} '
                           f'or {{"decdig": n}}, got {kind(tolerance)}')
    for key in tolerance:
        if key not in ("rtol", "atol", "sigfig", "decdig"):
            raise GradingError(f"tolerance.{key}",
                               "unknown field; expected rtol and atol, sigfig or decdig")
    modes = [key for key in ("sigfig", "decdig") if key in tolerance]
    if modes and len(tolerance) > 1:
        others = ", ".join(key for key in tolerance if key != modes[0])
        raise GradingError(f"tolerance.{modes[0]}", f"expected {modes[0]} alone (one mode: "
                           f"rtol/atol, sigfig or decdig), got it with {others}")
    if modes:
        return Tolerance(**{modes[0]: _digits(tolerance[modes[0]], modes[0])})
    values: dict[str, float] = {}
    for key, value in tolerance.items():
        if not (is_finite_number(value) and value >= 0):
            raise GradingError(f"tolerance.{key}",
                               f"expected a finite number >= 0, got {brief(value)}")
        values[key] = float(value)
    return Tolerance(rtol=values.get("rtol", DEFAULT_RTOL), atol=values.get("atol", DEFAULT_ATOL))


def _digits(value: Any, field: str) -> int:
    lowest = 1 if field == "sigfig" else 0
    if isinstance(value, bool) or not isinstance(value, int) or not (
            lowest <= value <= MAX_DIGITS):
        raise GradingError(f"tolerance.{field}", f"expected an integer from {lowest} to "
                           f"{MAX_DIGITS}, got {brief(value)}")
    return value

