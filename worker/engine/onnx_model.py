"""ONNX models in: a chain of fully connected layers read into a network spec.

:func:`from_onnx` parses an ONNX file's protobuf with the ``onnx`` package and reads
its graph as a chain (docs/CONTRACT.md section 10): ``Gemm`` (``transB`` either way,
``alpha`` and ``beta`` folded into the weights and biases) or ``MatMul`` with an
optional ``Add`` of the bias, each followed by at most one of ``Relu``,
``LeakyRelu`` (its ``alpha`` as the model stores it: float32 0.2 is
0.20000000298...), ``Sigmoid`` or ``Tanh``; ``Identity`` anywhere and a leading
``Flatten``. Weights come from initializers (or ``Constant`` nodes). Anything else
is refused, naming the operator and its node. Nothing in the file is executed, and
weights stored in external files are not read (a model names its files itself).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .errors import ModelError
from .layered import Layer, build_spec

if TYPE_CHECKING:
    import onnx

__all__ = ["MAX_MODEL_BYTES", "from_onnx", "read_onnx"]

Array = npt.NDArray[Any]

#: The largest model file read, in bytes.
MAX_MODEL_BYTES = 256 * 1024 * 1024
# The default-domain opsets whose Gemm, MatMul, Add, Flatten and activations mean what
# this module reads (opset 7 dropped Gemm's "broadcast" attribute).
_FIRST_OPSET = 7
_ACTIVATIONS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "Sigmoid": "sigmoid",
                "Tanh": "tanh"}
_SUPPORTED = ("chains of Gemm, or MatMul with an optional Add, with Relu, LeakyRelu, "
              "Sigmoid, Tanh or none between them; Identity, and a leading Flatten")


def from_onnx(
    model: str | os.PathLike[str] | bytes,
    input: Any = None,
    target: Any = None,
    loss: str | None = None,
) -> dict[str, Any]:
    """Read an ONNX model into a network spec (docs/CONTRACT.md section 10).

    Parameters
    ----------
    model : str, path or bytes
        The ``.onnx`` file, or its contents.
    input, target : array-like, optional
        One sample (n0 numbers) or a mini-batch (N rows); a model that starts with
        ``Flatten`` also takes N samples of any shape (``(N, 1, 28, 28)``).
        ``target`` has nL numbers per sample (``softmax_cross_entropy``: one-hot
        rows or probabilities).
    loss : str, optional
        A loss name of docs/CONTRACT.md section 1.

    Returns
    -------
    dict
        The spec, JSON-ready (lists of floats); ``input``, ``target`` and ``loss``
        only when given.

    Raises
    ------
    ModelError
        For a file that is not ONNX, is cut short, is over :data:`MAX_MODEL_BYTES`,
        or holds an operator outside the chain (named with its node).
    SpecError
        For an ``input`` or ``target`` of the wrong shape, or an unknown ``loss``.
    """
    layers, flattened = read_onnx(_model_bytes(model))
    return build_spec(layers, input=input, target=target, loss=loss, flatten=flattened)


def _model_bytes(model: str | os.PathLike[str] | bytes) -> bytes:
    if isinstance(model, bytes | bytearray | memoryview):
        data = bytes(model)
    else:
        try:
            size = os.path.getsize(model)
            if size > MAX_MODEL_BYTES:
                raise ModelError(_too_large(size))
            with open(model, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise ModelError(f"cannot read {os.fspath(model)}: {error.strerror}") from None
    if len(data) > MAX_MODEL_BYTES:
        raise ModelError(_too_large(len(data)))
    return data


def _too_large(size: int) -> str:
    return f"the model is {size} bytes, over the limit of {MAX_MODEL_BYTES} bytes"


def read_onnx(data: bytes) -> tuple[list[Layer], bool]:
    """Read an ONNX model's bytes into its layers, and whether it starts with ``Flatten``.

    Raises
    ------
    ModelError
        As :func:`from_onnx`.
    """
    _check_pickle(data)
    proto = _parse(data)
    _check_opsets(proto)
    graph = proto.graph
    constants = _initializers(graph)
    inputs = [value.name for value in graph.input if value.name not in constants]
    if len(inputs) != 1:
        raise ModelError(f"expected a graph with one input (the samples), got {len(inputs)}: "
                         f"{', '.join(inputs) or 'none'}")
    chain = _Chain(current=inputs[0], constants=constants)
    for node in graph.node:
        chain.read(node)
    outputs = [value.name for value in graph.output]
    if outputs != [chain.current]:
        raise ModelError(f"expected one graph output, the chain's last tensor "
                         f"{chain.current!r}; got {', '.join(outputs) or 'none'}")
    return chain.finish(), chain.flattened


def _check_pickle(data: bytes) -> None:
    """Refuse PyTorch's files by their first bytes: they are pickles (or zips of them)."""
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise ModelError(
            "this is a PyTorch file (a pickle), and pathgrad never unpickles: export the "
            "model with torch.onnx.export, or call pathgrad.from_torch(module, ...) on the "
            "module built in Python (a state_dict loaded into its architecture)")


