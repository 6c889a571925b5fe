"""Agreement: backprop against the explicit path sum, and against finite differences.

A weight agrees when ``|backprop - path_sum| <= atol + rtol * S``, where S is the sum
of the *absolute* path contributions of that weight (backprop on absolute values):
S bounds the rounding error of any summation order, so the test is tight without
failing on gradients that cancel to near zero. In exact arithmetic agreement is
equality. Finite differences agree within :data:`FD_RTOL` of |backprop| plus
:data:`FD_ATOL` times max(1, |loss|); parameters whose step crosses a kink are
skipped.

Everything is computed on arrays, every network of a batch at once;
:func:`check` raises :class:`AgreementError` for a network whose methods disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .analysis import BatchAnalysis
from .errors import AgreementError
from .options import Options

__all__ = ["FD_ATOL", "FD_RTOL", "Agreement", "Comparison", "check", "compare"]

Array = npt.NDArray[Any]

# Central differences agree with backprop to about eps^(2/3) of the loss's scale.
FD_RTOL = 1e-6
FD_ATOL = 1e-8


@dataclass(frozen=True, eq=False)
class Comparison:
    """One comparison of two gradient methods, for every network of a batch.

    Attributes
    ----------
    ok : ndarray of bool
        (B,) whether every parameter agrees.
    max_abs_diff, max_rel_diff : list
        Per network: the largest |difference| (a ``Fraction`` in exact arithmetic)
        and the largest difference relative to max(|a|, |b|).
    rtol, atol : list of float
        Per network, the tolerance applied.
    """

    ok: Array
    max_abs_diff: list[Any]
    max_rel_diff: list[float]
    rtol: list[float]
    atol: list[float]

    def __repr__(self) -> str:
        return f"Comparison(networks={len(self.ok)}, ok={int(self.ok.sum())})"


@dataclass(frozen=True, eq=False)
class Agreement:
    """Backprop vs the path sum (None when not enumerated) and vs finite differences.

    Attributes
    ----------
    size : int
        Networks compared.
    path_sum, finite_difference : Comparison or None
    skipped : list of list of str, optional
        Per network, the parameters finite differences skipped (a step across a kink).
    """

    size: int
    path_sum: Comparison | None
    finite_difference: Comparison | None
    skipped: list[list[str]] | None

    @property
    def ok(self) -> Array:
        """(B,) whether backprop and the path sum agree (True when not compared)."""
        if self.path_sum is None:
            return np.ones(self.size, dtype=bool)
        return self.path_sum.ok

    def __repr__(self) -> str:
        return (f"Agreement(path_sum={self.path_sum!r}, "
                f"finite_difference={self.finite_difference!r})")


def compare(analysis: BatchAnalysis, options: Options) -> Agreement:
    """Compare the methods of every network of an analysed batch.

    Parameters
    ----------
    analysis : BatchAnalysis
    options : Options
        ``rtol`` and ``atol`` of the path-sum comparison.

    Returns
    -------
    Agreement
    """
    exact = analysis.batch.exact
    path_sum = None
    if analysis.path_sum is not None and analysis.scale is not None:
        ours, theirs = (np.concatenate(pair, axis=1) for pair in (analysis.backprop,
                                                                   analysis.path_sum))
        # Exact agreement is equality: no tolerance (and no float of a huge Fraction).
        scale = None if exact else options.rtol * np.concatenate(analysis.scale, axis=1)
        path_sum = _compare(ours, theirs, options.atol, scale, exact, options.rtol)
    if analysis.finite_differences is None:
        return Agreement(size=analysis.batch.size, path_sum=path_sum, finite_difference=None,
                         skipped=None)
    parts = [_fd(analysis, b) for b in range(analysis.batch.size)]
    fd = Comparison(
        ok=np.array([bool(p.ok[0]) for p in parts], dtype=bool),
        max_abs_diff=[p.max_abs_diff[0] for p in parts],
        max_rel_diff=[p.max_rel_diff[0] for p in parts],
        rtol=[p.rtol[0] for p in parts], atol=[p.atol[0] for p in parts])
    return Agreement(size=analysis.batch.size, path_sum=path_sum, finite_difference=fd,
                     skipped=[f.skipped for f in analysis.finite_differences])


def check(agreement: Agreement, results: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    """Raise :class:`AgreementError` for the first network whose methods disagree.

    ``results`` are the networks' results (attached to the error) and ``fields``
    how each network is named in the caller's input (``network``, ``specs[3]``).
    """
    for b in np.flatnonzero(~agreement.ok).tolist():
        raise AgreementError(fields[b], disagreement(agreement, b), result=results[b])


def disagreement(agreement: Agreement, b: int) -> str:
    """The message of network ``b``'s disagreement (the first of its warnings)."""
    worst = agreement.path_sum.max_abs_diff[b] if agreement.path_sum is not None else 0
    return (f"DISAGREEMENT: backprop and path sum differ by up to {float(worst):.3g}, beyond "
            "atol + rtol * (sum of |path contributions|); this is a pathgrad bug, please "
            "report it")


def _compare(
    ours: Array, theirs: Array, atol: float, rtol_scale: Array | None, exact: bool,
    rtol: float,
) -> Comparison:
    """Compare (B, P) gradients row by row: within ``atol + rtol_scale``, or equal."""
    size = len(ours)
    diff = np.abs(ours - theirs)
    largest = np.maximum(np.abs(ours), np.abs(theirs))
    if exact:
        worst = [max(row, default=Fraction(0)) for row in diff.tolist()]
        rel = [float(max((d / m for d, m in zip(dr, mr, strict=True) if m), default=0))
               for dr, mr in zip(diff.tolist(), largest.tolist(), strict=True)]
        return Comparison((diff == 0).all(axis=1), worst, rel, [0.0] * size, [0.0] * size)
    ok = (diff <= atol + (0.0 if rtol_scale is None else rtol_scale)).all(axis=1)
    relative = np.divide(diff, largest, out=np.zeros_like(diff), where=largest > 0)
    return Comparison(ok, diff.max(axis=1, initial=0.0).tolist(),
                      relative.max(axis=1, initial=0.0).tolist(), [rtol] * size, [atol] * size)


def _fd(analysis: BatchAnalysis, b: int) -> Comparison:
    """Backprop vs finite differences of network ``b`` (skipped parameters left out)."""
    exact = analysis.batch.exact
    assert analysis.finite_differences is not None
    fd = analysis.finite_differences[b]
    ours = np.concatenate([analysis.backprop[0][b], analysis.backprop[1][b]])
    theirs = np.concatenate([a.ravel() for a in (*fd.weights, *fd.biases)])
    usable = np.array([v is not None for v in theirs.tolist()], dtype=bool) if exact \
        else ~np.isnan(theirs)
    ours, theirs = ours[usable][None, :], theirs[usable][None, :]
    if exact:
        return _compare(ours, theirs, 0.0, None, True, 0.0)
    atol = FD_ATOL * max(1.0, abs(float(analysis.passed.loss[b])))
    return _compare(ours, theirs, atol, FD_RTOL * np.abs(ours), False, FD_RTOL)
