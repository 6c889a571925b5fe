"""PyTorch modules in: an ``nn.Sequential`` of ``Linear`` and activations as a network spec.

:func:`from_torch` reads a module built in Python (docs/CONTRACT.md section 10):
``Linear`` layers, with bias or not, each followed by at most one of ``ReLU``,
``LeakyReLU`` (its ``negative_slope``), ``Sigmoid`` or ``Tanh``; ``Identity``
anywhere and a leading ``Flatten``. PyTorch is an optional extra
(``pip install 'pathgrad[torch]'``), imported only here and only when called.
Nothing is ever unpickled: a saved model is loaded by its owner into its
architecture (``module.load_state_dict``), then read from the module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ModelError
from .layered import Layer, build_spec

__all__ = ["from_torch"]

_SUPPORTED = ("an nn.Sequential of Linear layers with ReLU, LeakyReLU, Sigmoid, Tanh or none "
              "between them; Identity, and a leading Flatten")


def from_torch(module: Any, input: Any = None, target: Any = None,
               loss: str | None = None) -> dict[str, Any]:
    """Read a PyTorch ``nn.Sequential`` into a network spec.

    Parameters
    ----------
    module : torch.nn.Sequential
    input, target : tensor or array-like, optional
        One sample or a mini-batch of N rows, as for
        :func:`worker.engine.onnx_model.from_onnx`.
    loss : str, optional

    Returns
    -------
    dict
        The spec, JSON-ready, its weights in float64.

    Raises
    ------
    ModelError
        For a module that is not such a chain, naming the first module that is not
        (``module[2] (Dropout)``), or when PyTorch is not installed.
    SpecError
        For an ``input`` or ``target`` of the wrong shape, or an unknown ``loss``.
    """
    try:
        from torch import nn
    except ImportError:
        raise ModelError("PyTorch is not installed: pip install 'pathgrad[torch]'") from None
    if not isinstance(module, nn.Sequential):
        raise ModelError(f"expected {_SUPPORTED}, got {type(module).__name__}", "module")
    layers: list[Layer] = []
    flattened = False
    for name, child in module.named_children():
        where = type(child).__name__
        if isinstance(child, nn.Linear):
            weights = child.weight.detach().cpu().double().numpy().copy()
            biases = None if child.bias is None else \
                child.bias.detach().cpu().double().numpy().copy()
            layers.append(Layer(weights, biases, "identity"))
        elif isinstance(child, nn.Identity):
            continue
        elif isinstance(child, nn.Flatten):
            if layers or child.start_dim != 1 or child.end_dim != -1:
                raise ModelError("a Flatten is read only before the first layer, "
                                 "from dimension 1 on", f"module[{name}]")
            flattened = True
        elif type(child) in _activations(nn):
            if not layers or layers[-1].activation != "identity":
                raise ModelError(f"{where}: an activation is read only once after each "
                                 "Linear", f"module[{name}]")
            last = layers[-1]
            layers[-1] = Layer(last.weights, last.biases, _activation(nn, child))
        else:
            raise ModelError(f"{where} is not supported; pathgrad reads {_SUPPORTED}",
                             f"module[{name}]")
    if not layers:
        raise ModelError("the module has no Linear layer", "module")
    for index, (before, after) in enumerate(zip(layers, layers[1:], strict=False)):
        if before.weights.shape[0] != after.weights.shape[1]:
            raise ModelError(f"Linear layer {index + 2} takes {after.weights.shape[1]} "
                             f"features, but the one before gives {before.weights.shape[0]}",
                             "module")
    for layer in layers:
        if not (np.isfinite(layer.weights).all() and (
                layer.biases is None or np.isfinite(layer.biases).all())):
            raise ModelError("a Linear layer holds a NaN or infinite weight", "module")
    return build_spec(layers, input=input, target=target, loss=loss, flatten=flattened)


def _activations(nn: Any) -> tuple[type, ...]:
    return (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh)


def _activation(nn: Any, child: Any) -> Any:
    if isinstance(child, nn.LeakyReLU):
        return {"name": "leaky_relu", "slope": float(child.negative_slope)}
    return {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}[type(child)]
