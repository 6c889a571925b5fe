"""Reading a spec's numbers: nested lists (or NumPy arrays) into checked arrays.

Every reader names the field it reads (``weights[1][0][2]``) in the error for a
value that is not a number, or a list of the wrong shape; float64 lists of plain
numbers take a fast path (:func:`float_array`) that checks nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import SpecError, kind
from .exact import exact_number, float_number

__all__ = [
    "Reader", "float_array", "full", "read_matrix", "read_numbers", "read_vector", "shape_of",
]

Array = npt.NDArray[Any]
Reader = Callable[[Any, str], Any]


def read_matrix(matrix: Any, field: str, shape: tuple[int, int], number: Reader) -> Array:
    """A (rows, cols) matrix of numbers read by ``number``, named ``field`` in errors."""
    got = np.shape(matrix) if isinstance(matrix, np.ndarray) else shape_of(matrix)
    if got != shape:
        shown = kind(matrix) if not isinstance(matrix, list | np.ndarray) else (
            "a ragged list" if got is None else str(got))
        raise SpecError(field, f"expected shape {shape}, got {shown}")
    return read_numbers(matrix, field, shape, number)


def read_vector(vector: Any, field: str, size: int, number: Reader) -> Array:
    """``size`` numbers read by ``number``, named ``field`` in errors."""
    if isinstance(vector, np.ndarray):
        if vector.shape != (size,):
            raise SpecError(field, f"expected {size} numbers, got an array of shape "
                            f"{vector.shape}")
        return read_numbers(vector, field, (size,), number)
    if not isinstance(vector, list | tuple):
        raise SpecError(field, f"expected a list of {size} numbers, got {kind(vector)}")
    if len(vector) != size:
        raise SpecError(field, f"expected {size} numbers, got {len(vector)}")
    return read_numbers(vector, field, (size,), number)


def read_numbers(values: Any, field: str, shape: tuple[int, ...], number: Reader) -> Array:
    """``values`` (nested lists of ``shape``, or an array) as a checked array."""
    if number is float_number:
        fast = float_array(values, shape)
        if fast is not None and np.isfinite(fast).all():
            return fast
    flat = [number(v, f"{field}{_index(k, shape)}") for k, v in enumerate(_flatten(values))]
    return _array(flat, shape, number is exact_number)


def float_array(values: Any, shape: tuple[int, ...]) -> Array | None:
    """``values`` as a float64 array of ``shape`` if they are plain numbers of it, else None.

    ``values`` is a NumPy array of numbers or nested lists. The nesting of lists is
    checked level by level with C-level ``map`` calls and the numbers converted
    from one flat list: several times faster than letting ``np.array`` discover the
    shape of thousands of small nested lists, and booleans (which ``np.array``
    would take as 1.0) are not numbers here. None sends the caller to the slow
    path, which names what is wrong.
    """
    if isinstance(values, np.ndarray):
        ok = values.shape == shape and values.dtype.kind in "fiu"
        return values.astype(np.float64) if ok else None
    level = values
    for length in shape[1:]:
        if set(map(type, level)) != {list} or set(map(len, level)) != {length}:
            return None
        level = list(chain.from_iterable(level))
    if len(level) != int(np.prod(shape)) or not set(map(type, level)) <= {float, int}:
        return None
    try:
        return np.array(level, dtype=np.float64).reshape(shape)
    except OverflowError:  # an integer beyond float64
        return None


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, np.ndarray):
        return list(values.reshape(-1)) if values.dtype == object else values.reshape(-1).tolist()
    if values and isinstance(values[0], list | tuple | np.ndarray):
        return [v for row in values for v in (row.tolist() if isinstance(row, np.ndarray)
                                               else row)]
    return list(values)


def _index(k: int, shape: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in np.unravel_index(k, shape))


def _array(values: list[Any], shape: tuple[int, ...], exact: bool) -> Array:
    if exact:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out.reshape(shape)
    return np.array(values, dtype=np.float64).reshape(shape)


def full(size: int, value: Any, exact: bool) -> Array:
    """``size`` copies of ``value`` (an object array of fractions when ``exact``)."""
    return _array([value] * size, (size,), exact)


def shape_of(matrix: Any) -> tuple[int, ...] | None:
    """Return (rows, cols) of a list of equal-length lists or arrays, else None."""
    if not isinstance(matrix, list | tuple):
        return None
    rows = [row.tolist() if isinstance(row, np.ndarray) and row.ndim == 1 else row
            for row in matrix]
    if not all(isinstance(row, list | tuple) for row in rows):
        return (len(rows),) if not any(isinstance(row, list | tuple) for row in rows) else None
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        return None
    return (len(rows), lengths.pop() if lengths else 0)