def _parse(data: bytes) -> onnx.ModelProto:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError):
        raise ModelError("not an ONNX model (its protobuf does not parse: a different "
                         "file, or one cut short)") from None
    if not proto.HasField("graph") or not proto.graph.node:
        raise ModelError("not an ONNX model (no graph of nodes in it)")
    return proto


def _check_opsets(proto: onnx.ModelProto) -> None:
    for opset in proto.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < _FIRST_OPSET:
            raise ModelError(f"opset {opset.version} is older than {_FIRST_OPSET}, where "
                             "Gemm took a broadcast attribute; export with a newer opset")


def _initializers(graph: onnx.GraphProto) -> dict[str, Array]:
    found = {tensor.name: _tensor(tensor, f"initializer {tensor.name!r}")
             for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is None:
                raise ModelError(f"node {node.name!r}: a Constant without a tensor value "
                                 "is not supported")
            found[node.output[0]] = _tensor(value.t, f"node {node.name!r}")
    return found


def _tensor(tensor: onnx.TensorProto, where: str) -> Array:
    from onnx import TensorProto, numpy_helper

    if tensor.data_location == TensorProto.EXTERNAL:
        raise ModelError(f"{where}: weights stored in an external file are not read; save "
                         "the model with its weights inside (onnx.save_model with "
                         "save_as_external_data=False)")
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, RuntimeError):
        raise ModelError(f"{where}: its data does not match its shape") from None
    if array.dtype.kind not in "fiu":
        raise ModelError(f"{where}: expected numbers, got {array.dtype} data")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise ModelError(f"{where}: holds a NaN or infinite number")
    return values


