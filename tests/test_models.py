"""Real models in (docs/CONTRACT.md section 10): PyTorch modules and ONNX files as specs.

PyTorch's autograd (float64) is the reference: a module read by ``from_torch``, or
exported by ``torch.onnx.export`` and read by ``from_onnx``, must be the same network
(its weights, its outputs) with the same gradients of the mean loss over its
mini-batch. Hand-written ONNX graphs (Gemm with transB either way, alpha and beta,
MatMul + Add) are checked against ONNX's own reference evaluator. Every refusal is
checked in Python, at the command line and over HTTP.

PyTorch is an optional extra: without it the tests that need it skip, saying so
(CI installs it: ``make test EXTRAS=test,dev,ci``).
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from flask.testing import FlaskClient
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import pathgrad
from pathgrad.cli import main
from worker.engine import ModelError, PathgradError, SpecError, from_onnx, onnx_model

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="PyTorch is not installed (pip install 'pathgrad[ci]' runs these)")
LOSSES = ("l1", "mse", "half_sse", "softmax_cross_entropy")


# --- PyTorch models and their autograd ---------------------------------------------------


def _random_module(rng: np.random.Generator) -> Any:
    """A random nn.Sequential: 1-3 Linear layers, every activation, with and without bias."""
    import torch
    from torch import nn

    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(1, 6)) for _ in range(depth)] + [int(rng.integers(1, 4))]
    modules: list[Any] = []
    for l in range(depth):
        modules.append(nn.Linear(sizes[l], sizes[l + 1], bias=bool(rng.integers(0, 2))))
        choice = int(rng.integers(0, 6))
        if choice == 1:
            modules.append(nn.ReLU())
        elif choice == 2:
            modules.append(nn.LeakyReLU(float(rng.choice([0.01, 0.2, 0.5, -0.3]))))
        elif choice == 3:
            modules.append(nn.Sigmoid())
        elif choice == 4:
            modules.append(nn.Tanh())
        elif choice == 5:
            modules.append(nn.Identity())
    torch.manual_seed(int(rng.integers(0, 2**31)))
    module = nn.Sequential(*modules)
    for parameter in module.parameters():  # weights large enough that relus cut
        torch.nn.init.uniform_(parameter, -1.5, 1.5)
    return module


def _torch_loss(out: Any, y: Any, loss: str) -> Any:
    """The contract's per-sample losses (section 1), averaged over the mini-batch."""
    import torch

    if loss == "l1":
        per_sample = (out - y).abs().sum(dim=1)
    elif loss == "mse":
        per_sample = ((out - y) ** 2).mean(dim=1)
    elif loss == "half_sse":
        per_sample = 0.5 * ((out - y) ** 2).sum(dim=1)
    else:
        per_sample = -(y * torch.log_softmax(out, dim=1)).sum(dim=1)
    return per_sample.mean()


def _autograd(module: Any, x: Any, y: Any, loss: str) -> tuple[float, list[float], list[float]]:
    """The mean loss and dLoss/dW, dLoss/db of every parameter, in spec order (float64;
    None for the biases of a layer without them)."""
    import copy

    import torch

    double = copy.deepcopy(module).double()
    double.zero_grad()
    value = _torch_loss(double(torch.as_tensor(x, dtype=torch.float64)),
                        torch.as_tensor(y, dtype=torch.float64), loss)
    value.backward()
    linears = [m for m in double if isinstance(m, torch.nn.Linear)]
    weights = [g for m in linears for g in m.weight.grad.reshape(-1).tolist()]
    # A layer without bias has none to differentiate: None where pathgrad has its zeros.
    biases = [g for m in linears for g in (m.bias.grad.tolist() if m.bias is not None
                                           else [None] * m.out_features)]
    return float(value.detach()), weights, biases


