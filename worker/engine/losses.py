"""Losses: one record per loss, with everything pathgrad knows of it.

Each record gives the loss of a batch of outputs and dLoss/dOut (float64, or object
arrays of ``Fraction``), its kink (``l1`` at out = y) and the derivative each
subgradient rule takes there, whether it is rational, dLoss/dOut as SymPy
expressions, and how people write it (the formula of its derivative in feedback,
the loss in a question). With K outputs (docs/CONTRACT.md section 1):

- ``l1`` = sum |out - y| (the seed question's loss), dLoss/dOut = sign(out - y);
- ``mse`` = (1/K) sum (out - y)^2, dLoss/dOut = 2 (out - y) / K;
- ``half_sse`` = 1/2 sum (out - y)^2, dLoss/dOut = out - y;
- ``softmax_cross_entropy`` = -sum y log softmax(out),
  dLoss/dOut = softmax(out) sum(y) - y.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from .errors import SpecError, brief

if TYPE_CHECKING:
    import sympy

__all__ = ["LOSSES", "L1", "Loss", "Mse", "HalfSse", "SoftmaxCrossEntropy", "parse_loss"]

Array = npt.NDArray[Any]


def _constant(value: Fraction, exact: bool) -> Any:
    return value if exact else float(value)


@dataclass(frozen=True)
class Loss:
    """A loss function of the outputs and targets (a record: see the subclasses).

    Class attributes
    ----------------
    name : str
        As the spec names it: ``half_sse``.
    rational : bool
        Whether exact (rational) arithmetic can compute it.
    kinked : bool
        Whether dLoss/dOut has a kink (``l1`` at out = y).
    derivative_rule : str
        dLoss/dOut as feedback writes it: ``sign(Out - Y)``.
    """

    name: ClassVar[str] = ""
    rational: ClassVar[bool] = False
    kinked: ClassVar[bool] = False
    derivative_rule: ClassVar[str] = ""

    def apply(
        self, out: Array, target: Array, subgradient: str, exact: bool
    ) -> tuple[Array, Array, Array]:
        """Return the loss (...), dLoss/dOut and where it is on a kink (both (..., K)).

        Parameters
        ----------
        out, target : ndarray
            (..., K) outputs and targets: the last axis is the outputs'.
        subgradient : {"min_norm", "left", "right"}
            dLoss/dOut taken on a kink.
        exact : bool
            Whether the arrays hold fractions.
        """
        raise NotImplementedError

    def symbolic_gradient(
        self, outs: Sequence[sympy.Symbol], targets: Sequence[sympy.Symbol]
    ) -> list[sympy.Expr]:
        """dLoss/dOut_k for every output k, in the output and target symbols."""
        raise NotImplementedError

    def describe(self, pairs: Sequence[str]) -> str:
        """The loss in a question's Markdown, from the ``Out - Y`` differences in TeX."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class L1(Loss):
    """sum |out - y|; its kink is out = y."""

    name: ClassVar[str] = "l1"
    rational: ClassVar[bool] = True
    kinked: ClassVar[bool] = True
    derivative_rule: ClassVar[str] = "sign(Out - Y)"

    def at_kink(self, subgradient: str) -> Fraction:
        """dLoss/dOut on the kink under a subgradient rule."""
        return {"min_norm": Fraction(0), "left": Fraction(-1), "right": Fraction(1)}[subgradient]

    def apply(
        self, out: Array, target: Array, subgradient: str, exact: bool
    ) -> tuple[Array, Array, Array]:
        diff = out - target
        positive, negative = diff > 0, diff < 0
        one = _constant(Fraction(1), exact)
        at_kink = _constant(self.at_kink(subgradient), exact)
        sign = np.where(positive, one, np.where(negative, -one, at_kink)).astype(out.dtype)
        return np.abs(diff).sum(axis=-1), sign, ~(positive | negative)

    def symbolic_gradient(
        self, outs: Sequence[sympy.Symbol], targets: Sequence[sympy.Symbol]
    ) -> list[sympy.Expr]:
        import sympy

        return [sympy.sign(out - y) for out, y in zip(outs, targets, strict=True)]

    def describe(self, pairs: Sequence[str]) -> str:
        if len(pairs) == 1:
            return (f"The loss is the absolute error:\n\n- $Delta = {pairs[0]}$\n"
                    "- $Loss = abs(Delta)$")
        total = " + ".join(f"|{p}|" for p in pairs)
        return f"The loss is the L1 loss:\n\n- $Loss = {total}$"


