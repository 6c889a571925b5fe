"""Layers of a model as a network spec: what the ONNX and PyTorch readers share.

A model read from a file or a module is a list of :class:`Layer` (weights, biases,
activation); :func:`build_spec` turns it, with the samples and the loss when they
are given, into the JSON-ready spec of docs/CONTRACT.md sections 1 and 10, and
checks it as :func:`worker.engine.spec.parse_spec` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import SpecError, kind
from .spec import check_layers, parse_spec

__all__ = ["Layer", "as_samples", "build_spec"]

Array = npt.NDArray[Any]


@dataclass(frozen=True, eq=False)
class Layer:
    """One fully connected layer of a model.

    Attributes
    ----------
    weights : ndarray
        (n_out, n_in), row = destination neuron, as in a spec.
    biases : ndarray or None
        (n_out,), or None for a layer without bias.
    activation : str or dict
        As a spec writes it: ``"relu"``, ``{"name": "leaky_relu", "slope": 0.2}``.
    """

    weights: Array
    biases: Array | None
    activation: Any

    def __repr__(self) -> str:
        return f"Layer({self.weights.shape[1]} -> {self.weights.shape[0]}, {self.activation})"


def build_spec(
    layers: list[Layer], *, input: Any = None, target: Any = None, loss: str | None = None,
    flatten: bool = False,
) -> dict[str, Any]:
    """Return the spec of a model's layers, with ``input``, ``target`` and ``loss`` if given.

    Parameters
    ----------
    layers : list of Layer
    input, target : array-like, optional
        Given together: one sample, or N rows (a model that flattens its input also
        takes N samples of any shape). NumPy arrays, nested lists, or anything with
        a ``numpy()`` method after ``detach()`` (a PyTorch tensor).
    loss : str, optional
    flatten : bool
        Whether the model starts by flattening each sample.

    Raises
    ------
    SpecError
        Naming ``input``, ``target`` or ``loss``.
    """
    sizes = [int(layers[0].weights.shape[1]), *(int(layer.weights.shape[0]) for layer in layers)]
    check_layers(sizes)
    spec: dict[str, Any] = {
        "layers": sizes,
        "weights": [layer.weights.tolist() for layer in layers],
        "activation": [layer.activation for layer in layers],
    }
    if any(layer.biases is not None for layer in layers):
        spec["biases"] = [(layer.biases if layer.biases is not None
                           else np.zeros(layer.weights.shape[0])).tolist() for layer in layers]
    if (input is None) != (target is None):
        missing = "target" if target is None else "input"
        raise SpecError(missing, "required with the other: give input and target together")
    if input is not None:
        spec["input"] = as_samples(input, "input", sizes[0], flatten)
        spec["target"] = _targets(target, spec["input"], sizes[-1], loss)
    if loss is not None:
        spec["loss"] = loss
    if input is not None:
        # Names the field of anything wrong, as analyze would (a loss is checked if given).
        parse_spec({**spec, "loss": "half_sse" if loss is None else loss})
    return spec


def as_samples(value: Any, field: str, width: int, flatten: bool = False) -> Any:
    """One sample (a list of numbers) or a mini-batch (a list of rows), as JSON lists.

    Raises
    ------
    SpecError
        For anything that is not numbers of one of those shapes, naming ``field``.
    """
    array = _numbers(value, field)
    if array.ndim > 2 and flatten:
        array = array.reshape(array.shape[0], -1)
    if array.ndim not in (1, 2):
        raise SpecError(field, f"expected {width} numbers or rows of {width} numbers (one per "
                        f"sample), got an array of shape {array.shape}")
    if array.shape[-1] != width:
        what = "numbers" if array.ndim == 1 else f"numbers per row ({array.shape[0]} rows)"
        raise SpecError(field, f"expected {width} numbers per sample, got {array.shape[-1]} "
                        f"{what}")
    if not np.isfinite(array).all():
        raise SpecError(field, "expected finite numbers, got a NaN or an infinity")
    return array.tolist()


def _targets(value: Any, samples: Any, width: int, loss: str | None) -> Any:
    array = _numbers(value, "target")
    rows = len(samples) if samples and isinstance(samples[0], list) else None
    if rows is not None and array.ndim == 1 and len(array) == rows and width > 1:
        hint = (" (class labels? softmax_cross_entropy takes one-hot rows: "
                "numpy.eye(K)[labels])" if loss == "softmax_cross_entropy" else "")
        raise SpecError("target", f"expected {rows} rows of {width} numbers, got {rows} "
                        f"numbers{hint}")
    result = as_samples(array, "target", width)
    if rows is not None and (not result or not isinstance(result[0], list) or len(result) != rows):
        got = f"{len(result)} rows" if result and isinstance(result[0], list) else "one sample"
        raise SpecError("target", f"expected {rows} rows (one per sample of input), got {got}")
    return result


def _numbers(value: Any, field: str) -> Array:
    """``value`` as a float64 array: NumPy arrays, nested lists, tensors."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a PyTorch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nested lists
        raise SpecError(field, "expected rows of equal length, got a ragged list") from None
    if array.dtype.kind not in "fiu":
        what = {"U": "strings", "S": "bytes", "b": "booleans"}.get(
            array.dtype.kind, "values that are not all numbers")
        raise SpecError(field, f"expected numbers, got {kind(value)} of {what}")
    return array.astype(np.float64)
