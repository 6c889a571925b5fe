"""The network spec: parsing, validation and the names of everything in it.

A spec is the JSON object of CONTRACT.md section 1. :func:`parse_spec` checks
every field and turns it into a :class:`Network`; :class:`Names` gives the
seed question's names (``X1``, ``H4``, ``Out``, ``W13``, ``b_H1``) for a
network's layer sizes.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import ExactArithmeticError, OptionError, SpecError

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_MAX_PATHS",
    "LOSSES",
    "Names",
    "Network",
    "Options",
    "REQUIRED_FIELDS",
    "SPEC_FIELDS",
    "SUBGRADIENTS",
    "as_float",
    "brief",
    "check_activation",
    "check_layers",
    "is_finite_number",
    "parse_fraction",
    "parse_options",
    "parse_spec",
]

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
LOSSES = ("l1", "mse", "half_sse", "softmax_cross_entropy")
SUBGRADIENTS = ("min_norm", "left", "right")
ARITHMETICS = ("float", "exact")
RATIONAL_ACTIVATIONS = ("identity", "relu", "leaky_relu")
RATIONAL_LOSSES = ("l1", "mse", "half_sse")
DEFAULT_MAX_PATHS = 10**9
MAX_LAYER_SIZE = 100_000
MAX_DEPTH = 1_000

# Exact numbers: 10**1000 is a 3,300-bit integer, still cheap; 10**(10**9) is not.
MAX_EXACT_EXPONENT = 1000
MAX_EXACT_CHARS = 1000
_EXPONENT = re.compile(r"[eE]\s*([+-]?\s*\d+)")

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
    activations : tuple of str
        One name per non-input layer.
    input, target : ndarray
        Shapes (n0,) and (nL,).
    loss : str
    exact : bool
        True when the arrays hold ``fractions.Fraction`` objects.
    """

    layers: tuple[int, ...]
    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    activations: tuple[str, ...]
    input: Array
    target: Array
    loss: str
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
        number = _exact_str if self.exact else float
        return {
            "layers": list(self.layers),
            "weights": [[[number(v) for v in row] for row in w] for w in self.weights],
            "biases": [[number(v) for v in b] for b in self.biases],
            "activation": list(self.activations),
            "input": [number(v) for v in self.input],
            "target": [number(v) for v in self.target],
            "loss": self.loss,
        }

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "float"
        acts = ",".join(sorted(set(self.activations)))
        return f"Network(layers={list(self.layers)}, activation={acts}, loss={self.loss}, {kind})"


