"""The explorer over HTTP: the page and its files, the drawing route, security headers."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest
from conftest import ROOT, TEST_SETTINGS, unique_seed
from flask import Flask
from flask.testing import FlaskClient
from reference import names

from service import create_app
from worker.engine import formula

SVG = "{http://www.w3.org/2000/svg}"
MATHML = "{http://www.w3.org/1998/Math/MathML}"
STATIC = ROOT / "service" / "static" / "explore"


class _Page(HTMLParser):
    """What a page loads: script sources, inline scripts, stylesheets, icons, labels."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline_scripts = 0
        self.styles = 0
        self.labels: dict[str, str] = {}
        self.inputs: set[str] = set()
        self._label: str | None = None
        self._text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.loads.append(str(found["src"]))
            else:
                self.inline_scripts += 1
        if tag == "link" and found.get("href"):
            self.loads.append(str(found["href"]))
        if tag == "style" or "style" in found or any(k.startswith("on") for k in found):
            self.styles += 1
        if tag == "label" and found.get("for"):
            self._label, self._text = str(found["for"]), []
        if tag == "input" and found.get("id"):
            self.inputs.add(str(found["id"]))

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label is not None:
            self.labels[self._label] = " ".join("".join(self._text).split())
            self._label = None


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_the_root_redirects_to_the_explorer(app: Flask) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/explore"


def test_the_page_loads_only_its_own_files_and_no_inline_code(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/explore")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = _parse(response.get_data(as_text=True))
    assert page.inline_scripts == 0 and page.styles == 0  # the policy forbids them
    assert page.loads and all(src.startswith("/explore/assets/") for src in page.loads)
    for src in page.loads:
        with client.get(src) as asset:
            assert asset.status_code == 200 and len(asset.data) > 100, src
    # The contract's answer box: a labelled input whose label contains "answer".
    assert "answer" in page.labels.get("answer", "").lower() and "answer" in page.inputs
    assert all(label in page.inputs or label == "network-text" for label in page.labels)


def test_the_script_talks_to_no_other_host() -> None:
    script = (STATIC / "explore.js").read_text(encoding="utf-8")
    assert not re.findall(r"https?://(?!www\.w3\.org/1998/Math/MathML)", script)
    assert "innerHTML" not in script and "eval(" not in script


def test_every_response_forbids_other_origins(app: Flask) -> None:
    client = app.test_client()
    for path in ("/explore", "/explore/assets/explore.js", "/v1/health", "/openapi.json",
                 "/v1/jobs/nope"):
        with client.get(path) as response:
            policy = response.headers["Content-Security-Policy"]
        rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
        assert rules["default-src"] == "'self'" and rules["frame-ancestors"] == "'none'", path
        assert "script-src" not in rules and "style-src" not in rules, path


def test_swagger_ui_gets_the_hash_of_its_one_inline_script(app: Flask) -> None:
    response = app.test_client().get("/docs/")
    assert response.status_code == 200
    scripts = re.findall(rb"<script>(.*?)</script>", response.data, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0]).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}'" in policy
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline';" not in policy.split("script-src")[1].split(";")[0] + ";"


