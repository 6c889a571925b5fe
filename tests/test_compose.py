"""docker-compose.yml and the Dockerfile: every command they run resolves in the package.

Docker does not run here, so this checks what would break a `docker compose up`:
service layout, health-gated start, and that each command names a real entry point.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
from typing import Any

import pytest
import yaml
from celery import Celery
from conftest import ROOT

from pathgrad.cli import build_parser

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def _check_command(command: list[str]) -> argparse.Namespace | None:
    """Fail unless ``command`` would start something that exists in this package.

    Returns the parsed arguments of a ``pathgrad`` command. Bare ``waitress-serve`` is
    refused: it would bypass the server that answers its own refusals in problem+json.
    """
    program, arguments = command[0], command[1:]
    if program == "pathgrad":
        parsed = build_parser().parse_args(arguments)  # SystemExit on an unknown flag
        assert parsed.command in ("serve", "api", "worker")
        runner = getattr(importlib.import_module("pathgrad.processes.runner"), parsed.command)
        assert callable(runner), f"pathgrad.processes.runner has no {parsed.command}()"
        return parsed
    if program == "celery":
        target = arguments[arguments.index("-A") + 1]
        module = pkgutil.resolve_name(target)
        assert isinstance(module.celery_app, Celery)
    elif program == "redis-server":
        assert arguments[arguments.index("--appendonly") + 1] == "yes"
    else:
        pytest.fail(f"unknown program in the compose file: {program}")
    return None


def _check_api(command: list[str]) -> None:
    """Fail unless ``command`` runs ``pathgrad api`` on every interface at port 8000."""
    parsed = _check_command(command)
    assert parsed is not None and parsed.command == "api", command
    # In a container, 127.0.0.1 would be unreachable through the published port.
    assert (parsed.host, parsed.port) == ("0.0.0.0", 8000), command


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


def test_the_api_runs_behind_pathgrad_api() -> None:
    _check_api(SERVICES["api"]["command"])


def test_dockerfile_command_resolves_and_runs_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    command = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert command is not None
    _check_api(json.loads(command.group(1)))
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
