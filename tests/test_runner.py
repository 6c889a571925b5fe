"""`pathgrad serve` as a user runs it: embedded Redis, a worker, the API; Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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


class _Output:
    """The lines a subprocess prints, collected as they come (stderr merged into stdout)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        except ValueError:
            pass  # closed by a failed test's clean-up while still reading

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """Return the first line containing ``text``, once it has been printed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (found := [line for line in self.lines if text in line]):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reader.is_alive():
                    raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(self.lines))
                self._changed.wait(min(remaining, 0.5))
            return found[0]

    def text(self) -> str:
        """Everything printed, once the process has closed its output."""
        self._reader.join(30)
        return "\n".join(self.lines)


@contextmanager
def _serve(
    home: Path, port: int, workers: int = 1, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"PATHGRAD_HOME": str(home)}
    process = subprocess.Popen(
        [str(PATHGRAD), "serve", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield process
    finally:
        _kill_tree(process)


def _kill_tree(process: subprocess.Popen[str]) -> None:
    """Kill a process still running and all below it (a failed test leaves nothing)."""
    if process.poll() is None:
        children = descendants(process.pid)
        process.kill()
        process.wait()
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if process.stdout is not None:
        process.stdout.close()


def _wait_healthy(base: str, process: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "pathgrad serve exited"
        try:
            status, health = _http("GET", base + "/v1/health")
            if status == 200 and health["workers"] >= 1:
                return dict(health)
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("pathgrad serve did not become healthy within 60 s")


def _stop(process: subprocess.Popen[str]) -> None:
    children = descendants(process.pid)
    assert children, "serve should run Redis and a worker as child processes"
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "a child process was left running"


def test_serve_runs_everything_and_ctrl_c_leaves_nothing_behind() -> None:
    # A short home: unix socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="pg-") as home:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with _serve(Path(home), port, workers=2) as process:
            output = _Output(process)
            output.wait_for("press Ctrl-C")
            # "serving" comes once the worker is ready: health agrees at once, and it
            # counts the worker processes as the start-up line does.
            status, health = _http("GET", base + "/v1/health")
            assert status == 200 and health["status"] == "ok" and health["redis"] is True
            assert health["workers"] == 2 and health["nodes"] == 1, health
            assert output.wait_for("workers:") == "pathgrad: workers: 2 process(es)"
            status, job = _http("POST", base + "/v1/jobs?wait=30",
                                {"network": unique_seed(11.0)})
            assert status == 200 and job["status"] == "succeeded", job
            _stop(process)
            text = output.text()
        assert f"serving on {base}" in text
        assert "open for local use" in text
        assert "Traceback" not in text
        assert (Path(home) / "pathgrad.aof").exists() or (Path(home) / "appendonlydir").exists()

        # Started again on the same home: the job is still there (append-only file).
        with _serve(Path(home), port) as process:
            _wait_healthy(base, process)
            status, again = _http("GET", f"{base}/v1/jobs/{job['id']}")
            assert status == 200 and again["result"] == job["result"]
            _stop(process)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``pathgrad args`` to its end (killing all it started if it does not end)."""
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | env
    # Files, not pipes: a grandchild left running would hold a pipe open forever.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([str(PATHGRAD), *args], cwd=ROOT, env=environment,
                                   stdout=out, stderr=err, text=True)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            raise AssertionError(f"pathgrad {' '.join(args)} did not stop within 60 s") from None
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(process.args, code, out.read(), err.read())


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "serving" not in done.stdout
    return done.stderr.strip()


def test_a_taken_port_is_one_line_and_starts_nothing(tmp_path: Path, redis_url: str) -> None:
    home = tmp_path / "home"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # serve with its embedded Redis; the API alone for a Redis that answers.
        for command, env in (("serve", {}), ("api", {"REDIS_URL": redis_url})):
            done = _run([command, "--port", str(port)], {"PATHGRAD_HOME": str(home)} | env)
            line = _one_error_line(done)
            assert line == (f"pathgrad: error: cannot listen on 127.0.0.1:{port}: "
                            "address already in use"), line
    # Redis was never started (it would have made its home and log), nor a worker.
    assert not (home / "redis.log").exists() and _embedded_servers(str(home)) == []


def test_an_unreachable_redis_url_is_one_line_without_its_password(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = "redis://:hunter2@127.0.0.1:1/0"
    for command in ("serve", "api"):
        done = _run([command, "--port", str(_free_port())],
                    {"PATHGRAD_HOME": str(home), "REDIS_URL": url})
        line = _one_error_line(done)
        assert "cannot reach Redis at redis://:***@127.0.0.1:1/0" in line, line
        assert "hunter2" not in done.stdout + done.stderr
    assert not home.exists(), "nothing may start for a Redis that does not answer"


def test_api_serves_the_app_behind_the_problem_server(redis_url: str, queue: str) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()} | {"REDIS_URL": redis_url,
                                                   "PATHGRAD_QUEUE": queue}
    process = subprocess.Popen(
        [str(PATHGRAD), "api", "--port", str(port), "--threads", "4"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output = _Output(process)
        output.wait_for(f"serving the API on http://127.0.0.1:{port}")
        status, health = _http("GET", f"http://127.0.0.1:{port}/v1/health")
        assert status == 200 and health["redis"] is True
        # A request waitress refuses itself, answered as the app answers errors.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"garbage\r\n\r\n")
            answer = sock.makefile("rb").read()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 400 ") and b"application/problem+json" in head
        assert json.loads(body)["status"] == 400
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert "pathgrad: stopping" in output.text()
    finally:
        _kill_tree(process)


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
        done = subprocess.run([sys.executable, "-m", "pathgrad", *args], cwd=ROOT,
                              env=environment | {"PATHGRAD_HOME": home} | env,
                              capture_output=True, text=True, timeout=60, check=False)
        errors = [line for line in done.stderr.splitlines() if "error" in line]
        assert done.returncode == 2, (args, env, done.stderr)
        assert len(errors) == 1 and message in errors[0], done.stderr
        assert "Traceback" not in done.stderr
    assert _embedded_servers(home) == []  # the embedded Redis started first is stopped


def test_serve_from_a_folder_of_modules_named_like_pathgrads_runs_pathgrads_own() -> None:
    # A project folder with its own worker.py, service.py and celery.py: the worker was
    # started as `python -m celery`, which ran them (and died) instead of pathgrad's.
    with tempfile.TemporaryDirectory(prefix="pg-") as home, \
            tempfile.TemporaryDirectory(prefix="pg-project-") as project:
        for name in ("worker.py", "service.py", "celery.py"):
            (Path(project) / name).write_text("raise SystemExit('imported the wrong module')\n")
        port = _free_port()
        with _serve(Path(home), port, cwd=Path(project)) as process:
            health = _wait_healthy(f"http://127.0.0.1:{port}", process)
            assert health["status"] == "ok"
            status, job = _http("POST", f"http://127.0.0.1:{port}/v1/jobs?wait=30",
                                {"network": unique_seed(401.0)})
            assert status == 200 and job["status"] == "succeeded", job
            _stop(process)
