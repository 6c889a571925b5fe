"""`pathgrad serve` as a user runs it: embedded Redis, a worker, the API; Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import ROOT, descendants, unique_seed

PATHGRAD = Path(sys.executable).parent / "pathgrad"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@contextmanager
def _serve(home: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"PATHGRAD_HOME": str(home)}
    process = subprocess.Popen(
        [str(PATHGRAD), "serve", "--port", str(port), "--workers", "1"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_healthy(base: str, process: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            status, health = _http("GET", base + "/v1/health")
            if status == 200 and health["workers"] >= 1:
                return dict(health)
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("pathgrad serve did not become healthy within 60 s")


def _stop(process: subprocess.Popen[str]) -> str:
    children = descendants(process.pid)
    assert children, "serve should run Redis and a worker as child processes"
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "a child process was left running"
    return process.stdout.read() if process.stdout else ""


def test_serve_runs_everything_and_ctrl_c_leaves_nothing_behind() -> None:
    # A short home: unix socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="pg-") as home:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with _serve(Path(home), port) as process:
            health = _wait_healthy(base, process)
            assert health["status"] == "ok" and health["redis"] is True
            status, job = _http("POST", base + "/v1/jobs?wait=30",
                                {"network": unique_seed(11.0)})
            assert status == 200 and job["status"] == "succeeded", job
            output = _stop(process)
        assert f"serving on {base}" in output
        assert "open for local use" in output
        assert (Path(home) / "pathgrad.aof").exists() or (Path(home) / "appendonlydir").exists()

        # Started again on the same home: the job is still there (append-only file).
        with _serve(Path(home), port) as process:
            _wait_healthy(base, process)
            status, again = _http("GET", f"{base}/v1/jobs/{job['id']}")
            assert status == 200 and again["result"] == job["result"]
            _stop(process)


def _embedded_servers(home: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in listing.stdout.splitlines()
            if "redis-server" in line and home in line]


def test_bad_settings_stop_serve_and_worker_with_one_line(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    cases = [
        (["serve", "--port", str(_free_port())], {"PATHGRAD_MAX_BODY": "abc"},
         "PATHGRAD_MAX_BODY: expected an integer >= 0, got 'abc'"),
        (["serve", "--port", str(_free_port())], {"PATHGRAD_API_KEYS": "alice:"},
         "PATHGRAD_API_KEYS: expected comma-separated"),
        (["worker"], {"PATHGRAD_MAX_WAIT": "-3"}, "PATHGRAD_MAX_WAIT: expected a number >= 0"),
        (["serve", "--port", "99999"], {}, "expected a port from 1 to 65535"),
    ]
    for args, env, message in cases:
        environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        done = subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT,
                              env=environment | {"PATHGRAD_HOME": home} | env,
                              capture_output=True, text=True, timeout=60, check=False)
        errors = [line for line in done.stderr.splitlines() if "error" in line]
        assert done.returncode == 2, (args, env, done.stderr)
        assert len(errors) == 1 and message in errors[0], done.stderr
        assert "Traceback" not in done.stderr
    assert _embedded_servers(home) == []  # the embedded Redis started first is stopped
