"""The network spec: parsing and validation into a :class:`Network` of arrays.

A spec is the JSON object of docs/CONTRACT.md section 1. :func:`parse_spec` checks
every field and turns it into a :class:`Network`. Numbers may be JSON numbers,
NumPy scalars or NumPy arrays (``weights[l]`` an (n_l, n_{l-1}) array, ``input`` a
vector), so a spec built in Python need not be converted to lists first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from .activations import ACTIVATIONS, Activation, parse_activation
from .errors import ExactArithmeticError, SpecError, brief, kind
from .exact import exact_number, exact_str, float_number
from .losses import LOSSES, Loss, parse_loss

__all__ = [
    "MAX_DEPTH",
    "MAX_LAYER_SIZE",
    "Network",
    "REQUIRED_FIELDS",
    "SPEC_FIELDS",
    "check_activation",
    "check_layers",
    "float_array",
    "parse_spec",
]

MAX_LAYER_SIZE = 100_000
MAX_DEPTH = 1_000

SPEC_FIELDS = frozenset(("layers", "weights", "biases", "activation", "input", "target", "loss"))
REQUIRED_FIELDS = frozenset(("layers", "weights", "activation", "input", "target", "loss"))
_FIELD_ORDER = ("layers", "weights", "biases", "activation", "input", "target", "loss")

Array = npt.NDArray[Any]
Reader = Callable[[Any, str], Any]


@dataclass(frozen=True, eq=False)
class Network:
    """A validated network: float64 arrays, or object arrays of ``Fraction`` when exact.

    Attributes
    ----------
    layers : tuple of int
        Sizes n0 (inputs) ... nL (outputs).
    weights : tuple of ndarray
        ``weights[l-1]`` has shape (n_l, n_{l-1}); row = destination, column = source.
    biases : tuple of ndarray
        ``biases[l-1]`` has shape (n_l,); zeros when the spec has none.
    activations : tuple of Activation
        One per non-input layer.
    input, target : ndarray
        Shapes (n0,) and (nL,).
    loss : Loss
    exact : bool
        True when the arrays hold ``fractions.Fraction`` objects.
    """

    layers: tuple[int, ...]
    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    activations: tuple[Activation, ...]
    input: Array
    target: Array
    loss: Loss
    exact: bool = False

    @property
    def depth(self) -> int:
        """Number of non-input layers, L."""
        return len(self.layers) - 1

    @property
    def shape_key(self) -> tuple[Any, ...]:
        """What networks must share to be stacked into one batch."""
        return (self.layers, self.activations, self.loss, self.exact)

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical spec: every field present, numbers normalised."""
        number = exact_str if self.exact else float
        return {
            "layers": list(self.layers),
            "weights": [[[number(v) for v in row] for row in w] for w in self.weights],
            "biases": [[number(v) for v in b] for b in self.biases],
            "activation": [a.to_json() for a in self.activations],
            "input": [number(v) for v in self.input],
            "target": [number(v) for v in self.target],
            "loss": self.loss.name,
        }

    def __repr__(self) -> str:
        number = "exact" if self.exact else "float"
        acts = ",".join(sorted({str(a) for a in self.activations}))
        return (f"Network(layers={list(self.layers)}, activation={acts}, loss={self.loss}, "
                f"{number})")


def parse_spec(spec: Any, *, exact: bool = False) -> Network:
    """Validate a network spec and convert it to arrays.

    Parameters
    ----------
    spec : mapping
        The JSON object of docs/CONTRACT.md section 1 (lists or NumPy arrays).
    exact : bool
        Parse numbers as ``fractions.Fraction`` (ints, floats by their decimal
        repr, and strings such as ``"3"``, ``"-0.25"``, ``"1/3"``).

    Returns
    -------
    Network

    Raises
    ------
    SpecError
        Naming the first offending field, what was expected and what was given.
    ExactArithmeticError
        When ``exact`` and an activation or loss is not rational.

    Examples
    --------
    >>> net = parse_spec({"layers": [1, 1], "weights": [[[2.0]]], "activation": "identity",
    ...                   "input": [1.5], "target": [0], "loss": "half_sse"})
    >>> net.weights[0].shape
    (1, 1)
    """
    if not isinstance(spec, Mapping):
        raise SpecError("network", f"expected a JSON object, got {kind(spec)}")
    for key in spec:
        if key not in SPEC_FIELDS:
            raise SpecError(str(key), f"unknown field; expected one of {', '.join(_FIELD_ORDER)}")
    for key in _FIELD_ORDER:
        if key in REQUIRED_FIELDS and key not in spec:
            raise SpecError(key, "required field is missing")
    layers = check_layers(spec["layers"])
    depth = len(layers) - 1
    activations = check_activation(spec["activation"], depth)
    loss = parse_loss(spec["loss"])
    if exact:
        _check_rational(activations, loss)
    number: Reader = exact_number if exact else float_number
    matrices = _check_list_len(spec["weights"], "weights", depth, "one matrix per non-input layer")
    weights = tuple(
        _matrix(spec["weights"][l], f"weights[{l}]", (layers[l + 1], layers[l]), number)
        for l in matrices
    )
    if spec.get("biases") is None:
        zero: Any = Fraction(0) if exact else 0.0
        biases = tuple(_full(size, zero, exact) for size in layers[1:])
    else:
        _check_list_len(spec["biases"], "biases", depth, "one vector per non-input layer")
        biases = tuple(_vector(spec["biases"][l], f"biases[{l}]", layers[l + 1], number)
                       for l in range(depth))
    return Network(
        layers=layers,
        weights=weights,
        biases=biases,
        activations=activations,
        input=_vector(spec["input"], "input", layers[0], number),
        target=_vector(spec["target"], "target", layers[-1], number),
        loss=loss,
        exact=exact,
    )


