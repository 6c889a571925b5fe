"""The explorer in a real browser: the system's Chromium, driven by Playwright for Python.

The browser is Debian's ``chromium`` package (``apt-get install -y chromium``), launched
by path: Playwright's own browser download is never used. Without it these tests are
skipped, with one line saying how to run them. Every page load is watched: a request
to another host fails the test, and so does an error on the console.

``PATHGRAD_SCREENSHOTS=DIR`` keeps the screenshots taken (``make screenshot`` writes
docs/explorer.png this way); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from conftest import TEST_SETTINGS, unique_seed
from reference import names
from test_draw import random_network
from waitress_server import serving

from service import create_app

CHROMIUM = Path(os.environ.get("PATHGRAD_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium "
                "(Playwright comes with the test extra)", allow_module_level=True)

from playwright.sync_api import Browser, Page, Route, sync_playwright  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 60_000


def _serve(app: Any) -> Iterator[str]:
    """Run ``app`` on waitress on a free port; yield its address."""
    with serving(app, threads=8) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def base(redis_url: str, queue: str, celery_worker: subprocess.Popen[bytes]) -> Iterator[str]:
    """The API on a real HTTP server (bodies up to 8 MiB: the big network is 1.6 MB)."""
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "MAX_BODY": 8 << 20,
                      **TEST_SETTINGS})
    yield from _serve(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield found
        finally:
            found.close()


@dataclass
class Watched:
    """A page, the requests it made, and what its console said."""

    page: Page
    base: str
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (url, Authorization)
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def evaluate(self, selector: str, script: str) -> Any:
        return self.page.eval_on_selector_all(selector, script)

    def nodes(self) -> set[str]:
        return set(self.evaluate("[data-node]", "els => els.map(e => e.dataset.node)"))

    def weights(self) -> set[str]:
        return set(self.evaluate("[data-weight]", "els => els.map(e => e.dataset.weight)"))

    def lit(self) -> set[str]:
        return set(self.evaluate("[data-weight].on-path", "els => els.map(e => e.dataset.weight)"))

    def listed(self) -> list[tuple[int, float]]:
        rows = self.evaluate("[data-path-rank]", "els => els.map(e => [e.dataset.pathRank, "
                             "e.dataset.contribution])")
        return [(int(rank), float(value)) for rank, value in rows]

    def job(self) -> str:
        match = re.search(r"[?&]job=([0-9a-f]+)", self.page.url)
        assert match, self.page.url
        return match[1]


@pytest.fixture
def watch(browser: Browser, tmp_path: Path) -> Iterator[Callable[[str], Watched]]:
    """Open pages that record their requests (other hosts refused) and console errors."""
    contexts = []

    def open_page(base: str) -> Watched:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        watched = Watched(page, base)

        def route(route: Route) -> None:
            url = route.request.url
            watched.requests.append((url, route.request.all_headers().get("authorization")))
            if url == base or url.startswith(base + "/"):
                route.continue_()
            else:
                watched.foreign.append(url)
                route.abort()

        context.route("**/*", route)
        page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watched.errors.append(str(e)))
        return watched

    yield open_page
    for context in contexts:
        context.close()


def screenshot(watched: Watched, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("PATHGRAD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    watched.page.screenshot(path=str(path), full_page=True)
    return path


def api(base: str, path: str) -> Any:
    response = requests.get(base + path, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def submit(base: str, network: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    response = requests.post(f"{base}/v1/jobs?wait=30", json={"network": network,
                                                             "options": options or {}},
                             timeout=120)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def edges_of(page: dict[str, Any]) -> set[str]:
    return {weight for path in page["paths"] for weight in path["weights"]}


def test_the_seed_question_step_by_step(base: str, watch: Callable[[str], Watched],
                                        tmp_path: Path) -> None:
    seen = watch(base)
    page = seen.page
    page.goto(base + "/")
    page.wait_for_selector("[data-node='Out']")  # the seed opens by itself
    table = names([2, 3, 2, 1])
    assert seen.nodes() == {n for layer in table["nodes"] for n in layer}
    assert seen.weights() == set(table["weights"])

    page.click("[data-weight='W1'] .label")
    page.wait_for_selector("[data-path-rank='2']")
    job = seen.job()
    assert "weight=W1" in page.url
    expected = api(base, f"/v1/jobs/{job}/weights/W1/paths?limit=20")
    assert seen.lit() == edges_of(expected) == {"W1", "W7", "W13", "W10", "W14"}
    assert seen.listed() == [(p["rank"], p["contribution"]) for p in expected["paths"]]
    paths = page.inner_text("#paths")
    assert "X1 → H1 → H4 → Out (W7·W13)" in paths and "X1 → H1 → H5 → Out (W10·W14)" in paths
    assert "0.91" in paths and "1.4" in paths
    assert "Sum of the 2 paths = 2.31 = dLoss/dW1" in page.inner_text("#paths-sum")
    page.wait_for_selector("#formula math")
    steps = page.inner_text("#steps")
    for line in ("δOut = ∂Loss/∂Out · σ′(Out) = sign(Out − Y)", "= 1 · 1 = 1",
                 "δH4 = σ′(H4) · (W13·δOut)", "= 1 · (1.3·1) = 1.3",
                 "δH5 = σ′(H5) · (W14·δOut)", "δH1 = σ′(H1) · (W7·δH4 + W10·δH5)",
                 "= 1 · (0.7·1.3 + 1·1.4) = 2.31", "dLoss/dW1 = X1 · δH1"):
        assert line in steps, (line, steps)

    answer = page.get_by_label(re.compile("answer", re.I))
    answer.fill("0.91")
    answer.press("Enter")
    page.wait_for_selector("#feedback[data-diagnosis='missing_paths']")
    assert "your answer equals the path through H4 alone" in page.inner_text("#feedback")
    page.mouse.move(1, 1)  # no hover left on the picture
    shot = screenshot(seen, tmp_path, "explorer.png")
    assert shot.stat().st_size > 20_000
    answer.fill("2.31")
    answer.press("Enter")
    page.wait_for_selector("#feedback[data-diagnosis='correct']")
    assert page.inner_text("#feedback").startswith("Correct.")
    assert not seen.foreign and not seen.errors, (seen.foreign, seen.errors)


def test_a_pasted_random_network_by_keyboard(base: str, watch: Callable[[str], Watched],
                                             tmp_path: Path) -> None:
    network = random_network(11, [3, 4, 3, 2])
    seen = watch(base)
    page = seen.page
    page.goto(base + "/explore")
    page.wait_for_selector("[data-node='Out']")
    page.click("#paste summary")
    page.fill("#network-text", json.dumps(network))
    page.click("#open-paste button")
    page.wait_for_selector("[data-node='Out2']")
    table = names(network["layers"])
    assert seen.nodes() == {n for layer in table["nodes"] for n in layer}
    assert seen.weights() == set(table["weights"])
    job = seen.job()
    assert api(base, f"/explore/jobs/{job}/network")["network"]["weights"] == network["weights"]

    page.focus("[data-weight='W14']")  # an edge, reached by the keyboard
    page.keyboard.press("Enter")
    page.wait_for_selector("#selection-title:text('dLoss/dW14')")
    page.wait_for_selector("[data-path-rank]")
    expected = api(base, f"/v1/jobs/{job}/weights/W14/paths?limit=20")
    assert seen.lit() == edges_of(expected)
    assert seen.listed() == [(p["rank"], p["contribution"]) for p in expected["paths"]]
    assert page.inner_text("#details").startswith("W14: the weight from")  # focus shows it

    page.fill("#choose-name", "W2")
    page.press("#choose-name", "Enter")
    page.wait_for_selector("#selection-title:text('dLoss/dW2')")
    expected = api(base, f"/v1/jobs/{job}/weights/W2/paths?limit=20")
    page.wait_for_function(f"document.querySelectorAll('[data-path-rank]').length == "
                           f"{len(expected['paths'])}")
    assert seen.lit() == edges_of(expected)
    assert seen.listed() == [(p["rank"], p["contribution"]) for p in expected["paths"]]
    gradient = api(base, f"/v1/jobs/{job}")["result"]["weights"][1]["gradient"]
    assert f"{gradient:.4g}".replace("-", "−") in page.inner_text("#steps")
    screenshot(seen, tmp_path, "random.png")
    assert not seen.foreign and not seen.errors, (seen.foreign, seen.errors)


def test_a_neuron_by_its_address(base: str, watch: Callable[[str], Watched],
                                 tmp_path: Path) -> None:
    job = submit(base, unique_seed(3.1))
    seen = watch(base)
    seen.page.goto(f"{base}/explore?job={job}&node=H4")
    seen.page.wait_for_selector("[data-path-rank='6']")
    expected = api(base, f"/v1/jobs/{job}/paths?through=H4&limit=20")
    assert seen.lit() == edges_of(expected)
    assert seen.listed() == [(p["rank"], p["contribution"]) for p in expected["paths"]]
    flow = api(base, f"/v1/jobs/{job}/nodes/H4")
    assert f"flow {flow['flow']:.4g}" in seen.page.inner_text("#selection-intro")
    assert seen.page.is_hidden("#answer-form")  # answers are for weights
    seen.page.fill("#choose-name", "X1")  # an input: the paths that start there
    seen.page.press("#choose-name", "Enter")
    seen.page.wait_for_selector("#selection-title:text('The paths through X1')")
    expected = api(base, f"/v1/jobs/{job}/paths?through=X1&limit=20")
    seen.page.wait_for_function(f"document.querySelectorAll('[data-path-rank]').length == "
                                f"{len(expected['paths'])}")
    assert seen.lit() == edges_of(expected)
    assert "NaN" not in seen.page.inner_text("#panel")
    assert not seen.foreign and not seen.errors, (seen.foreign, seen.errors)


def test_a_big_network_is_drawn_as_blocks(base: str, watch: Callable[[str], Watched],
                                          tmp_path: Path) -> None:
    layers = [64] + [128] * 5 + [10]  # the paths issue's network: 2.7e9 paths of W1
    rng = np.random.default_rng(5)
    network = {"layers": layers, "activation": "tanh", "loss": "softmax_cross_entropy",
               "weights": [rng.normal(0, 1 / np.sqrt(m), (n, m)).round(6).tolist()
                           for m, n in zip(layers[:-1], layers[1:], strict=True)],
               "input": rng.normal(size=64).round(6).tolist(),
               "target": np.eye(10)[3].tolist()}
    job = submit(base, network, {"path_sum": False})
    seen = watch(base)
    start = time.monotonic()
    seen.page.goto(f"{base}/explore?job={job}&weight=W1")
    seen.page.wait_for_selector("[data-path-rank='20']")
    print(f"[64, 128x5, 10]: W1's top 20 paths shown {time.monotonic() - start:.2f} s after "
          "opening the page")
    assert seen.page.get_attribute("svg.pathgrad-network", "data-mode") == "blocks"
    expected = api(base, f"/v1/jobs/{job}/weights/W1/paths?limit=20")
    assert seen.lit() == seen.weights() == edges_of(expected)  # only the paths' edges
    assert seen.listed() == [(p["rank"], p["contribution"]) for p in expected["paths"]]
    assert len(seen.nodes()) < 200
    assert "paths not listed can add at most" in seen.page.inner_text("#paths-sum")
    assert "No formula" in seen.page.inner_text("#formula")
    screenshot(seen, tmp_path, "big.png")
    assert not seen.foreign and not seen.errors, (seen.foreign, seen.errors)


@pytest.fixture(scope="module")
def keyed_base(redis_url: str, queue: str,
               celery_worker: subprocess.Popen[bytes]) -> Iterator[str]:
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "API_KEYS": "staff:key-of-staff",
                      **TEST_SETTINGS})
    yield from _serve(app)


def test_with_api_keys_the_page_asks_for_one_and_sends_it_as_a_header(
        keyed_base: str, watch: Callable[[str], Watched]) -> None:
    seen = watch(keyed_base)
    page = seen.page
    page.goto(keyed_base + "/explore")
    page.wait_for_selector("#key-form:not([hidden])")
    page.get_by_label("API key").fill("key-of-staff")
    page.click("#key-form button")
    page.wait_for_selector("[data-node='Out']")
    page.click("[data-weight='W13'] .label")
    page.wait_for_selector("[data-path-rank='1']")
    assert not any("key-of-staff" in url for url, _ in seen.requests)
    protected = [(url, key) for url, key in seen.requests
                 if "/v1/" in url or "/explore/jobs/" in url]
    assert protected and all(key == "Bearer key-of-staff" for _, key in protected[1:])
    assert not seen.foreign
    # The only errors: the first request's 401, before the key was given.
    assert all("401" in error for error in seen.errors), seen.errors


def test_swagger_ui_still_works_under_the_policy(base: str,
                                                 watch: Callable[[str], Watched]) -> None:
    seen = watch(base)
    seen.page.goto(base + "/docs/")
    seen.page.locator(".opblock-summary-path", has_text="/v1/jobs").first.wait_for()
    assert seen.page.locator(".opblock").count() >= 10  # every operation, rendered
    assert not seen.foreign and not seen.errors, (seen.foreign, seen.errors)
