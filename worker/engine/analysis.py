"""The computation of an analysis: both methods and the witnesses, on arrays.

:func:`analyze_batch` runs the forward pass, backprop, the explicit path sums and
(when asked) finite differences on a whole batch of networks at once (stacked by
:func:`worker.engine.batch.parse_batches`); :func:`check_limits` says beforehand
whether a network's size is within what an analysis may take.
:mod:`worker.engine.pipeline` puts the result of docs/CONTRACT.md section 2 together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .backprop import backprop, magnitudes
from .batch import Batch
from .errors import OptionError, PathLimitError, SpecError
from .finite_diff import FiniteDifferences, finite_differences
from .forward import Forward, forward
from .options import Options
from .paths import path_sums, suffix_path_count

__all__ = [
    "EXACT_MAX_PATHS",
    "MAX_FD_PARAMETERS",
    "MAX_FD_SAMPLES",
    "BatchAnalysis",
    "analyze_batch",
    "check_limits",
    "enumeration_limit",
]

Array = npt.NDArray[Any]

# Python fractions cost about a microsecond an operation: keep exact jobs to seconds.
EXACT_MAX_PATHS = 10**6
# Finite differences run two forward passes per parameter: quadratic in the parameter count.
MAX_FD_PARAMETERS = 20_000
# ... and every pass runs every sample: a mini-batch's parameters times samples are held
# to the work of MAX_FD_PARAMETERS parameters on MAX_FD_SAMPLES samples.
MAX_FD_SAMPLES = 32


def check_limits(layers: tuple[int, ...], options: Options, samples: int = 1) -> int:
    """Return the path products an analysis enumerates, or raise if it is over a limit.

    Everything :func:`analyze_batches` would refuse for the network's size: the API
    checks it before anything is queued. A mini-batch enumerates every path once per
    sample: N times the network's suffix paths.

    Raises
    ------
    PathLimitError
        Naming the exact path count and the limit.
    OptionError
        When finite differences are asked for more than :data:`MAX_FD_PARAMETERS`.
    """
    _check_fd_size(layers, options, samples)
    count = suffix_path_count(layers) * samples
    if not options.path_sum:
        return count
    limit, which = enumeration_limit(options)
    if count > limit:
        each = f" ({count // samples} paths for each of {samples} samples)" if samples > 1 else ""
        raise PathLimitError(
            "layers",
            f"the network has {count} paths to enumerate{each}, over {which} ({limit}); "
            "set options.path_sum to false for backprop only",
            paths=count,
            limit=limit,
        )
    return count


def enumeration_limit(options: Options) -> tuple[int, str]:
    """Return the most paths these options let one enumerate, and the limit's name.

    Exact arithmetic keeps its own, lower limit (:data:`EXACT_MAX_PATHS`);
    ``max_paths`` can lower it further.
    """
    if options.exact and EXACT_MAX_PATHS < options.max_paths:
        return EXACT_MAX_PATHS, "the exact-arithmetic limit"
    return options.max_paths, "max_paths"


def _check_fd_size(layers: tuple[int, ...], options: Options, samples: int) -> None:
    parameters = sum(n * (m + 1) for m, n in zip(layers[:-1], layers[1:], strict=True))
    if not options.finite_difference:
        return
    if parameters > MAX_FD_PARAMETERS:
        raise OptionError(
            "options.finite_difference",
            f"finite differences are limited to {MAX_FD_PARAMETERS} parameters "
            f"(two forward passes each); the network has {parameters}",
        )
    if parameters * samples > MAX_FD_PARAMETERS * MAX_FD_SAMPLES:
        raise OptionError(
            "options.finite_difference",
            f"finite differences are limited to {MAX_FD_PARAMETERS * MAX_FD_SAMPLES} "
            f"parameter-samples (two forward passes of every sample for each parameter); "
            f"the network has {parameters} parameters and {samples} samples",
        )


@dataclass(frozen=True, eq=False)
class BatchAnalysis:
    """Everything computed for a batch, as flat per-network arrays.

    Parameters (weights W1, W2, ... then biases in name order) are flattened:
    ``(B, n_weights)`` and ``(B, n_biases)``.

    Attributes
    ----------
    batch : Batch
    passed : Forward
    backprop, path_sum, scale : tuple of ndarray
        (weights, biases) gradients by the delta recursion, by the explicit path
        sums (None when not enumerated), and the sum of |path contribution| (None
        when not enumerated: it is the scale the path sum is compared on).
    finite_differences : list of FiniteDifferences, optional
        One per network when asked for.
    """

    batch: Batch
    passed: Forward
    backprop: tuple[Array, Array]
    path_sum: tuple[Array, Array] | None
    scale: tuple[Array, Array] | None
    finite_differences: list[FiniteDifferences] | None

    def __repr__(self) -> str:
        return f"BatchAnalysis(size={self.batch.size}, layers={list(self.batch.layers)})"


def analyze_batch(batch: Batch, options: Options) -> BatchAnalysis:
    """Run both methods (and finite differences when asked) on every network of a batch.

    Parameters
    ----------
    batch : Batch
    options : Options

    Returns
    -------
    BatchAnalysis
    """
    passed = forward(batch, options.subgradient)
    if not batch.exact:
        _check_finite(passed)
    args = (batch.weights, passed.values, passed.derivatives, passed.loss_gradient)
    # Overflow is checked explicitly below, with a message that names the cause.
    with np.errstate(over="ignore", invalid="ignore"):
        grads = backprop(*args)
        path = scale = None
        if options.path_sum:
            magnitude = magnitudes(*args)
            scale = (_flat(magnitude.weights), _flat(magnitude.biases))
            sums = path_sums(batch.weights, passed.derivatives, passed.loss_gradient)
            # Each sample's path sums times its inputs, added up over the samples.
            path = (_flat([np.matmul(np.swapaxes(sums[l], 1, 2), passed.values[l - 1])
                           for l in range(1, len(sums))]),
                    _flat([sums[l].sum(axis=1) for l in range(1, len(sums))]))
    if not batch.exact:
        _check_finite_gradients(grads.weights + grads.biases + list(path or ()))
    fd = None
    if options.finite_difference:
        fd = [finite_differences(batch, b, passed, options.subgradient)
              for b in range(batch.size)]
    return BatchAnalysis(
        batch=batch,
        passed=passed,
        backprop=(_flat(grads.weights), _flat(grads.biases)),
        path_sum=path,
        scale=scale,
        finite_differences=fd,
    )


def _check_finite(passed: Forward) -> None:
    arrays = [passed.loss, passed.loss_gradient, *passed.values]
    if not all(np.isfinite(a).all() for a in arrays):
        raise SpecError(
            "weights",
            "the forward pass overflows float64 (a value is infinite); use smaller "
            "weights or inputs, or arithmetic 'exact' with a piecewise-linear network",
        )


def _check_finite_gradients(arrays: Sequence[Array]) -> None:
    if not all(np.isfinite(a).all() for a in arrays):
        raise SpecError(
            "weights",
            "the gradients overflow float64 (a path product is infinite); use smaller "
            "weights, or arithmetic 'exact' with a piecewise-linear network",
        )


def _flat(arrays: Sequence[Array]) -> Array:
    """Concatenate per-layer (B, ...) arrays into one (B, total) array, row-major per layer."""
    size = arrays[0].shape[0]
    return np.concatenate([a.reshape(size, -1) for a in arrays], axis=1)