def check_layers(layers: Any) -> tuple[int, ...]:
    """Check the layer sizes n0 ... nL: 2 to MAX_DEPTH + 1 integers from 1 to MAX_LAYER_SIZE.

    Raises
    ------
    SpecError
        Naming ``layers`` or ``layers[i]``.
    """
    if isinstance(layers, np.ndarray):
        layers = layers.tolist()
    if not isinstance(layers, list | tuple) or len(layers) < 2:
        raise SpecError(
            "layers", f"expected a list of at least 2 layer sizes (n0 ... nL), got {brief(layers)}"
        )
    if len(layers) > MAX_DEPTH + 1:
        raise SpecError("layers", f"expected at most {MAX_DEPTH + 1} layers, got {len(layers)}")
    for index, size in enumerate(layers):
        if isinstance(size, bool) or not isinstance(size, int | np.integer) \
                or not 1 <= size <= MAX_LAYER_SIZE:
            raise SpecError(
                f"layers[{index}]",
                f"expected an integer from 1 to {MAX_LAYER_SIZE}, got {brief(size)}",
            )
    return tuple(int(size) for size in layers)


def check_activation(activation: Any, depth: int) -> tuple[Activation, ...]:
    """Read ``activation``: one name for every layer, or a list of ``depth`` names.

    Raises
    ------
    SpecError
        Naming ``activation`` or ``activation[l]``.
    """
    if isinstance(activation, str):
        return (parse_activation(activation, "activation"),) * depth
    if not isinstance(activation, list | tuple):
        raise SpecError("activation", f"expected a name or a list of names, got {kind(activation)}")
    if len(activation) != depth:
        raise SpecError(
            "activation",
            f"expected one name or a list of {depth} names (one per non-input layer), "
            f"got a list of {len(activation)}",
        )
    return tuple(parse_activation(value, f"activation[{l}]") for l, value in enumerate(activation))


def _check_rational(activations: tuple[Activation, ...], loss: Loss) -> None:
    for l, activation in enumerate(activations):
        if not activation.rational:
            supported = ", ".join(name for name, record in ACTIVATIONS.items() if record.rational)
            raise ExactArithmeticError(
                "activation" if len(set(activations)) == 1 else f"activation[{l}]",
                f"{activation.name} is not rational; arithmetic 'exact' supports "
                f"{supported} (use arithmetic 'float')",
            )
    if not loss.rational:
        supported = ", ".join(name for name, record in LOSSES.items() if record.rational)
        raise ExactArithmeticError(
            "loss",
            f"{loss.name} is not rational; arithmetic 'exact' supports "
            f"{supported} (use arithmetic 'float')",
        )


def _check_list_len(value: Any, field: str, length: int, what: str) -> range:
    if not isinstance(value, list | tuple):
        raise SpecError(field, f"expected a list ({what}), got {kind(value)}")
    if len(value) != length:
        raise SpecError(field, f"expected {length} entries ({what}), got {len(value)}")
    return range(length)


def _matrix(matrix: Any, field: str, shape: tuple[int, int], number: Reader) -> Array:
    got = np.shape(matrix) if isinstance(matrix, np.ndarray) else _shape_of(matrix)
    if got != shape:
        shown = kind(matrix) if not isinstance(matrix, list | np.ndarray) else (
            "a ragged list" if got is None else str(got))
        raise SpecError(field, f"expected shape {shape}, got {shown}")
    return _numbers(matrix, field, shape, number)


def _vector(vector: Any, field: str, size: int, number: Reader) -> Array:
    if isinstance(vector, np.ndarray):
        if vector.shape != (size,):
            raise SpecError(field, f"expected {size} numbers, got an array of shape "
                            f"{vector.shape}")
        return _numbers(vector, field, (size,), number)
    if not isinstance(vector, list | tuple):
        raise SpecError(field, f"expected a list of {size} numbers, got {kind(vector)}")
    if len(vector) != size:
        raise SpecError(field, f"expected {size} numbers, got {len(vector)}")
    return _numbers(vector, field, (size,), number)


def _numbers(values: Any, field: str, shape: tuple[int, ...], number: Reader) -> Array:
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


def _full(size: int, value: Any, exact: bool) -> Array:
    return _array([value] * size, (size,), exact)


def _shape_of(matrix: Any) -> tuple[int, ...] | None:
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