def _samples(rng: np.random.Generator, module: Any, count: int, loss: str) -> tuple[Any, Any]:
    from torch import nn

    linears = [m for m in module if isinstance(m, nn.Linear)]
    n0, n_out = linears[0].in_features, linears[-1].out_features
    x = rng.normal(size=(count, n0))
    if loss == "softmax_cross_entropy":
        y = rng.dirichlet(np.ones(n_out), size=count)
    else:
        y = rng.normal(size=(count, n_out))
    return x, y


@needs_torch
@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("count", [1, 5, 32])
def test_from_torch_gives_autograds_gradients_of_the_mean_loss(seed: int, count: int) -> None:
    from torch import nn

    rng = np.random.default_rng(1000 * count + seed)
    module = _random_module(rng)
    loss = LOSSES[seed % 4]
    x, y = _samples(rng, module, count, loss)
    spec = pathgrad.from_torch(module, x, y, loss=loss)
    json.dumps(spec)  # JSON-ready
    linears = [m for m in module if isinstance(m, nn.Linear)]
    assert spec["layers"] == [linears[0].in_features] + [m.out_features for m in linears]
    for l, m in enumerate(linears):
        np.testing.assert_array_equal(spec["weights"][l], m.weight.detach().double().numpy())
    result = pathgrad.analyze(spec, finite_difference=count <= 5)
    expected_loss, weights, biases = _autograd(module, x, y, loss)
    assert result["agreement"]["ok"], result["agreement"]
    assert result["samples"] == count and len(result["outputs"][next(iter(result["outputs"]))]) \
        == count
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose([w["gradient"] for w in result["weights"]], weights, rtol=1e-9,
                               atol=1e-12)
    present = [(b["gradient"], g) for b, g in zip(result["biases"], biases, strict=True)
               if g is not None]
    if present:
        np.testing.assert_allclose(*zip(*present, strict=True), rtol=1e-9, atol=1e-12)
    paths = [w["path_sum"] for w in result["weights"]]
    np.testing.assert_allclose(paths, weights, rtol=1e-9, atol=1e-12)


@needs_torch
def test_one_sample_as_a_vector_or_as_one_row() -> None:
    rng = np.random.default_rng(5)
    module = _random_module(rng)
    x, y = _samples(rng, module, 1, "half_sse")
    vector = pathgrad.analyze(pathgrad.from_torch(module, x[0], y[0], "half_sse"))
    row = pathgrad.analyze(pathgrad.from_torch(module, x, y, "half_sse"))
    assert "samples" not in vector and row["samples"] == 1
    assert [w["gradient"] for w in vector["weights"]] == [w["gradient"] for w in row["weights"]]
    assert all(not isinstance(v, list) for v in vector["outputs"].values())
    assert all(len(v) == 1 for v in row["outputs"].values())


@needs_torch
def test_leaky_relus_slope_is_the_modules() -> None:
    import torch
    from torch import nn

    torch.manual_seed(3)
    module = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 3))
    x = np.random.default_rng(0).normal(size=(32, 4))
    y = np.eye(3)[np.arange(32) % 3]
    spec = pathgrad.from_torch(module, x, y, loss="softmax_cross_entropy")
    assert spec["activation"][0] == {"name": "leaky_relu", "slope": 0.2}
    result = pathgrad.analyze(spec)
    _, weights, _ = _autograd(module, x, y, "softmax_cross_entropy")
    np.testing.assert_allclose([w["gradient"] for w in result["weights"]], weights,
                               rtol=1e-9, atol=1e-13)


@needs_torch
def test_torch_tensors_are_samples_too() -> None:
    import torch

    rng = np.random.default_rng(9)
    module = _random_module(rng)
    x, y = _samples(rng, module, 5, "mse")
    from_arrays = pathgrad.from_torch(module, x, y, "mse")
    from_tensors = pathgrad.from_torch(module, torch.tensor(x), torch.tensor(y), "mse")
    assert from_arrays == from_tensors