@dataclass(frozen=True)
class Options:
    """Analysis options (CONTRACT.md section 1, "Options").

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


class Names:
    """The seed question's names for a network with the given layer sizes.

    Parameters
    ----------
    layers : tuple of int
        Sizes n0 ... nL.

    Examples
    --------
    >>> names = Names.of((2, 3, 2, 1))
    >>> names.nodes[1], names.nodes[3], names.weights[1][0][0], names.weights[2][0]
    (['H1', 'H2', 'H3'], ['Out'], 'W7', ['W13', 'W14'])
    """

    def __init__(self, layers: tuple[int, ...]) -> None:
        self.layers = layers
        depth = len(layers) - 1
        nodes: list[list[str]] = [[f"X{i + 1}" for i in range(layers[0])]]
        hidden = 0
        for size in layers[1:depth]:
            nodes.append([f"H{hidden + i + 1}" for i in range(size)])
            hidden += size
        outputs = layers[depth]
        nodes.append(["Out"] if outputs == 1 else [f"Out{k + 1}" for k in range(outputs)])
        self.nodes = nodes
        self.targets = ["Y"] if outputs == 1 else [f"Y{k + 1}" for k in range(outputs)]
        # weights[l][i][j]: edge from node j of layer l to node i of layer l+1.
        self.weights: list[list[list[str]]] = []
        self.weight_offsets: list[int] = []
        count = 0
        for src, dst in zip(layers[:-1], layers[1:], strict=True):
            self.weight_offsets.append(count)
            self.weights.append(
                [[f"W{count + i * src + j + 1}" for j in range(src)] for i in range(dst)]
            )
            count += src * dst
        self.weight_count = count
        self.biases = [[f"b_{name}" for name in layer] for layer in nodes[1:]]

    @staticmethod
    @lru_cache(maxsize=256)
    def of(layers: tuple[int, ...]) -> Names:
        """Return the (cached) names for these layer sizes."""
        return Names(layers)

    def locate(self, weight: str) -> tuple[int, int, int]:
        """Return ``(l, i, j)`` for a weight name: layer l (1-based), row i, column j.

        Raises
        ------
        UnknownWeightError
            If the name is not a weight of this network.
        """
        from .errors import UnknownWeightError

        number = _weight_number(weight)
        if number is None or not 1 <= number <= self.weight_count:
            raise UnknownWeightError(
                "weight",
                f"expected a weight name W1..W{self.weight_count}, got {brief(weight)}",
            )
        index = number - 1
        for l, offset in reversed(list(enumerate(self.weight_offsets, start=1))):
            if index >= offset:
                src = self.layers[l - 1]
                row, col = divmod(index - offset, src)
                return l, row, col
        raise AssertionError("unreachable: weight offsets start at 0")

    def __repr__(self) -> str:
        return f"Names(layers={list(self.layers)})"


def _weight_number(name: str) -> int | None:
    digits = name[1:] if isinstance(name, str) and name.startswith("W") else ""
    # ASCII digits without a leading zero: W01 or W１ is not the name W1. No network has
    # 10**20 weights: a longer number is no weight's (and int() of 5,000 digits raises).
    if not (digits.isascii() and digits.isdigit()) or digits.startswith("0") \
            or len(digits) > _MAX_WEIGHT_DIGITS:
        return None
    return int(digits)


_MAX_WEIGHT_DIGITS = 20


# --- options -----------------------------------------------------------------------------


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


# --- the spec ----------------------------------------------------------------------------


def parse_spec(spec: Any, *, exact: bool = False) -> Network:
    """Validate a network spec and convert it to arrays.

    Parameters
    ----------
    spec : mapping
        The JSON object of CONTRACT.md section 1.
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
        raise SpecError("network", f"expected a JSON object, got {_kind(spec)}")
    for key in spec:
        if key not in SPEC_FIELDS:
            raise SpecError(str(key), f"unknown field; expected one of {', '.join(_FIELD_ORDER)}")
    for key in _FIELD_ORDER:
        if key not in REQUIRED_FIELDS:
            continue
        if key not in spec:
            raise SpecError(key, "required field is missing")
    layers = check_layers(spec["layers"])
    depth = len(layers) - 1
    activations = check_activation(spec["activation"], depth)
    loss = spec["loss"]
    if loss not in LOSSES:
        raise SpecError("loss", f"expected one of {', '.join(LOSSES)}, got {loss!r}")
    if exact:
        _check_rational(activations, loss)
    number = _exact_number if exact else _float_number
    weights = tuple(
        _matrix(spec["weights"], l, layers, number) for l in _check_list_len(
            spec["weights"], "weights", depth, "one matrix per non-input layer")
    )
    if spec.get("biases") is None:
        zero: Any = Fraction(0) if exact else 0.0
        biases = tuple(_full(size, zero, exact) for size in layers[1:])
    else:
        _check_list_len(spec["biases"], "biases", depth, "one vector per non-input layer")
        biases = tuple(
            _vector(spec["biases"][l], f"biases[{l}]", layers[l + 1], number)
            for l in range(depth)
        )
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
    if not isinstance(layers, list) or len(layers) < 2:
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


