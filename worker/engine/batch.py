"""Batches: networks of one shape stacked along a leading axis, and parsing many specs at once.

:func:`parse_batches` validates a list of specs and groups them by shape. Specs
of one shape are converted with one ``np.array`` call per field; only when that
fast check finds a problem is each spec parsed on its own, to name the field.

Every network holds N >= 1 samples (docs/CONTRACT.md section 10): a batch's inputs and
targets carry a sample axis after the network axis, shared by every network of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .activations import Activation
from .arrays import float_array
from .errors import PathgradError
from .losses import LOSSES, Loss, parse_loss
from .spec import (
    REQUIRED_FIELDS,
    SPEC_FIELDS,
    Network,
    check_activation,
    check_layers,
    parse_spec,
)

__all__ = ["PACKED", "Batch", "pack", "parse_batches", "prefixed", "stack", "take", "unpack"]

Array = npt.NDArray[Any]

#: What packed batches (:func:`pack`) start with.
PACKED = b"pathgrad-batches/1\n"


@dataclass(frozen=True, eq=False)
class Batch:
    """Networks of one shape stacked along a leading axis B.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l-1]`` has shape (B, n_l, n_{l-1}).
    biases : list of ndarray
        ``biases[l-1]`` has shape (B, n_l).
    input, target : ndarray
        Shapes (B, N, n0) and (B, N, nL): N samples per network.
    batched : bool
        Whether the specs gave a mini-batch (lists of samples), even of one.
    """

    layers: tuple[int, ...]
    weights: list[Array]
    biases: list[Array]
    activations: tuple[Activation, ...]
    input: Array
    target: Array
    loss: Loss
    exact: bool
    batched: bool = False

    @property
    def size(self) -> int:
        """B, the networks."""
        return int(self.input.shape[0])

    @property
    def samples(self) -> int:
        """N, the samples of every network."""
        return int(self.input.shape[1])

    def __repr__(self) -> str:
        return (f"Batch(size={self.size}, samples={self.samples}, layers={list(self.layers)}, "
                f"loss={self.loss})")


def stack(networks: Sequence[Network]) -> Batch:
    """Stack networks of one shape into a :class:`Batch`.

    Parameters
    ----------
    networks : sequence of Network
        All with the same ``shape_key``.

    Returns
    -------
    Batch
    """
    first = networks[0]
    depth = first.depth
    return Batch(
        layers=first.layers,
        weights=[np.stack([n.weights[l] for n in networks]) for l in range(depth)],
        biases=[np.stack([n.biases[l] for n in networks]) for l in range(depth)],
        activations=first.activations,
        input=np.stack([n.input for n in networks]),
        target=np.stack([n.target for n in networks]),
        loss=first.loss,
        exact=first.exact,
        batched=first.batched,
    )


def take(batch: Batch, rows: Sequence[int]) -> Batch:
    """Return the networks ``rows`` of a batch as a batch of their own, in that order."""
    index = np.asarray(rows, dtype=np.intp)
    return Batch(layers=batch.layers, weights=[w[index] for w in batch.weights],
                 biases=[b[index] for b in batch.biases], activations=batch.activations,
                 input=batch.input[index], target=batch.target[index], loss=batch.loss,
                 exact=batch.exact, batched=batch.batched)


def pack(batches: Sequence[Batch]) -> bytes:
    """Serialise float64 batches: a marker, a JSON header line, then every number.

    For passing parsed networks between processes without JSON: the numbers go as
    raw little-endian float64 (no text to format, parse and validate again), one
    (B, width) matrix per batch: weights, biases, input, target, row-major.

    Raises
    ------
    ValueError
        For an exact batch (its numbers are fractions, not float64).
    """
    if any(batch.exact for batch in batches):
        raise ValueError("exact batches cannot be packed: their numbers are fractions")
    header = [{"layers": list(b.layers), "activations": [a.to_json() for a in b.activations],
               "loss": b.loss.name, "size": b.size, "samples": b.samples,
               "batched": b.batched} for b in batches]
    parts = [PACKED, json.dumps(header).encode(), b"\n"]
    for batch in batches:
        columns = [a.reshape(batch.size, -1) for a in _fields(batch)]
        parts.append(np.concatenate(columns, axis=1).astype("<f8", copy=False).tobytes())
    return b"".join(parts)


def unpack(data: bytes) -> list[Batch]:
    """Read what :func:`pack` wrote.

    Raises
    ------
    ValueError
        When ``data`` is not such a serialisation or is cut short.
    """
    if not data.startswith(PACKED):
        raise ValueError("not packed batches")
    end = data.index(b"\n", len(PACKED))
    offset, batches = end + 1, []
    for group in json.loads(data[len(PACKED):end]):
        layers, size = tuple(int(n) for n in group["layers"]), int(group["size"])
        samples = int(group["samples"])
        shapes = _shapes(layers, samples)
        width = sum(math.prod(shape) for shape in shapes)
        matrix = np.frombuffer(data, dtype="<f8", count=size * width, offset=offset)
        matrix = matrix.astype(np.float64).reshape(size, width)
        offset += matrix.nbytes
        arrays, start = [], 0
        for shape in shapes:
            stop = start + math.prod(shape)
            arrays.append(matrix[:, start:stop].reshape(size, *shape))
            start = stop
        depth = len(layers) - 1
        batches.append(Batch(
            layers=layers, weights=arrays[:depth], biases=arrays[depth:2 * depth],
            activations=check_activation(group["activations"], depth), input=arrays[-2],
            target=arrays[-1], loss=parse_loss(group["loss"]), exact=False,
            batched=bool(group["batched"])))
    if offset != len(data):
        raise ValueError("packed batches: the numbers do not match the header")
    return batches


def _fields(batch: Batch) -> list[Array]:
    return [*batch.weights, *batch.biases, batch.input, batch.target]


def _shapes(layers: tuple[int, ...], samples: int) -> list[tuple[int, ...]]:
    """Shapes of one network's fields, in :func:`_fields` order."""
    pairs = list(zip(layers[:-1], layers[1:], strict=True))
    shapes: list[tuple[int, ...]] = [(n, m) for m, n in pairs]
    return shapes + [(n,) for _, n in pairs] + [(samples, layers[0]), (samples, layers[-1])]