@needs_torch
@pytest.mark.parametrize(("build", "field", "words"), [
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Dropout(), nn.Linear(4, 1)), "module[1]",
     "module[1]: Dropout is not supported"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()), "module[2]",
     "an activation is read only once after each Linear"),
    (lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 1)), "module[0]",
     "an activation is read only once after each Linear"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 1)), "module",
     "Linear layer 2 takes 5 features, but the one before gives 4"),
    (lambda nn: nn.Linear(3, 1), "module", "got Linear"),
    (lambda nn: nn.Sequential(nn.Sequential(nn.Linear(3, 1))), "module[0]",
     "module[0]: Sequential is not supported"),
])
def test_from_torch_refuses_what_is_not_a_chain(build: Any, field: str, words: str) -> None:
    from torch import nn

    with pytest.raises(ModelError) as caught:
        pathgrad.from_torch(build(nn), None, None)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, PathgradError)
    assert caught.value.field == field and words in str(caught.value)


@needs_torch
def test_saved_pytorch_files_are_refused_without_unpickling(tmp_path: Path) -> None:
    import torch

    module = torch.nn.Sequential(torch.nn.Linear(2, 1))
    torch.save(module, tmp_path / "whole.pt")
    torch.save(module.state_dict(), tmp_path / "weights.pth")
    for name in ("whole.pt", "weights.pth"):
        with pytest.raises(ModelError, match="never unpickles"):
            from_onnx(tmp_path / name)
        # The command line refuses by the name alone, and by the contents under any name.
        code, _, err = _cli("import", str(tmp_path / name))
        assert code == 2 and "never unpickles" in err and err.count("\n") == 1
    (tmp_path / "disguised.onnx").write_bytes((tmp_path / "whole.pt").read_bytes())
    code, _, err = _cli("import", str(tmp_path / "disguised.onnx"))
    assert code == 2 and "never unpickles" in err


# --- ONNX files written by PyTorch's exporters ------------------------------------------


def _export(module: Any, example: Any, *, dynamo: bool) -> bytes:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(module, (example,), dynamo=True, verbose=False)
            assert program is not None
            return bytes(program.model_proto.SerializeToString())
        buffer = io.BytesIO()
        torch.onnx.export(module, (example,), buffer, dynamo=False)
        return buffer.getvalue()


def _exporters() -> list[Any]:
    dynamo = pytest.param(True, id="dynamo", marks=pytest.mark.skipif(
        importlib.util.find_spec("onnxscript") is None,
        reason="onnxscript is not installed (torch.onnx.export(dynamo=True) needs it)"))
    return [pytest.param(False, id="torchscript"), dynamo]


@needs_torch
@pytest.mark.parametrize("dynamo", _exporters())
@pytest.mark.parametrize("seed", range(8))
def test_exported_onnx_is_the_same_network(dynamo: bool, seed: int) -> None:
    import torch

    rng = np.random.default_rng(seed)
    module = _random_module(rng).float()
    loss = LOSSES[seed % 4]
    x, y = _samples(rng, module, 5, loss)
    data = _export(module, torch.tensor(x, dtype=torch.float32), dynamo=dynamo)
    spec = from_onnx(data, x, y, loss)
    reference = pathgrad.from_torch(module, x, y, loss)
    assert spec["layers"] == reference["layers"]
    for ours, theirs in zip(spec["weights"], reference["weights"], strict=True):
        np.testing.assert_array_equal(ours, theirs)  # float32 weights, exactly
    assert spec.get("biases") == reference.get("biases")
    for ours, theirs in zip(spec["activation"], reference["activation"], strict=True):
        if isinstance(theirs, dict):  # ONNX stores alpha as a float32
            assert ours == {"name": "leaky_relu", "slope": float(np.float32(theirs["slope"]))}
        else:
            assert ours == theirs
    result = pathgrad.analyze(spec)
    expected_loss, weights, _ = _autograd(module, x, y, loss)
    if all(not isinstance(a, dict) for a in spec["activation"]):
        np.testing.assert_allclose([w["gradient"] for w in result["weights"]], weights,
                                   rtol=1e-9, atol=1e-12)
        assert result["loss"] == pytest.approx(expected_loss, rel=1e-12)


