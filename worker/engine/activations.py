"""Activations: one record per function, with everything pathgrad knows of it.

Each record gives the function's value and derivative (batched, in float64 or on
object arrays of ``Fraction``), its kink and the derivative each subgradient rule
takes there, whether it is rational (exact arithmetic), its symbolic form (SymPy),
and how people name and write it (questions, feedback). Forward and backprop,
finite differences, formulas, slips, exercises and the service's models all read
these records; adding an activation is one class here and its tests.

A spec names an activation (``"relu"``) or gives it as an object with its parameters
(docs/CONTRACT.md section 10): ``{"name": "leaky_relu", "slope": 0.2}``; a parameter
is kept as an exact ``Fraction`` (a float by its shortest decimal repr, which floats
back to the same float64), so exact arithmetic takes ``"1/5"`` as given.

Subgradient rules at a kink (docs/CONTRACT.md section 1): ``min_norm`` (as PyTorch
does: relu' = 0, leaky_relu' = its slope), ``left`` and ``right`` (the derivative
from that side; ``right`` is the seed question's "case when Delta >= 0").
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from .errors import SpecError, brief
from .exact import exact_number, float_number

if TYPE_CHECKING:
    import sympy

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Identity",
    "LEAKY_SLOPE",
    "LeakyRelu",
    "Relu",
    "Sigmoid",
    "Tanh",
    "parse_activation",
]

Array = npt.NDArray[Any]

LEAKY_SLOPE = Fraction(1, 100)


def _constant(value: Fraction, exact: bool) -> Any:
    return value if exact else float(value)


@dataclass(frozen=True)
class Activation:
    """An activation function of a layer (a record: see the subclasses).

    Class attributes
    ----------------
    name : str
        As the spec names it: ``relu``.
    rational : bool
        Whether exact (rational) arithmetic can compute it.
    kinked : bool
        Whether it has a kink at z = 0, where its derivative is a subgradient.
    """

    name: ClassVar[str] = ""
    rational: ClassVar[bool] = False
    kinked: ClassVar[bool] = False
    #: The parameters an activation object may give (``{"name": ..., "slope": ...}``).
    parameters: ClassVar[tuple[str, ...]] = ()
    _title: ClassVar[str] = ""

    @property
    def title(self) -> str:
        """As a sentence names it: ``the relu activation, relu(z) = max(0, z)``."""
        return self._title

    def apply(self, z: Array, subgradient: str, exact: bool) -> tuple[Array, Array, Array]:
        """Return the value, the derivative and where z is on a kink, all shaped as ``z``.

        Parameters
        ----------
        z : ndarray
            Pre-activations, float64 or an object array of ``Fraction``.
        subgradient : {"min_norm", "left", "right"}
            The derivative taken on a kink.
        exact : bool
            Whether ``z`` holds fractions.

        Returns
        -------
        value, derivative : ndarray
        kinks : ndarray of bool
        """
        raise NotImplementedError

    def at_kink(self, subgradient: str) -> Fraction:
        """The derivative on the kink under a subgradient rule (kinked activations)."""
        raise NotImplementedError

    def symbolic(self, z: sympy.Expr) -> sympy.Expr:
        """The function of a SymPy expression."""
        raise NotImplementedError

    @property
    def derivative_rule(self) -> str:
        """How its derivative is computed, for feedback: ``relu'(z) = 1 if z > 0 else 0``."""
        return ""

    @property
    def has_unit_derivative(self) -> bool:
        """Whether sigma'(z) = 1 everywhere (no factor in a path product)."""
        return False

    def to_json(self) -> Any:
        """The spec's spelling of this activation: its name (an object when a parameter
        is not its default)."""
        return self.name

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Identity(Activation):
    """sigma(z) = z."""

    name: ClassVar[str] = "identity"
    _title: ClassVar[str] = "the identity activation"
    rational: ClassVar[bool] = True

    def apply(self, z: Array, subgradient: str, exact: bool) -> tuple[Array, Array, Array]:
        one = _constant(Fraction(1), exact)
        return z, np.full(z.shape, one, dtype=z.dtype), np.zeros(z.shape, dtype=bool)

    def symbolic(self, z: sympy.Expr) -> sympy.Expr:
        return z

    @property
    def has_unit_derivative(self) -> bool:
        return True