def test_the_seed_example_is_served(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/explore/examples/seed.json").get_json()["layers"] == [2, 3, 2, 1]
    missing = client.get("/explore/examples/nope.json")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def _job(client: FlaskClient, network: dict[str, Any], headers: dict[str, str] | None = None
         ) -> str:
    response = client.post("/v1/jobs?wait=30", json={"network": network}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["id"])


def _elements(svg: bytes) -> tuple[dict[str, ET.Element], dict[str, ET.Element]]:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return ({e.get("data-node") or "": e for e in root.iter() if e.get("data-node")},
            {e.get("data-weight") or "": e for e in root.iter() if e.get("data-weight")})


def _lit(edges: dict[str, ET.Element]) -> set[str]:
    return {n for n, e in edges.items() if "on-path" in (e.get("class") or "").split()}


def test_the_drawing_route_draws_the_job(client: FlaskClient) -> None:
    network = unique_seed(1.5)
    job = _job(client, network)
    response = client.get(f"/explore/jobs/{job}/drawing.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    nodes, edges = _elements(response.data)
    table = names([2, 3, 2, 1])
    assert set(nodes) == {n for layer in table["nodes"] for n in layer}
    assert set(edges) == set(table["weights"]) and not _lit(edges)
    result = client.get(f"/v1/jobs/{job}").get_json()["result"]
    for record in result["weights"]:
        assert float(edges[record["name"]].get("data-gradient") or "nan") == record["gradient"]
    for record in result["nodes"]:
        assert float(nodes[record["name"]].get("data-value") or "nan") == record["value"]


def test_the_drawings_paths_are_the_apis_pages(client: FlaskClient) -> None:
    job = _job(client, unique_seed(1.7))
    for query, api in (("weight=W1", f"/v1/jobs/{job}/weights/W1/paths?limit=20"),
                       ("weight=b_H4", f"/v1/jobs/{job}/weights/b_H4/paths?limit=20"),
                       ("node=H4", f"/v1/jobs/{job}/paths?through=H4&limit=20")):
        _, edges = _elements(client.get(f"/explore/jobs/{job}/drawing.svg?{query}").data)
        page = client.get(api).get_json()
        assert _lit(edges) == {w for path in page["paths"] for w in path["weights"]}, query
    _, edges = _elements(client.get(f"/explore/jobs/{job}/drawing.svg?weight=W1").data)
    assert _lit(edges) == {"W1", "W7", "W13", "W10", "W14"}


@pytest.mark.parametrize(("query", "status", "field"), [
    ("weight=W99", 404, "W1..W14"), ("node=H9", 404, "neuron"),
    ("weight=W1&node=H4", 422, "node"),
])
def test_a_bad_selection_is_a_problem(client: FlaskClient, query: str, status: int,
                                      field: str) -> None:
    job = _job(client, unique_seed(1.9))
    response = client.get(f"/explore/jobs/{job}/drawing.svg?{query}")
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert field in response.get_json()["detail"]


def test_an_unknown_job_is_404(client: FlaskClient) -> None:
    for path in ("/explore/jobs/nope/drawing.svg", "/explore/jobs/nope/network"):
        response = client.get(path)
        assert response.status_code == 404 and response.get_json()["title"] == "Unknown job"


def test_the_network_route_gives_what_grading_needs(client: FlaskClient) -> None:
    network = unique_seed(2.1)
    response = client.post("/v1/jobs?wait=30", json={"network": network,
                                                     "options": {"subgradient": "right"}})
    job = response.get_json()["id"]
    body = client.get(f"/explore/jobs/{job}/network").get_json()
    assert body["network"]["input"] == network["input"]
    assert body["options"]["subgradient"] == "right"
    graded = client.post("/v1/grade", json={**body, "answers": {"W1": 0}, "ask": ["W1"]})
    assert graded.status_code == 200 and graded.get_json()["answers"][0]["name"] == "W1"


def test_the_formula_comes_as_mathml_too(client: FlaskClient) -> None:
    job = _job(client, unique_seed(2.3))
    formula = client.get(f"/v1/jobs/{job}/weights/W1/formula").get_json()
    math = ET.fromstring(formula["mathml"])
    assert math.tag == MATHML + "math"
    identifiers = [e.text for e in math.iter(MATHML + "mi")]
    assert {"X", "W", "Out", "Y"} <= set(identifiers) and {"10", "14", "13", "7"} <= set(
        identifiers)


def test_mathml_is_xml_with_sigma_prime_and_minus_signs() -> None:
    spec = {"layers": [2, 2, 2], "activation": "tanh", "loss": "softmax_cross_entropy",
            "weights": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6], [0.7, 0.8]]],
            "input": [1, 2], "target": [1, 0]}
    result = formula(spec, "W1")
    math = ET.fromstring(result["mathml"])  # no HTML entity: XML parses it
    assert math.tag == MATHML + "math" and not re.search(r"&[A-Za-z]", result["mathml"])
    identifiers = {e.text for e in math.iter(MATHML + "mi")}
    assert "\N{GREEK SMALL LETTER SIGMA}\N{PRIME}" in identifiers and {"H1", "Out1"} <= identifiers
    assert "\N{MINUS SIGN}" in {e.text for e in math.iter(MATHML + "mo")}
    assert "dact" not in result["mathml"] and result["text"] == formula(spec, "W1")["text"]


@pytest.fixture
def keyed(redis_url: str, queue: str, celery_worker: subprocess.Popen[bytes]) -> FlaskClient:
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True,
                      "API_KEYS": "alice:key-of-alice,bob:key-of-bob", **TEST_SETTINGS})
    return app.test_client()


def test_with_keys_the_page_is_open_and_what_it_shows_is_not(keyed: FlaskClient) -> None:
    for path in ("/", "/explore", "/explore/assets/explore.js", "/explore/examples/seed.json"):
        with keyed.get(path) as response:
            assert response.status_code in (200, 302), path
    alice = {"Authorization": "Bearer key-of-alice"}
    job = _job(keyed, unique_seed(2.5), alice)
    for path in (f"/explore/jobs/{job}/drawing.svg", f"/explore/jobs/{job}/network"):
        assert keyed.get(path).status_code == 401
        assert keyed.get(path, headers=alice).status_code == 200
        assert keyed.get(path, headers={"Authorization": "Bearer key-of-bob"}).status_code == 404


def test_the_package_data_takes_every_file_of_the_page() -> None:
    # What `pip install .` copies of the service package: its package-data globs.
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = settings["tool"]["setuptools"]["package-data"]["service"]
    files = [p.relative_to(ROOT / "service").as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert {"static/explore/explore.html", "static/explore/explore.js",
            "static/explore/explore.css"} <= set(files)
    assert all(any(fnmatch.fnmatchcase(f, g) and "/" not in f[len(g.rsplit("/", 1)[0]) + 1:]
                   for g in globs) for f in files), (files, globs)