@needs_torch
def test_a_leading_flatten_takes_samples_of_any_shape(tmp_path: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    module = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2))
    images = np.random.default_rng(1).normal(size=(3, 2, 3))
    data = _export(module, torch.tensor(images, dtype=torch.float32), dynamo=False)
    assert any(node.op_type == "Flatten" for node in onnx.load_from_string(data).graph.node)
    targets = np.random.default_rng(2).normal(size=(3, 2))
    spec = from_onnx(data, images, targets, "half_sse")
    assert spec["layers"] == [6, 4, 2] and np.shape(spec["input"]) == (3, 6)
    result = pathgrad.analyze(spec)
    expected = module.double()(torch.tensor(images)).detach().numpy()
    np.testing.assert_allclose(np.array([result["outputs"][k] for k in ("Out1", "Out2")]).T,
                               expected, rtol=1e-6)


# --- hand-written ONNX graphs against ONNX's reference evaluator ------------------------


def _graph(nodes: list[Any], initializers: dict[str, np.ndarray], n0: int, n_out: int,
           *, inputs: tuple[str, ...] = ("x",), output: str = "y", opset: int = 17) -> bytes:
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", n0]) for name in inputs],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", n_out])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return bytes(model.SerializeToString())


def _hand_written(rng: np.random.Generator) -> tuple[bytes, int, int]:
    """Gemm (transB 0, alpha, beta) -> LeakyRelu -> MatMul + Add (bias first) -> Sigmoid ->
    Identity -> Gemm (transB 1, a scalar C)."""
    b1, c1 = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))  # (in, out): transB = 0
    b2, c2 = rng.normal(size=(4, 5)), rng.normal(size=5)
    b3, c3 = rng.normal(size=(2, 5)), rng.normal(size=(1,))  # (out, in): transB = 1
    nodes = [
        helper.make_node("Gemm", ["x", "B1", "C1"], ["h1"], name="first", alpha=0.5, beta=2.0),
        helper.make_node("LeakyRelu", ["h1"], ["a1"], name="leaky", alpha=0.2),
        helper.make_node("MatMul", ["a1", "B2"], ["m2"], name="matmul"),
        helper.make_node("Add", ["C2", "m2"], ["h2"], name="bias"),
        helper.make_node("Sigmoid", ["h2"], ["a2"], name="sigmoid"),
        helper.make_node("Identity", ["a2"], ["i2"], name="same"),
        helper.make_node("Gemm", ["i2", "B3", "C3"], ["y"], name="last", transB=1),
    ]
    return _graph(nodes, {"B1": b1, "C1": c1, "B2": b2, "C2": c2, "B3": b3, "C3": c3}, 3, 2), 3, 2


def test_gemm_matmul_and_add_mean_what_onnx_means() -> None:
    rng = np.random.default_rng(11)
    data, n0, n_out = _hand_written(rng)
    x = rng.normal(size=(7, n0)).astype(np.float32)
    spec = from_onnx(data, x, np.zeros((7, n_out)), "half_sse")
    assert spec["activation"] == [{"name": "leaky_relu", "slope": float(np.float32(0.2))},
                                  "sigmoid", "identity"]
    result = pathgrad.analyze(spec, finite_difference=True)
    assert result["agreement"]["ok"] and result["agreement"]["finite_difference"]["ok"]
    (expected,) = ReferenceEvaluator(onnx.load_from_string(data)).run(None, {"x": x})
    ours = np.array([result["outputs"][f"Out{k + 1}"] for k in range(n_out)]).T
    np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=2e-5)  # ONNX runs float32


def test_a_model_without_samples_is_a_spec_to_complete() -> None:
    data, n0, _ = _hand_written(np.random.default_rng(4))
    spec = from_onnx(data)
    assert set(spec) == {"layers", "weights", "biases", "activation"}
    full = {**spec, "input": [0.5] * n0, "target": [0.0, 1.0], "loss": "mse"}
    assert pathgrad.analyze(full)["agreement"]["ok"]


