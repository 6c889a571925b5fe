"""`pathgrad draw` and pathgrad.drawing: the explorer's drawing, offline."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reference import forward, names, paths_of

from pathgrad import drawing, examples
from pathgrad.cli import main
from pathgrad.cli.draw import CONVERTERS

SEED: dict[str, Any] = examples.load("seed")
SVG = "{http://www.w3.org/2000/svg}"


def random_network(seed: int, layers: list[int]) -> dict[str, Any]:
    """A network of mixed activations and signs, numbers rounded as people write them."""
    rng = np.random.default_rng(seed)
    return {"layers": layers,
            "weights": [rng.normal(0, 1, (n, m)).round(3).tolist()
                        for m, n in zip(layers[:-1], layers[1:], strict=True)],
            "biases": [rng.normal(0, 0.5, n).round(3).tolist() for n in layers[1:]],
            "activation": ["tanh", "relu", "sigmoid", "identity"][: len(layers) - 1],
            "input": rng.normal(0, 1, layers[0]).round(3).tolist(),
            "target": rng.normal(0, 1, layers[-1]).round(3).tolist(), "loss": "half_sse"}


RANDOM = random_network(7, [3, 4, 3, 2])


def draw(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["draw", *args])
    out, err = capsys.readouterr()
    return code, out, err


def elements(svg: str) -> tuple[dict[str, ET.Element], dict[str, ET.Element]]:
    """The drawing's neuron elements by data-node and edge elements by data-weight."""
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    nodes = {e.get("data-node"): e for e in root.iter() if e.get("data-node")}
    edges = {e.get("data-weight"): e for e in root.iter() if e.get("data-weight")}
    return nodes, edges


def on_path(edges: dict[str, ET.Element]) -> set[str]:
    return {name for name, e in edges.items() if "on-path" in (e.get("class") or "").split()}


def top_edges(spec: dict[str, Any], weight: str, k: int = 20) -> set[str]:
    """The weights on a weight's k largest paths by |contribution|, by the reference."""
    table = names(list(spec["layers"]))
    l, i, j = table["weights"][weight]
    f = forward(spec)
    ranked = sorted(paths_of(f, l, i, j), key=lambda p: -abs(p.contribution))[:k]
    by_edge = {(m, dst, src): name for name, (m, dst, src) in table["weights"].items()}
    found = set()
    for path in ranked:
        chain = path.indices  # (j, i, k_{l+1}, ...)
        for step in range(len(chain) - 1):
            found.add(by_edge[(l + step, chain[step + 1], chain[step])])
    return found