def check_activation(activation: Any, depth: int) -> tuple[str, ...]:
    if isinstance(activation, str):
        names = [activation] * depth
        fields = ["activation"] * depth
    elif isinstance(activation, list):
        if len(activation) != depth:
            raise SpecError(
                "activation",
                f"expected one name or a list of {depth} names (one per non-input layer), "
                f"got a list of {len(activation)}",
            )
        names = activation
        fields = [f"activation[{l}]" for l in range(depth)]
    else:
        raise SpecError(
            "activation", f"expected a name or a list of names, got {_kind(activation)}"
        )
    for name, field in zip(names, fields, strict=True):
        if name not in ACTIVATIONS:
            raise SpecError(field, f"expected one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return tuple(names)


def _check_rational(activations: tuple[str, ...], loss: str) -> None:
    for l, name in enumerate(activations):
        if name not in RATIONAL_ACTIVATIONS:
            raise ExactArithmeticError(
                "activation" if len(set(activations)) == 1 else f"activation[{l}]",
                f"{name} is not rational; arithmetic 'exact' supports "
                f"{', '.join(RATIONAL_ACTIVATIONS)} (use arithmetic 'float')",
            )
    if loss not in RATIONAL_LOSSES:
        raise ExactArithmeticError(
            "loss",
            f"{loss} is not rational; arithmetic 'exact' supports "
            f"{', '.join(RATIONAL_LOSSES)} (use arithmetic 'float')",
        )


def _check_list_len(value: Any, field: str, length: int, what: str) -> range:
    if not isinstance(value, list):
        raise SpecError(field, f"expected a list ({what}), got {_kind(value)}")
    if len(value) != length:
        raise SpecError(field, f"expected {length} entries ({what}), got {len(value)}")
    return range(length)


def _matrix(weights: list[Any], l: int, layers: tuple[int, ...], number: Any) -> Array:
    field = f"weights[{l}]"
    rows, cols = layers[l + 1], layers[l]
    matrix = weights[l]
    got = _shape_of(matrix)
    if got != (rows, cols):
        shown = _kind(matrix) if not isinstance(matrix, list) else (
            "a ragged list" if got is None else str(got))
        raise SpecError(field, f"expected shape ({rows}, {cols}), got {shown}")
    values = [number(v, f"{field}[{i}][{j}]") for i, row in enumerate(matrix)
              for j, v in enumerate(row)]
    return _array(values, (rows, cols), number is _exact_number)


def _vector(vector: Any, field: str, size: int, number: Any) -> Array:
    if not isinstance(vector, list):
        raise SpecError(field, f"expected a list of {size} numbers, got {_kind(vector)}")
    if len(vector) != size:
        raise SpecError(field, f"expected {size} numbers, got {len(vector)}")
    values = [number(v, f"{field}[{i}]") for i, v in enumerate(vector)]
    return _array(values, (size,), number is _exact_number)


def _array(values: list[Any], shape: tuple[int, ...], exact: bool) -> Array:
    if exact:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out.reshape(shape)
    return np.array(values, dtype=np.float64).reshape(shape)


def _full(size: int, value: Any, exact: bool) -> Array:
    return _array([value] * size, (size,), exact)


def _shape_of(matrix: Any) -> tuple[int, ...] | None:
    """Return (rows, cols) of a list of equal-length lists, else None (or (rows,) for flat)."""
    if not isinstance(matrix, list):
        return None
    if not all(isinstance(row, list) for row in matrix):
        return (len(matrix),) if not any(isinstance(row, list) for row in matrix) else None
    lengths = {len(row) for row in matrix}
    if len(lengths) > 1:
        return None
    return (len(matrix), lengths.pop() if lengths else 0)


def _float_number(value: Any, field: str) -> float:
    kind = type(value)
    if kind is float or isinstance(value, np.floating):
        if math.isfinite(value):
            return float(value)
        raise SpecError(field, f"expected a finite number, got {value!r}")
    if kind is int or isinstance(value, np.integer):
        try:
            return float(value)
        except OverflowError:
            raise SpecError(
                field, "expected a number within float64 range, got a huge integer"
            ) from None
    if kind is str:
        raise SpecError(
            field,
            f"expected a number, got the string {value!r} "
            "(strings such as \"1/3\" are allowed only with arithmetic 'exact')",
        )
    raise SpecError(field, f"expected a number, got {_kind(value)}")


def _exact_number(value: Any, field: str) -> Fraction:
    kind = type(value)
    if kind is int or kind is Fraction or isinstance(value, np.integer):
        return Fraction(int(value) if isinstance(value, np.integer) else value)
    if kind is float or isinstance(value, np.floating):
        if not math.isfinite(value):
            raise SpecError(field, f"expected a finite number, got {value!r}")
        # A JSON 0.1 means one tenth: take the shortest decimal repr, not the binary value.
        return Fraction(repr(float(value)))
    if kind is str:
        try:
            return parse_fraction(value)
        except ValueError as error:
            raise SpecError(
                field, f"expected an exact number such as \"3\", \"-0.25\" or \"1/3\", "
                f"got {brief(value)}{_reason(error)}") from None
    raise SpecError(field, f"expected a number or a numeric string, got {_kind(value)}")


def parse_fraction(text: str) -> Fraction:
    """Read an integer, decimal or fraction string exactly, refusing absurd sizes.

    ``Fraction("1e999999999")`` would build a billion-digit integer: exponents
    beyond :data:`MAX_EXACT_EXPONENT` and strings over :data:`MAX_EXACT_CHARS`
    are refused instead.

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
    """Whether ``value`` is a JSON number (not a boolean) that float64 holds finitely.

    Examples
    --------
    >>> is_finite_number(0.5), is_finite_number(10**400), is_finite_number(True)
    (True, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # An int is compared exactly (math.isfinite would raise OverflowError on 10**400).
    return abs(value) <= sys.float_info.max if isinstance(value, int) else math.isfinite(value)


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


def _exact_str(value: Any) -> str:
    return str(Fraction(value))


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             type(None): "null", int: "an integer", float: "a number"}
    return names.get(type(value), type(value).__name__)


def brief(value: Any) -> str:
    """``repr(value)``, cut to 40 characters: what an error message may echo of an input."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