def _one(op: str, *inputs: str, **attrs: Any) -> list[Any]:
    return [helper.make_node("Gemm", ["x", "B", "C"], ["h"], name="dense", transB=1),
            helper.make_node(op, ["h", *inputs], ["y"], name=f"my_{op.lower()}", **attrs)]


_DENSE = {"B": np.ones((2, 3)), "C": np.zeros(2)}


@pytest.mark.parametrize(("data", "words"), [
    (lambda: _graph(_one("Softmax"), _DENSE, 3, 2),
     ["node 'my_softmax': operator Softmax is not supported", "softmax_cross_entropy"]),
    (lambda: _graph(_one("Relu") + [helper.make_node("Relu", ["y"], ["z"], name="again")],
                    _DENSE, 3, 2, output="z"), ["node 'again'", "a second activation"]),
    (lambda: _graph([helper.make_node("Conv", ["x", "B"], ["y"], name="conv1")], _DENSE, 3, 2),
     ["node 'conv1': operator Conv is not supported", "Gemm"]),
    (lambda: _graph([helper.make_node("Gemm", ["x", "B"], ["y"], name="g", transA=1)],
                    _DENSE, 3, 2), ["node 'g'", "transA"]),
    (lambda: _graph([helper.make_node("Add", ["x", "x2"], ["y"], name="sum")], _DENSE, 3, 3,
                    inputs=("x", "x2")), ["one input", "got 2: x, x2"]),
    (lambda: _graph([helper.make_node("Gemm", ["x", "B", "C"], ["h"], name="a", transB=1),
                     helper.make_node("Gemm", ["h", "B", "C"], ["y"], name="b", transB=1)],
                    _DENSE, 3, 2), ["node 'b'", "takes 3 numbers per sample", "gives 2"]),
    (lambda: _graph(_one("Relu"), _DENSE, 3, 2, opset=6), ["opset 6"]),
    (lambda: b"\x08\x07" + b"not a model" * 10, ["not an ONNX model"]),
    (lambda: b"name: nothing here", ["not an ONNX model"]),
    (lambda: _graph(_one("Relu"), _DENSE, 3, 2)[:60], ["not an ONNX model"]),
])
def test_onnx_refusals_name_the_operator_and_node(data: Any, words: list[str]) -> None:
    with pytest.raises(ModelError) as caught:
        from_onnx(data())
    assert isinstance(caught.value, ValueError) and caught.value.field == "model"
    for word in words:
        assert word in str(caught.value)