@dataclass(frozen=True)
class Relu(Activation):
    """relu(z) = max(0, z); a kink at 0."""

    name: ClassVar[str] = "relu"
    _title: ClassVar[str] = "the relu activation, relu(z) = max(0, z)"
    rational: ClassVar[bool] = True
    kinked: ClassVar[bool] = True

    def apply(self, z: Array, subgradient: str, exact: bool) -> tuple[Array, Array, Array]:
        return _piecewise(z, _constant(Fraction(0), exact), self.at_kink(subgradient), exact)

    def at_kink(self, subgradient: str) -> Fraction:
        return Fraction(1) if subgradient == "right" else Fraction(0)

    def symbolic(self, z: sympy.Expr) -> sympy.Expr:
        import sympy

        return sympy.Max(0, z)

    @property
    def derivative_rule(self) -> str:
        return "relu'(z) = 1 if z > 0 else 0"


@dataclass(frozen=True)
class LeakyRelu(Activation):
    """leaky_relu(z) = z for z > 0, ``slope`` * z otherwise; a kink at 0."""

    name: ClassVar[str] = "leaky_relu"
    rational: ClassVar[bool] = True
    kinked: ClassVar[bool] = True
    parameters: ClassVar[tuple[str, ...]] = ("slope",)
    slope: Fraction = LEAKY_SLOPE

    def to_json(self) -> Any:
        if self.slope == LEAKY_SLOPE:
            return self.name
        shown = float(self.slope)
        return {"name": self.name,
                "slope": shown if Fraction(repr(shown)) == self.slope else str(self.slope)}

    @property
    def title(self) -> str:
        return (f"the leaky relu activation, leaky_relu(z) = z for z > 0 and "
                f"{_number(self.slope)}·z otherwise")

    def apply(self, z: Array, subgradient: str, exact: bool) -> tuple[Array, Array, Array]:
        slope = self.slope if exact else float(self.slope)
        return _piecewise(z, slope, self.at_kink(subgradient), exact)

    def at_kink(self, subgradient: str) -> Fraction:
        # min_norm takes the slope, as PyTorch's leaky_relu does at 0.
        return Fraction(1) if subgradient == "right" else Fraction(self.slope)

    def symbolic(self, z: sympy.Expr) -> sympy.Expr:
        import sympy

        slope = sympy.Rational(self.slope.numerator, self.slope.denominator)
        return sympy.Piecewise((z, z > 0), (slope * z, True))

    @property
    def derivative_rule(self) -> str:
        return f"leaky_relu'(z) = 1 if z > 0 else {_number(self.slope)}"


@dataclass(frozen=True)
class Sigmoid(Activation):
    """sigmoid(z) = 1 / (1 + exp(-z))."""

    name: ClassVar[str] = "sigmoid"
    _title: ClassVar[str] = "the sigmoid activation, sigmoid(z) = 1/(1 + exp(-z))"

    def apply(self, z: Array, subgradient: str, exact: bool) -> tuple[Array, Array, Array]:
        # With e = exp(-|z|) <= 1 nothing overflows, and e / (1 + e)^2 keeps the derivative's
        # relative precision where s * (1 - s) would round 1 - s to 0 (z >> 0).
        e = np.exp(-np.abs(z))
        s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return s, e / ((1.0 + e) * (1.0 + e)), np.zeros(z.shape, dtype=bool)

    def symbolic(self, z: sympy.Expr) -> sympy.Expr:
        import sympy

        return 1 / (1 + sympy.exp(-z))

    @property
    def derivative_rule(self) -> str:
        return "sigmoid'(z) = sigmoid(z)(1 - sigmoid(z))"