@pytest.mark.parametrize("spec", [SEED, RANDOM], ids=["seed", "random"])
def test_the_svg_has_every_neuron_and_weight_with_their_numbers(
        spec: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "net.json"
    source.write_text(json.dumps(spec))
    code, out, err = draw(capsys, str(source))
    assert code == 0 and not err
    nodes, edges = elements(out)
    table = names(list(spec["layers"]))
    assert set(nodes) == {n for layer in table["nodes"] for n in layer}
    assert set(edges) == set(table["weights"])
    root = ET.fromstring(out)
    texts = {t.text for t in root.iter(SVG + "text")}
    assert set(nodes) <= texts  # every neuron named where people see it
    f = forward(spec)
    for l, layer in enumerate(table["nodes"]):
        for i, name in enumerate(layer):
            np.testing.assert_allclose(float(nodes[name].get("data-value") or "nan"),
                                       f.values[l][i], rtol=1e-12, atol=1e-15)
    for name, (l, i, j) in table["weights"].items():
        assert float(edges[name].get("data-value") or "nan") == spec["weights"][l - 1][i][j]
        title = edges[name].find(SVG + "title")
        assert title is not None and name in str(title.text)


def test_the_seed_drawing_reads_like_the_textbook_picture(
        capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = draw(capsys, "--example", "seed")
    nodes, _ = elements(out)

    def centre(name: str) -> tuple[float, float]:
        circle = nodes[name].find(SVG + "circle")
        assert circle is not None
        return float(circle.get("cx") or 0), float(circle.get("cy") or 0)

    columns = [{centre(n)[0] for n in layer} for layer in (["X1", "X2"], ["H1", "H2", "H3"],
                                                          ["H4", "H5"], ["Out"])]
    assert all(len(c) == 1 for c in columns)  # one column per layer
    xs = [c.pop() for c in columns]
    assert xs == sorted(xs)  # left to right
    assert centre("X1")[1] < centre("X2")[1] and centre("H1")[1] < centre("H3")[1]
    gradients = {e.get("data-weight"): float(e.get("data-gradient") or "nan")
                 for e in ET.fromstring(out).iter() if e.get("data-weight")}
    np.testing.assert_allclose(gradients["W1"], 0.7 * 1.3 + 1.0 * 1.4, rtol=1e-12)


@pytest.mark.parametrize(("spec", "weight"), [(SEED, "W1"), (RANDOM, "W2"), (RANDOM, "W15")],
                         ids=["seed-W1", "random-W2", "random-W15"])
def test_a_weight_lights_exactly_its_top_paths(
        spec: dict[str, Any], weight: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "net.json"
    source.write_text(json.dumps(spec))
    _, out, _ = draw(capsys, str(source), "--weight", weight)
    _, edges = elements(out)
    assert on_path(edges) == top_edges(spec, weight)
    assert "selected" in (edges[weight].get("class") or "")


def test_the_seed_weight_w1_has_its_two_paths(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = draw(capsys, "--example", "seed", "--weight", "W1")
    nodes, edges = elements(out)
    assert on_path(edges) == {"W1", "W7", "W13", "W10", "W14"}
    lit = {n for n, e in nodes.items() if "on-path" in (e.get("class") or "")}
    assert lit == {"X1", "H1", "H4", "H5", "Out"}


def test_a_neuron_lights_the_paths_through_it(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = draw(capsys, "--example", "seed", "--node", "H4")
    _, edges = elements(out)
    # Six input-to-output paths run through H4: X1|X2 -> H1|H2|H3 -> H4 -> Out.
    assert on_path(edges) == {"W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W13"}


def test_a_big_network_is_drawn_as_blocks_with_only_the_paths(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layers = [4, 200, 200, 2]  # 406 neurons, 41,200 weights: over what is drawn whole
    spec = random_network(3, layers)
    spec["activation"] = "tanh"
    source = tmp_path / "big.json"
    source.write_text(json.dumps(spec))
    code, out, _ = draw(capsys, str(source), "--weight", "W1")
    assert code == 0
    root = ET.fromstring(out)
    assert root.get("data-mode") == "blocks"
    nodes, edges = elements(out)
    assert on_path(edges) == set(edges) == top_edges(spec, "W1")
    table = names(layers)
    by_name = {name: (l, i, j) for name, (l, i, j) in table["weights"].items()}
    ends = {table["nodes"][by_name[w][0] - 1][by_name[w][2]] for w in edges} | {
        table["nodes"][by_name[w][0]][by_name[w][1]] for w in edges}
    assert set(nodes) == ends  # only the neurons of the paths
    assert len(out) < 200_000


def test_dot_names_every_neuron_and_weight(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    out = tmp_path / "seed.dot"
    code, _, err = draw(capsys, "--example", "seed", "--weight", "W1", "--out", str(out))
    assert code == 0 and not err
    text = out.read_text()
    assert text.startswith("digraph network {") and text.rstrip().endswith("}")
    for layer in names([2, 3, 2, 1])["nodes"]:
        for node in layer:
            assert f'"{node}" [id="{node}"' in text
    assert '"X1" -> "H1" [id="W1"' in text and '"H5" -> "Out" [id="W14"' in text
    lit = {line.split('id="')[1].split('"')[0] for line in text.splitlines()
           if "->" in line and 'class="on-path"' in line}
    assert lit == {"W1", "W7", "W13", "W10", "W14"}


def test_png_is_written_by_a_converter_that_is_installed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    installed = [name for name in CONVERTERS if shutil.which(name)]
    if not installed:
        pytest.skip("no PNG converter here (rsvg-convert, inkscape, magick or chromium)")
    out = tmp_path / "seed.png"
    code, _, err = draw(capsys, "--example", "seed", "--out", str(out))
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"converted from SVG by {installed[0]}" in err


def test_png_without_a_converter_says_what_to_install(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no converter on it
    code, out, err = draw(capsys, "--example", "seed", "--out", str(tmp_path / "x.png"))
    assert code == 2 and not out
    assert err.count("\n") == 1 and "rsvg-convert" in err and ".svg or .dot" in err


@pytest.mark.parametrize(("args", "says"), [
    (["--example", "seed", "--weight", "W99"], "W1..W14"),
    (["--example", "seed", "--node", "H9"], "node"),
    (["--example", "seed", "--out", "seed.pdf"], ".svg, .dot or .png"),
])
def test_bad_input_is_one_line_and_status_2(
        args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = draw(capsys, *args)
    assert code == 2 and not out
    assert err.startswith("pathgrad: error: ") and err.count("\n") == 1 and says in err


def test_weight_and_node_are_one_or_the_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["draw", "--example", "seed", "--weight", "W1", "--node", "H4"])
    assert stop.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_mini_batch_is_drawn_with_its_means() -> None:
    # The analysis of a mini-batch gives node values as lists of N (contract section 10).
    spec = {"layers": [1, 1], "weights": [[[2.0]]], "activation": "identity", "loss": "l1",
            "input": [[1.0], [3.0]], "target": [[0.0], [0.0]]}
    result = {"loss": 4.0, "outputs": {"Out": [2.0, 6.0]},
              "nodes": [{"name": "Out", "layer": 1, "pre": [2.0, 6.0], "value": [2.0, 6.0],
                         "derivative": [1.0, 1.0]}],
              "weights": [{"name": "W1", "gradient": 2.0}],
              "biases": [{"name": "b_Out", "node": "Out", "gradient": 1.0}],
              "paths_enumerated": 1}
    scene = drawing.scene(spec, result)
    assert scene.samples == 2 and scene.values == ((2.0,), (4.0,))
    nodes, _ = elements(drawing.svg(scene))
    assert nodes["X1"].get("data-value") == "2.0" and nodes["Out"].get("data-value") == "4.0"
    title = nodes["Out"].find(SVG + "title")
    assert title is not None and "means over the mini-batch" in str(title.text)
