"""docker-compose.yml and the Dockerfile: every command they run resolves in the package.

Docker does not run here, so this checks what would break a `docker compose up`:
service layout, health-gated start, and that each command names a real entry point.
"""

from __future__ import annotations

import json
import pkgutil
import re
from typing import Any

import pytest
import yaml
from celery import Celery
from conftest import ROOT
from waitress.adjustments import Adjustments

from service.cli import build_parser

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def _check_command(command: list[str]) -> None:
    """Fail unless ``command`` would start something that exists in this package."""
    program, arguments = command[0], command[1:]
    if program == "waitress-serve":
        options, targets = Adjustments.parse_args(arguments)
        assert options["call"] is True and len(targets) == 1
        factory = pkgutil.resolve_name(targets[0])
        assert callable(factory) and factory.__name__ == "create_app"
    elif program == "pathgrad":
        parsed = build_parser().parse_args(arguments)  # SystemExit on an unknown flag
        assert parsed.command in ("serve", "worker")
    elif program == "celery":
        target = arguments[arguments.index("-A") + 1]
        module = pkgutil.resolve_name(target)
        assert isinstance(module.celery_app, Celery)
    elif program == "redis-server":
        assert arguments[arguments.index("--appendonly") + 1] == "yes"
    else:
        pytest.fail(f"unknown program in the compose file: {program}")


def test_services_are_redis_api_and_a_scalable_worker() -> None:
    assert set(SERVICES) == {"redis", "api", "worker"}
    redis = SERVICES["redis"]
    assert re.fullmatch(r"redis:[\w.-]+", redis["image"]), "the official Redis image"
    assert "ports" not in redis, "Redis must not be published to the host"
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert redis["volumes"][0].endswith(":/data")
    for name in ("api", "worker"):
        service = SERVICES[name]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    assert SERVICES["api"]["ports"] == ["127.0.0.1:8000:8000"]
    worker = SERVICES["worker"]
    assert "ports" not in worker and "container_name" not in worker, "--scale needs neither"


@pytest.mark.parametrize("name", ["redis", "api", "worker"])
def test_each_compose_command_resolves(name: str) -> None:
    _check_command(SERVICES[name]["command"])


def test_dockerfile_command_resolves_and_runs_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    command = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert command is not None
    _check_command(json.loads(command.group(1)))
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