@dataclass(frozen=True)
class Tanh(Activation):
    """tanh(z)."""

    name: ClassVar[str] = "tanh"
    _title: ClassVar[str] = "the tanh activation"

    def apply(self, z: Array, subgradient: str, exact: bool) -> tuple[Array, Array, Array]:
        # 1 - tanh^2 = 4e / (1 + e)^2 with e = exp(-2|z|): exact where 1 - t*t cancels.
        e = np.exp(-2.0 * np.abs(z))
        return np.tanh(z), 4.0 * e / ((1.0 + e) * (1.0 + e)), np.zeros(z.shape, dtype=bool)

    def symbolic(self, z: sympy.Expr) -> sympy.Expr:
        import sympy

        return sympy.tanh(z)

    @property
    def derivative_rule(self) -> str:
        return "tanh'(z) = 1 - tanh(z)^2"


#: Every activation by the name the spec uses, with its default parameters.
ACTIVATIONS: dict[str, type[Activation]] = {
    kind.name: kind for kind in (Identity, Relu, LeakyRelu, Sigmoid, Tanh)
}


def _piecewise(z: Array, low: Any, kink: Fraction, exact: bool) -> tuple[Array, Array, Array]:
    """z for z > 0, ``low`` * z below; derivative 1, ``low``, and ``kink`` on 0."""
    one = _constant(Fraction(1), exact)
    positive, negative = z > 0, z < 0
    # relu gives 0 below, not z * 0 (which is -0.0 for a negative float z).
    value = np.where(positive, z, z * low if low else low)
    derivative = np.where(positive, one, np.where(negative, low, _constant(kink, exact)))
    return value.astype(z.dtype), derivative.astype(z.dtype), ~(positive | negative)


def _number(value: Fraction) -> str:
    """A parameter as people write it: ``0.01``, ``0.2``, ``1/3``."""
    shown = repr(float(value))
    return shown.removesuffix(".0") if Fraction(shown) == value else str(value)


def parse_activation(value: Any, field: str, *, exact: bool = False) -> Activation:
    """Read one activation of a spec: a name, or an object with its name and parameters.

    Parameters
    ----------
    value : str or dict
        ``identity``, ``relu``, ``leaky_relu``, ``sigmoid`` or ``tanh``; or an object
        such as ``{"name": "leaky_relu", "slope": 0.2}`` (parameters left out take
        their defaults).
    field : str
        Where it sits in the spec (``activation``, ``activation[2]``).
    exact : bool
        Whether parameters may be exact strings (``"1/5"``), as spec numbers may in
        exact arithmetic.

    Returns
    -------
    Activation

    Raises
    ------
    SpecError
        For an unknown name or parameter, or a parameter that is not a number, naming
        the field (``activation[1].slope``).

    Examples
    --------
    >>> parse_activation("leaky_relu", "activation")
    LeakyRelu(slope=Fraction(1, 100))
    >>> parse_activation({"name": "leaky_relu", "slope": "1/5"}, "activation", exact=True)
    LeakyRelu(slope=Fraction(1, 5))
    """
    if isinstance(value, dict):
        return _parse_object(value, field, exact)
    found = ACTIVATIONS.get(value) if isinstance(value, str) else None
    if found is None:
        raise SpecError(field, f"expected one of {', '.join(ACTIVATIONS)} (or an object "
                        f"such as {{\"name\": \"leaky_relu\", \"slope\": 0.2}}), "
                        f"got {brief(value)}")
    return found()


def _parse_object(value: dict[str, Any], field: str, exact: bool) -> Activation:
    name = value.get("name")
    found = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if found is None:
        shown = "nothing" if "name" not in value else brief(name)
        raise SpecError(f"{field}.name", f"expected one of {', '.join(ACTIVATIONS)}, "
                        f"got {shown}")
    arguments: dict[str, Fraction] = {}
    for key, given in value.items():
        if key == "name":
            continue
        where = f"{field}.{key}"
        if key not in found.parameters:
            takes = (f"its parameters are {', '.join(found.parameters)}" if found.parameters
                     else "it takes no parameters")
            raise SpecError(where, f"{name} has no parameter {brief(key)}: {takes}")
        arguments[key] = exact_number(given, where) if exact \
            else Fraction(repr(float_number(given, where)))
    return found(**arguments)