@dataclass
class _Chain:
    """The chain read so far: the layers, and the tensor that carries the samples on."""

    current: str
    constants: Mapping[str, Array]
    layers: list[Layer] = field(default_factory=list)
    flattened: bool = False
    # A MatMul's product waiting for its Add (the bias), or for what follows it.
    open: bool = False

    def read(self, node: onnx.NodeProto) -> None:
        where = f"node {node.name or '(unnamed)'!r}"
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            return  # read with the initializers
        if node.domain not in ("", "ai.onnx"):
            raise ModelError(f"{where}: operator {node.domain}.{node.op_type} is not "
                             f"supported; pathgrad reads {_SUPPORTED}")
        data = [name for name in node.input if name and name not in self.constants]
        if data != [self.current]:
            raise ModelError(f"{where} ({node.op_type}): expected it to take the chain's "
                             f"tensor {self.current!r} alone; it takes "
                             f"{', '.join(data) or 'only constants'} (pathgrad reads {_SUPPORTED})")
        reader = getattr(self, f"_{node.op_type.lower()}", None)
        if reader is None or node.op_type not in _OPERATORS:
            hint = (" (a final Softmax belongs in the loss: export the logits and use loss "
                    "softmax_cross_entropy)" if node.op_type in ("Softmax", "LogSoftmax")
                    else "")
            raise ModelError(f"{where}: operator {node.op_type} is not supported{hint}; "
                             f"pathgrad reads {_SUPPORTED}")
        reader(node, where, _attributes(node))
        self.current = node.output[0]

    def _identity(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        pass

    def _flatten(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        if self.layers or self.flattened:
            raise ModelError(f"{where}: a Flatten is read only before the first layer")
        if attrs.get("axis", 1) != 1:
            raise ModelError(f"{where}: Flatten with axis {attrs['axis']} is not supported "
                             "(only axis 1: one row per sample)")
        self.flattened = True

    def _gemm(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        if attrs.get("transA", 0):
            raise ModelError(f"{where}: Gemm with transA is not supported (the samples "
                             "must be rows)")
        b = self._constant(node, 1, where, "B")
        if b.ndim != 2:
            raise ModelError(f"{where}: expected a 2-D weight B, got shape {b.shape}")
        weights = (b if attrs.get("transB", 0) else b.T) * float(attrs.get("alpha", 1.0))
        biases = None
        if len(node.input) > 2 and node.input[2]:
            biases = self._bias(self._constant(node, 2, where, "C"), weights.shape[0], where)
            biases = biases * float(attrs.get("beta", 1.0))
        self._add_layer(Layer(weights, biases, "identity"), where)

    def _matmul(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        if node.input[0] != self.current:
            raise ModelError(f"{where}: expected MatMul(samples, weights), got the weights "
                             "first")
        b = self._constant(node, 1, where, "B")
        if b.ndim != 2:
            raise ModelError(f"{where}: expected a 2-D weight matrix, got shape {b.shape}")
        self._add_layer(Layer(b.T, None, "identity"), where)
        self.open = True

    def _add(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        if not self.open:
            raise ModelError(f"{where}: an Add is read only as the bias of a MatMul just "
                             "before it")
        name = next(n for n in node.input if n != self.current)
        layer = self.layers[-1]
        biases = self._bias(self.constants[name], layer.weights.shape[0], where)
        self.layers[-1] = Layer(layer.weights, biases, layer.activation)
        self.open = False

    def _relu(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        self._activate(node, where, "relu")

    def _leakyrelu(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        # ONNX stores alpha as a float32; its float64 value is what the model computes with.
        slope = float(attrs.get("alpha", np.float32(0.01)))
        self._activate(node, where, {"name": "leaky_relu", "slope": slope})

    def _sigmoid(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        self._activate(node, where, "sigmoid")

    def _tanh(self, node: onnx.NodeProto, where: str, attrs: dict[str, Any]) -> None:
        self._activate(node, where, "tanh")

    def _activate(self, node: onnx.NodeProto, where: str, activation: Any) -> None:
        if not self.layers:
            raise ModelError(f"{where}: {node.op_type} before the first Gemm or MatMul is "
                             "not supported (an activation follows a layer)")
        layer = self.layers[-1]
        if layer.activation != "identity":
            raise ModelError(f"{where}: a second activation ({node.op_type}) on one layer "
                             "is not supported")
        self.layers[-1] = Layer(layer.weights, layer.biases, activation)
        self.open = False

    def _add_layer(self, layer: Layer, where: str) -> None:
        if self.layers and self.layers[-1].weights.shape[0] != layer.weights.shape[1]:
            raise ModelError(f"{where}: takes {layer.weights.shape[1]} numbers per sample, "
                             f"but the layer before it gives {self.layers[-1].weights.shape[0]}")
        self.layers.append(layer)
        self.open = False

    def _constant(self, node: onnx.NodeProto, index: int, where: str, what: str) -> Array:
        name = node.input[index] if len(node.input) > index else ""
        if name not in self.constants:
            raise ModelError(f"{where}: expected {what} to be an initializer (the model's "
                             f"weights), got {name or 'nothing'}")
        return self.constants[name]

    def _bias(self, values: Array, size: int, where: str) -> Array:
        if values.size == 1:
            return np.full(size, float(values.reshape(-1)[0]))
        if values.shape not in ((size,), (1, size)):
            raise ModelError(f"{where}: expected a bias of {size} numbers, got shape "
                             f"{values.shape}")
        return values.reshape(size)

    def finish(self) -> list[Layer]:
        if not self.layers:
            raise ModelError("the model has no Gemm or MatMul layer")
        return self.layers


_OPERATORS = frozenset(("Identity", "Flatten", "Gemm", "MatMul", "Add", *_ACTIVATIONS))


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    from onnx import helper

    return {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}