@dataclass(frozen=True)
class Mse(Loss):
    """(1/K) sum (out - y)^2."""

    name: ClassVar[str] = "mse"
    rational: ClassVar[bool] = True
    derivative_rule: ClassVar[str] = "2(Out - Y)/K"

    def apply(
        self, out: Array, target: Array, subgradient: str, exact: bool
    ) -> tuple[Array, Array, Array]:
        diff = out - target
        count = out.shape[-1]
        return (diff * diff).sum(axis=-1) / count, diff * 2 / count, _no_kinks(out)

    def symbolic_gradient(
        self, outs: Sequence[sympy.Symbol], targets: Sequence[sympy.Symbol]
    ) -> list[sympy.Expr]:
        import sympy

        return [sympy.Rational(2, len(outs)) * (out - y)
                for out, y in zip(outs, targets, strict=True)]

    def describe(self, pairs: Sequence[str]) -> str:
        squares = " + ".join(f"({p})^2" for p in pairs)
        if len(pairs) == 1:
            return f"The loss is the squared error:\n\n- $Loss = {squares}$"
        return (f"The loss is the mean squared error:\n\n"
                f"- $Loss = \\frac{{1}}{{{len(pairs)}}}({squares})$")


@dataclass(frozen=True)
class HalfSse(Loss):
    """1/2 sum (out - y)^2."""

    name: ClassVar[str] = "half_sse"
    rational: ClassVar[bool] = True
    derivative_rule: ClassVar[str] = "Out - Y"

    def apply(
        self, out: Array, target: Array, subgradient: str, exact: bool
    ) -> tuple[Array, Array, Array]:
        diff = out - target
        return (diff * diff).sum(axis=-1) / 2, diff, _no_kinks(out)

    def symbolic_gradient(
        self, outs: Sequence[sympy.Symbol], targets: Sequence[sympy.Symbol]
    ) -> list[sympy.Expr]:
        return [out - y for out, y in zip(outs, targets, strict=True)]

    def describe(self, pairs: Sequence[str]) -> str:
        squares = " + ".join(f"({p})^2" for p in pairs)
        what = "squared error" if len(pairs) == 1 else "sum of squared errors"
        total = squares if len(pairs) == 1 else f"({squares})"
        return f"The loss is half the {what}:\n\n- $Loss = \\frac{{1}}{{2}}{total}$"


@dataclass(frozen=True)
class SoftmaxCrossEntropy(Loss):
    """-sum y log softmax(out), through log-sum-exp so large outputs do not overflow."""

    name: ClassVar[str] = "softmax_cross_entropy"
    derivative_rule: ClassVar[str] = "softmax(Out) - Y"

    def apply(
        self, out: Array, target: Array, subgradient: str, exact: bool
    ) -> tuple[Array, Array, Array]:
        shifted = out - out.max(axis=-1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        softmax = np.exp(log_softmax)
        loss = -(target * log_softmax).sum(axis=-1)
        gradient = softmax * target.sum(axis=-1, keepdims=True) - target
        return loss, gradient, _no_kinks(out)

    def symbolic_gradient(
        self, outs: Sequence[sympy.Symbol], targets: Sequence[sympy.Symbol]
    ) -> list[sympy.Expr]:
        import sympy

        softmax_total = sympy.Add(*(sympy.exp(out) for out in outs))
        target_total = sympy.Add(*targets)
        return [sympy.exp(out) / softmax_total * target_total - y
                for out, y in zip(outs, targets, strict=True)]

    def describe(self, pairs: Sequence[str]) -> str:
        return "The loss is the softmax cross-entropy: $Loss = -\\sum_k Y_k \\log softmax(Out)_k$"


#: Every loss by the name the spec uses.
LOSSES: dict[str, Loss] = {loss.name: loss for loss in (L1(), Mse(), HalfSse(),
                                                        SoftmaxCrossEntropy())}


def _no_kinks(out: Array) -> Array:
    return np.zeros(out.shape, dtype=bool)


def parse_loss(value: Any, field: str = "loss") -> Loss:
    """Read the loss of a spec: a name.

    Raises
    ------
    SpecError
        For an unknown name, naming ``field``.

    Examples
    --------
    >>> parse_loss("half_sse").derivative_rule
    'Out - Y'
    """
    found = LOSSES.get(value) if isinstance(value, str) else None
    if found is None:
        raise SpecError(field, f"expected one of {', '.join(LOSSES)}, got {brief(value)}")
    return found