def test_weights_in_external_files_are_not_read(tmp_path: Path) -> None:
    model = onnx.load_from_string(_graph(_one("Relu"), _DENSE, 3, 2))
    onnx.save_model(model, tmp_path / "model.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    with pytest.raises(ModelError, match="external file are not read"):
        from_onnx(tmp_path / "model.onnx")


def test_a_model_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    data = _graph(_one("Relu"), _DENSE, 3, 2)
    monkeypatch.setattr(onnx_model, "MAX_MODEL_BYTES", len(data) - 1)
    (tmp_path / "big.onnx").write_bytes(data)
    for given in (data, tmp_path / "big.onnx"):
        with pytest.raises(ModelError, match=f"over the limit of {len(data) - 1} bytes"):
            from_onnx(given)


@pytest.mark.parametrize(("samples", "targets", "loss", "field", "words"), [
    (np.ones((4, 2)), np.ones((4, 2)), "mse", "input", "expected 3 numbers per sample, got 2"),
    (np.ones((4, 3)), np.ones((3, 2)), "mse", "target", "expected 4 rows"),
    (np.ones((4, 3)), np.array([0, 1, 1, 0]), "softmax_cross_entropy", "target",
     "one-hot"),
    ([["a", "b", "c"]], [[0, 1]], "mse", "input", "expected numbers, got a list of strings"),
    (np.ones((4, 3)), None, "mse", "target", "give input and target together"),
    (np.ones(3), np.ones(2), "hinge", "loss", "expected one of"),
    ([[1, 2, 3], [4, 5]], [[0, 1], [1, 0]], "mse", "input", "ragged"),
])
def test_samples_that_do_not_fit_are_named(samples: Any, targets: Any, loss: str, field: str,
                                           words: str) -> None:
    data = _graph(_one("Relu"), _DENSE, 3, 2)
    with pytest.raises(SpecError) as caught:
        from_onnx(data, samples, targets, loss)
    assert caught.value.field == field and words in str(caught.value)


# --- the command line -------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    import contextlib

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A model and its samples in every format: .npy, .json, .csv (with a header)."""
    rng = np.random.default_rng(3)
    data, n0, n_out = _hand_written(rng)
    (tmp_path / "model.onnx").write_bytes(data)
    x, y = rng.normal(size=(6, n0)), np.eye(n_out)[np.arange(6) % n_out]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "x.json").write_text(json.dumps(x.tolist()))
    (tmp_path / "y.csv").write_text("a,b\n" + "\n".join(",".join(map(str, r)) for r in y))
    return tmp_path


def test_import_writes_a_spec_ready_for_analyze(files: Path) -> None:
    for samples, targets in (("x.npy", "y.npy"), ("x.json", "y.csv")):
        out = files / f"net-{samples}.json"
        code, _, err = _cli("import", str(files / "model.onnx"), "--input", str(files / samples),
                            "--target", str(files / targets), "--loss", "softmax_cross_entropy",
                            "--out", str(out))
        assert code == 0, err
        assert "layers [3, 4, 5, 2]" in err and "6 samples" in err
        spec = json.loads(out.read_text())
        expected = from_onnx(files / "model.onnx", np.load(files / "x.npy"),
                             np.load(files / "y.npy"), "softmax_cross_entropy")
        assert spec == expected
    code, text, err = _cli("analyze", str(out), "--no-path-sum", "--weight", "W1", "--paths",
                           "--limit", "3")
    assert code == 0, err
    page = pathgrad.path_contributions(spec, "W1", limit=3)
    assert f"dLoss/dW1 = {page['gradient']:.10g}" in text


@pytest.mark.parametrize(("setup", "words"), [
    (lambda d: ["--input", str(d / "y.npy"), "--target", str(d / "y.npy")],
     "--input: expected 3 numbers per sample, got 2"),
    (lambda d: ["--input", str(d / "x.npy"), "--target", str(d / "short.csv")],
     "--target: expected 6 rows"),
    (lambda d: ["--input", str(d / "x.npy"), "--target", str(d / "bad.csv")],
     "bad.csv line 3, column 2: expected a number, got 'x'"),
    (lambda d: ["--input", str(d / "objects.npy"), "--target", str(d / "y.npy")],
     "holds Python objects (a pickle), which pathgrad never loads"),
    (lambda d: ["--input", str(d / "x.txt"), "--target", str(d / "y.npy")],
     "expected a .npy, .json or .csv file"),
    (lambda d: ["--input", str(d / "x.npy"), "--target", str(d / "y.npy"), "--loss", "hinge"],
     "--loss: expected one of"),
])
def test_import_refusals_are_one_line(files: Path, setup: Any, words: str) -> None:
    (files / "short.csv").write_text("1,0\n0,1\n")
    (files / "bad.csv").write_text("a,b\n1,0\n0,x\n")
    (files / "x.txt").write_text("1 2 3")
    np.save(files / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, out, err = _cli("import", str(files / "model.onnx"), *setup(files))
    assert code == 2 and out == ""
    assert words in err and err.count("\n") == 1 and err.startswith("pathgrad: error: ")


def test_import_of_what_is_not_onnx_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.onnx").write_text("not a model at all\n")
    for path in (tmp_path / "notes.onnx", tmp_path / "missing.onnx"):
        code, _, err = _cli("import", str(path))
        assert code == 2 and err.count("\n") == 1 and str(path) in err


# --- over HTTP --------------------------------------------------------------------------


def _convert(client: FlaskClient, data: bytes, query: str = "",
             content_type: str = "application/onnx") -> Any:
    return client.post(f"/v1/convert{query}", data=data, content_type=content_type)


def test_convert_answers_the_spec(client: FlaskClient) -> None:
    from urllib.parse import quote

    data, n0, n_out = _hand_written(np.random.default_rng(8))
    response = _convert(client, data)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == from_onnx(data)
    samples, targets = [[0.5] * n0, [-1.0] * n0], [[1.0, 0.0], [0.0, 1.0]]
    query = (f"?input={quote(json.dumps(samples))}&target={quote(json.dumps(targets))}"
             "&loss=softmax_cross_entropy")
    spec = _convert(client, data, query).get_json()
    assert spec == from_onnx(data, samples, targets, "softmax_cross_entropy")
    job = client.post("/v1/jobs?wait=30", json={"network": spec}).get_json()
    assert job["status"] == "succeeded", job
    assert job["result"] == json.loads(json.dumps(pathgrad.analyze(spec)))


@pytest.mark.parametrize(("data", "query", "content_type", "status", "words"), [
    (b"garbage" * 10, "", "application/onnx", 422, "model: not an ONNX model"),
    (lambda: _graph(_one("Softmax"), _DENSE, 3, 2), "", "application/onnx", 422,
     "operator Softmax is not supported"),
    (lambda: _graph(_one("Relu"), _DENSE, 3, 2), "", "application/json", 415,
     "Content-Type: application/onnx"),
    (lambda: _graph(_one("Relu"), _DENSE, 3, 2), "?input=[1,2]&target=[1,2]&loss=mse",
     "application/onnx", 422, "input: expected 3 numbers per sample, got 2"),
    (lambda: _graph(_one("Relu"), _DENSE, 3, 2), "?input=[1,2,3]&target=nope&loss=mse",
     "application/onnx", 422, "target: expected JSON numbers"),
    (lambda: _graph(_one("Relu"), _DENSE, 3, 2), "?loss=hinge", "application/onnx", 422,
     "loss"),
])
def test_convert_refusals_are_problems(app: Any, data: Any, query: str, content_type: str,
                                       status: int, words: str) -> None:
    body = data() if callable(data) else data
    response = _convert(app.test_client(), body, query, content_type)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert words in json.dumps(response.get_json())


def test_convert_refuses_a_body_over_the_limit(redis_url: str, queue: str) -> None:
    from service import create_app

    data = _graph(_one("Relu"), _DENSE, 3, 2)
    small = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "MAX_BODY": len(data) - 1})
    response = _convert(small.test_client(), data)
    assert response.status_code == 413 and response.mimetype == "application/problem+json"


@needs_torch
def test_an_mnist_sized_model_and_mini_batch_analyses_in_the_service(client: FlaskClient) -> None:
    """[784, 256, 128, 10] on 256 samples, backprop only: the README's example, end to end."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                           nn.Linear(128, 10))
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (256, 784)) * (rng.random((256, 784)) < 0.2) / 255.0
    labels = np.eye(10)[rng.integers(0, 10, 256)]
    data = _export(module, torch.tensor(pixels[:2], dtype=torch.float32), dynamo=False)
    spec = _convert(client, data).get_json()
    spec |= {"input": pixels.tolist(), "target": labels.tolist(),
             "loss": "softmax_cross_entropy"}
    assert len(json.dumps(spec)) < client.application.config["MAX_BODY"]
    job = client.post("/v1/jobs?wait=120", json={"network": spec,
                                                 "options": {"path_sum": False}}).get_json()
    assert job["status"] == "succeeded", {k: v for k, v in job.items() if k != "result"}
    result = job["result"]
    assert result["samples"] == 256 and len(result["weights"]) == 784 * 256 + 256 * 128 + 1280
    expected_loss, weights, biases = _autograd(module.float(), pixels, labels,
                                               "softmax_cross_entropy")
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-10)  # the same float32 weights
    ours = np.array([w["gradient"] for w in result["weights"]])
    scale = np.abs(weights).max()
    assert np.abs(ours - np.array(weights)).max() <= 1e-10 * scale
