"""The network spec: parsing and validation into a :class:`Network` of arrays.

A spec is the JSON object of docs/CONTRACT.md section 1. :func:`parse_spec` checks
every field and turns it into a :class:`Network`. Numbers may be JSON numbers,
NumPy scalars or NumPy arrays (``weights[l]`` an (n_l, n_{l-1}) array, ``input`` a
vector), so a spec built in Python need not be converted to lists first.

``input`` is one sample (n0 numbers) or a mini-batch (N lists of n0 numbers, section
10), with ``target`` alike; either way a :class:`Network` holds them as (N, n0) and
(N, nL) arrays, N = 1 for one sample, and remembers which the spec gave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .activations import ACTIVATIONS, Activation, parse_activation
from .arrays import Reader, full, read_matrix, read_numbers, read_vector, shape_of
from .errors import ExactArithmeticError, SpecError, brief, kind
from .exact import exact_number, exact_str, float_number
from .losses import LOSSES, Loss, parse_loss

__all__ = [
    "MAX_DEPTH",
    "MAX_LAYER_SIZE",
    "MAX_SAMPLES",
    "Network",
    "REQUIRED_FIELDS",
    "SPEC_FIELDS",
    "check_activation",
    "check_layers",
    "parse_spec",
]

MAX_LAYER_SIZE = 100_000
MAX_DEPTH = 1_000
MAX_SAMPLES = 100_000

SPEC_FIELDS = frozenset(("layers", "weights", "biases", "activation", "input", "target", "loss"))
REQUIRED_FIELDS = frozenset(("layers", "weights", "activation", "input", "target", "loss"))
_FIELD_ORDER = ("layers", "weights", "biases", "activation", "input", "target", "loss")

Array = npt.NDArray[Any]


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
        Shapes (N, n0) and (N, nL): one row per sample.
    loss : Loss
    exact : bool
        True when the arrays hold ``fractions.Fraction`` objects.
    batched : bool
        Whether the spec gave a mini-batch (lists of samples), even of one.
    """

    layers: tuple[int, ...]
    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    activations: tuple[Activation, ...]
    input: Array
    target: Array
    loss: Loss
    exact: bool = False
    batched: bool = False

    @property
    def depth(self) -> int:
        """Number of non-input layers, L."""
        return len(self.layers) - 1

    @property
    def samples(self) -> int:
        """N, the samples of the mini-batch (1 for one sample)."""
        return int(self.input.shape[0])

    @property
    def shape_key(self) -> tuple[Any, ...]:
        """What networks must share to be stacked into one batch."""
        return (self.layers, self.activations, self.loss, self.exact, self.samples,
                self.batched)

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical spec: every field present, numbers normalised."""
        number = exact_str if self.exact else float
        return {
            "layers": list(self.layers),
            "weights": [[[number(v) for v in row] for row in w] for w in self.weights],
            "biases": [[number(v) for v in b] for b in self.biases],
            "activation": [a.to_json() for a in self.activations],
            "input": _rows(self.input, number, self.batched),
            "target": _rows(self.target, number, self.batched),
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
    activations = check_activation(spec["activation"], depth, exact=exact)
    loss = parse_loss(spec["loss"])
    if exact:
        _check_rational(activations, loss)
    number: Reader = exact_number if exact else float_number
    matrices = _check_list_len(spec["weights"], "weights", depth, "one matrix per non-input layer")
    weights = tuple(
        read_matrix(spec["weights"][l], f"weights[{l}]", (layers[l + 1], layers[l]), number)
        for l in matrices
    )
    if spec.get("biases") is None:
        zero: Any = Fraction(0) if exact else 0.0
        biases = tuple(full(size, zero, exact) for size in layers[1:])
    else:
        _check_list_len(spec["biases"], "biases", depth, "one vector per non-input layer")
        biases = tuple(read_vector(spec["biases"][l], f"biases[{l}]", layers[l + 1], number)
                       for l in range(depth))
    inputs, targets, batched = _samples(spec["input"], spec["target"], layers, number)
    return Network(
        layers=layers,
        weights=weights,
        biases=biases,
        activations=activations,
        input=inputs,
        target=targets,
        loss=loss,
        exact=exact,
        batched=batched,
    )


def _samples(
    given: Any, wanted: Any, layers: tuple[int, ...], number: Reader
) -> tuple[Array, Array, bool]:
    """``input`` and ``target`` as (N, n0) and (N, nL), and whether they were a mini-batch."""
    if not _is_batch(given):
        if _is_batch(wanted):
            raise SpecError("target", f"expected {layers[-1]} numbers (input is one sample), "
                            f"got {len(wanted)} rows")
        inputs = read_vector(given, "input", layers[0], number)[None, :]
        targets = read_vector(wanted, "target", layers[-1], number)[None, :]
        return inputs, targets, False
    count = len(given)
    if count > MAX_SAMPLES:
        raise SpecError("input", f"expected at most {MAX_SAMPLES} samples, got {count}")
    if not _is_batch(wanted) or len(wanted) != count:
        shown = f"{len(wanted)} rows" if _is_batch(wanted) else "one sample's numbers"
        raise SpecError("target", f"expected {count} rows of {layers[-1]} numbers (one per "
                        f"sample of input), got {shown}")
    return (_rows_of(given, "input", count, layers[0], number),
            _rows_of(wanted, "target", count, layers[-1], number), True)


def _rows_of(rows: Any, field: str, count: int, width: int, number: Reader) -> Array:
    """A mini-batch's (count, width) rows; a row of the wrong length is named."""
    if isinstance(rows, np.ndarray):
        return read_matrix(rows, field, (count, width), number)
    if shape_of(rows) != (count, width):
        for n, row in enumerate(rows):
            read_vector(row, f"{field}[{n}]", width, number)
    return read_numbers(rows, field, (count, width), number)


def _is_batch(value: Any) -> bool:
    """Whether ``input`` (or ``target``) is a list of samples rather than one sample."""
    if isinstance(value, np.ndarray):
        return value.ndim == 2
    # Any row makes it a mini-batch, so that a number among rows is named as input[i].
    return isinstance(value, list | tuple) and any(
        isinstance(row, list | tuple | np.ndarray) for row in value)


def _rows(array: Array, number: Callable[[Any], Any], batched: bool) -> Any:
    rows = [[number(v) for v in row] for row in array]
    return rows if batched else rows[0]


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


def check_activation(
    activation: Any, depth: int, *, exact: bool = False
) -> tuple[Activation, ...]:
    """Read ``activation``: one for every layer, or a list of ``depth``, each a name or an
    object (``{"name": "leaky_relu", "slope": 0.2}``).

    Raises
    ------
    SpecError
        Naming ``activation`` or ``activation[l]`` (``activation[l].slope``).
    """
    if isinstance(activation, str | dict):
        return (parse_activation(activation, "activation", exact=exact),) * depth
    if not isinstance(activation, list | tuple):
        raise SpecError("activation", "expected a name, an object or a list of them, got "
                        f"{kind(activation)}")
    if len(activation) != depth:
        raise SpecError(
            "activation",
            f"expected one name or a list of {depth} names (one per non-input layer), "
            f"got a list of {len(activation)}",
        )
    return tuple(parse_activation(value, f"activation[{l}]", exact=exact)
                 for l, value in enumerate(activation))


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