def parse_batches(
    specs: Sequence[Any], *, exact: bool = False
) -> list[tuple[list[int], Batch]]:
    """Validate specs and stack those of one shape into batches.

    Parameters
    ----------
    specs : sequence of dict
        Network specs (docs/CONTRACT.md section 1).
    exact : bool
        Parse numbers as fractions.

    Returns
    -------
    list of (indices, Batch)
        The positions in ``specs`` of each batch's networks, in batch order.

    Raises
    ------
    PathgradError
        The first problem found, its field prefixed ``specs[i].`` when there are
        several specs.
    """
    groups: dict[Any, list[int]] = {}
    for index, spec in enumerate(specs):
        groups.setdefault(_group_key(spec), []).append(index)
    batches: list[tuple[list[int], Batch]] = []
    for key, members in groups.items():
        batch = None if exact or key is None else _fast_batch([specs[i] for i in members], key)
        if batch is not None:
            batches.append((members, batch))
            continue
        by_shape: dict[Any, list[tuple[int, Network]]] = {}
        for index in members:
            try:
                net = parse_spec(specs[index], exact=exact)
            except PathgradError as error:
                raise prefixed(error, index, len(specs)) from None
            by_shape.setdefault(net.shape_key, []).append((index, net))
        for pairs in by_shape.values():
            batches.append(([i for i, _ in pairs], stack([n for _, n in pairs])))
    return batches


def prefixed(error: PathgradError, index: int, count: int) -> PathgradError:
    """Return the error with its field inside ``specs[index]`` when there are many."""
    return error if count == 1 else error.within(f"specs[{index}]")


def _group_key(spec: Any) -> Any:
    """What specs must share to be converted together; None sends a spec to the slow path."""
    try:
        activation = spec["activation"]
        key = (tuple(spec["layers"]), tuple(activation) if isinstance(activation, list)
               else activation, spec["loss"], spec.get("biases") is None)
        hash(key)  # a list or dict where a name belongs: the slow path names the field
    except (TypeError, KeyError, AttributeError):
        return None
    return key


def _fast_batch(specs: list[Any], key: Any) -> Batch | None:
    """Convert specs sharing a key with one array per field; None if anything looks wrong."""
    try:
        return _convert(specs, key)
    except (TypeError, KeyError, IndexError, AttributeError, ValueError):
        return None  # the slow path finds the field and says what is wrong


def _convert(specs: list[Any], key: Any) -> Batch | None:
    layers, _, loss_name, no_biases = key
    if loss_name not in LOSSES or not all(map(SPEC_FIELDS.issuperset, specs)) \
            or not all(map(REQUIRED_FIELDS.issubset, map(dict.keys, specs))):
        return None
    try:
        layers = check_layers(list(layers))
        activations = check_activation(specs[0]["activation"], len(layers) - 1)
    except PathgradError:
        return None
    size, depth = len(specs), len(layers) - 1
    columns = {"input": [spec["input"] for spec in specs],
               "target": [spec["target"] for spec in specs],
               "weights": [spec["weights"] for spec in specs]}
    if not no_biases:
        columns["biases"] = [spec["biases"] for spec in specs]
    if not _lists_of(columns["weights"], depth) or \
            not _lists_of(columns.get("biases", columns["weights"]), depth):
        return None
    # One sample per spec only: a mini-batch (or anything else) takes the slow path.
    input_, target = (float_array(columns[name], (size, n))
                      for name, n in (("input", layers[0]), ("target", layers[-1])))
    per_layer = [list(zip(*columns["weights"], strict=True))]
    if not no_biases:
        per_layer.append(list(zip(*columns["biases"], strict=True)))
    weights = [float_array(list(per_layer[0][l]), (size, layers[l + 1], layers[l]))
               for l in range(depth)]
    if no_biases:
        biases: list[Array | None] = [np.zeros((size, n)) for n in layers[1:]]
    else:
        biases = [float_array(list(per_layer[1][l]), (size, layers[l + 1])) for l in range(depth)]
    arrays = [input_, target, *weights, *biases]
    if any(a is None or not np.isfinite(a).all() for a in arrays):
        return None
    return Batch(layers=layers, weights=weights, biases=biases,  # type: ignore[arg-type]
                 activations=activations, input=input_[:, None, :],  # type: ignore[index]
                 target=target[:, None, :], loss=LOSSES[loss_name],  # type: ignore[index]
                 exact=False)


def _lists_of(values: list[Any], length: int) -> bool:
    """Whether every item of ``values`` is a list of ``length`` items."""
    return set(map(type, values)) == {list} and set(map(len, values)) == {length}
