"""The Python client and `pathgrad submit` / `pathgrad batch` against a real server.

The API runs on waitress in a thread of this process (the test Redis and queue), the
jobs on the real Celery worker of conftest; the CLI runs as a subprocess, as users run it.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
import waitress
from conftest import ROOT, SEED, TEST_SETTINGS, start_worker, stop_worker, unique_seed

from pathgrad.client import APIError, Client, PathgradClientError, ServerUnreachable
from service import create_app
from worker.engine import analyze, formula, path_contributions

PATHGRAD = Path(sys.executable).parent / "pathgrad"


@contextmanager
def _serving(config: dict[str, Any]) -> Iterator[str]:
    """The API with ``config`` on waitress in a thread, on a free port; yields its URL."""
    app = create_app({"TESTING": True, **TEST_SETTINGS, **config})
    http = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.effective_port}"
    finally:
        http.close()
        http.task_dispatcher.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def server(
    redis_url: str, queue: str, celery_worker: subprocess.Popen[bytes]
) -> Iterator[str]:
    """The open API (no keys) on the test Redis and queue; yields its base URL."""
    with _serving({"REDIS_URL": redis_url, "QUEUE": queue}) as url:
        yield url


@pytest.fixture
def api(server: str) -> Iterator[Client]:
    with Client(server) as client:
        yield client


@pytest.fixture(scope="module")
def batches(redis_url: str, queue: str) -> None:
    """Skip when the batch routes are not part of the service (yet)."""
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True})
    if not any(rule.rule.startswith("/v1/batches") for rule in app.url_map.iter_rules()):
        pytest.skip("the service has no /v1/batches routes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plain(value: Any) -> Any:
    """``value`` as it comes back from JSON."""
    return json.loads(json.dumps(value))


def _pathgrad(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHGRAD_")} | (env or {})
    env["PYTHONWARNINGS"] = "error"
    return subprocess.run([str(PATHGRAD), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, input=stdin, timeout=180, check=False)


def _bad_shape() -> dict[str, Any]:
    network = _plain(SEED)
    network["weights"][1] = [[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]]
    return dict(network)


# --- the Python client ------------------------------------------------------------------


def test_submit_wait_paths_formula_give_what_the_engine_gives(api: Client) -> None:
    network = unique_seed(2.5)
    job = api.submit(network, wait=30)
    assert job["status"] == "succeeded", job
    assert job["result"] == _plain(analyze(network))

    first = api.paths(job["id"], "W1", limit=1)
    assert first == _plain(path_contributions(network, "W1", limit=1))
    rest = api.paths(job["id"], "W1", cursor=first["next_cursor"])
    contributions = [p["contribution"] for p in first["paths"] + rest["paths"]]
    assert len(contributions) == first["total_paths"] == 2
    np.testing.assert_allclose(sum(contributions), first["gradient"], rtol=1e-12)
    assert api.paths(job["id"], "W13", order="index") == _plain(
        path_contributions(network, "W13", order="index"))

    assert api.formula(job["id"], "W1") == _plain(formula(network, "W1"))


def test_submit_without_wait_then_wait_polls_until_finished(api: Client) -> None:
    network = unique_seed(3.5)
    accepted = api.submit(network, {"finite_difference": True})
    assert set(accepted) >= {"id", "status"}
    job = api.wait(accepted["id"], timeout=60)
    assert job["id"] == accepted["id"] and job["status"] == "succeeded"
    assert job["result"] == _plain(analyze(network, finite_difference=True))
    again = api.submit(network, {"finite_difference": True})
    assert again["cached"] is True and again["result"] == job["result"]


def test_an_invalid_network_raises_the_problem_with_its_fields(api: Client) -> None:
    with pytest.raises(APIError) as caught:
        api.submit(_bad_shape())
    error = caught.value
    assert isinstance(error, PathgradClientError)
    assert error.status == 422
    assert [e["field"] for e in error.errors] == ["network.weights[1]"]
    assert "network.weights[1]: expected shape (2, 3), got (3, 2)" in str(error)
    assert error.problem["type"].startswith("urn:pathgrad:problem:")

    missing = {k: v for k, v in SEED.items() if k != "loss"}
    with pytest.raises(APIError) as caught:
        api.submit(missing, {"subgradient": "sideways"})
    assert caught.value.status == 422
    assert {e["field"] for e in caught.value.errors} == {"network.loss", "options.subgradient"}


def test_grade_in_every_format(api: Client) -> None:
    network = unique_seed(7.5)
    gradients = {w["name"]: w["gradient"] for w in analyze(network)["weights"]}
    answers = {"W1": gradients["W1"], "W7": -gradients["W7"], "W13": gradients["W13"]}
    graded = api.grade(network, answers, points={"W1": 2}, ask=["W1", "W7"])
    by_name = {answer["name"]: answer for answer in graded["answers"]}
    assert by_name["W1"]["correct"] is True and by_name["W1"]["points"] == 2
    assert by_name["W7"]["correct"] is False and by_name["W7"]["diagnosis"].startswith("sign")
    assert (graded["score"], graded["max_score"]) == (2, 3)
    assert [(i["name"], i["reason"]) for i in graded["ignored"]] == [("W13", "not asked")]

    gradescope = api.grade(network, answers, points={"W1": 2}, format="gradescope",
                           ask=("W1", "W7"))
    assert [t["score"] for t in gradescope["tests"]] == [2, 0] and "score" not in gradescope
    junit = ElementTree.fromstring(api.grade(network, answers, format="junit", ask=["W1", "W7"]))
    cases = junit.iter("testcase")
    assert [case.find("failure") is None for case in cases] == [True, False]

    with pytest.raises(APIError) as caught:  # the server grades only what was asked
        api.grade(network, answers)
    assert caught.value.status == 422 and [e["field"] for e in caught.value.errors] == ["ask"]

    credited = api.grade(network, answers, ask=["W7"], tolerance={"sigfig": 3},
                         partial={"sign_error": 0.5}, format="gradescope",
                         visibility="after_published")
    assert [t["score"] for t in credited["tests"]] == [0.5]
    assert credited["visibility"] == "after_published" and credited["execution_time"] >= 0


def test_unknown_job_and_weight_are_404(api: Client) -> None:
    with pytest.raises(APIError) as caught:
        api.wait("no-such-job", timeout=5)
    assert caught.value.status == 404 and "no-such-job" in caught.value.detail
    job = api.submit(unique_seed(4.5), wait=30)
    with pytest.raises(APIError) as caught:
        api.paths(job["id"], "W99")
    assert caught.value.status in (404, 422) and "W99" in str(caught.value)


def test_a_server_that_is_not_there_is_named_in_the_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with Client(url, timeout=5) as client, pytest.raises(ServerUnreachable) as caught:
        client.submit(SEED)
    assert url in str(caught.value) and "refused" in str(caught.value).lower()
    assert caught.value.status is None


def test_the_api_key_is_sent_as_a_bearer_token(
    redis_url: str, queue: str, celery_worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    config = {"REDIS_URL": redis_url, "QUEUE": queue, "API_KEYS": "alice:k-one,bob:k-two"}
    network = unique_seed(8.5)
    with _serving(config) as url:
        with Client(url) as anonymous, pytest.raises(APIError) as caught:
            anonymous.submit(network)
        assert caught.value.status == 401 and "API key" in caught.value.detail
        with Client(url, api_key="k-one") as alice, Client(url, api_key="k-two") as bob:
            job = alice.submit(network, wait=30)
            assert job["status"] == "succeeded"
            with pytest.raises(APIError) as caught:
                bob.job(job["id"])
            assert caught.value.status == 404

        path = tmp_path / "net.json"
        path.write_text(json.dumps(network))
        done = _pathgrad("submit", str(path), "--url", url, "--wait", "30", "--format", "json",
                         env={"PATHGRAD_API_KEY": "k-two"})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["result"] == job["result"]
        refused = _pathgrad("submit", str(path), "--url", url, "--api-key", "wrong")
        assert refused.returncode == 2
        assert refused.stderr.startswith("pathgrad: error: 401 Unauthorized: ")


def test_importing_the_client_loads_neither_flask_nor_celery() -> None:
    # The package __init__ builds the app; stand in a bare package so only the
    # client module's own imports are measured.
    code = (
        "import sys, types\n"
        "package = types.ModuleType('service'); package.__path__ = ['service']\n"
        "sys.modules['service'] = package\n"
        "import pathgrad.client\n"
        "print(sorted(m for m in ('flask', 'celery', 'redis', 'numpy') if m in sys.modules))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout
    assert output.strip() == "[]"


# --- batches ----------------------------------------------------------------------------


def _batch_jobs() -> list[dict[str, Any]]:
    """Seven jobs, the third and sixth invalid; jobs and bare networks mixed."""
    jobs: list[dict[str, Any]] = []
    for number in range(7):
        network = unique_seed(10.0 + number)
        if number in (2, 5):
            network = _bad_shape()
        jobs.append({"network": network, "options": {}} if number % 2 else network)
    return jobs


@pytest.mark.usefixtures("batches")
@pytest.mark.parametrize("chunk", [10_000, 3])
def test_batch_yields_every_line_in_order_invalid_ones_failed(api: Client, chunk: int) -> None:
    jobs = _batch_jobs()
    results = api.batch(jobs, chunk=chunk)
    assert results.total == 7 and len(results.ids) == (1 if chunk > 7 else 3)
    lines = list(results)
    assert [line["index"] for line in lines] == list(range(7))
    for number, line in enumerate(lines):
        if number in (2, 5):
            assert line["status"] == "failed"
            assert line["error"]["status"] == 422
            assert line["error"]["errors"][0]["field"] == "network.weights[1]"
        else:
            assert line["status"] == "succeeded", line
            assert line["result"] == _plain(analyze(unique_seed(10.0 + number)))


@pytest.mark.usefixtures("batches")
def test_batch_status_counts_the_finished_batch(api: Client) -> None:
    results = api.batch(_batch_jobs())
    assert len(list(results)) == 7
    status = api.batch_status(results.ids[0])
    assert (status["total"], status["succeeded"], status["failed"], status["pending"]) == (
        7, 5, 2, 0)


@pytest.mark.usefixtures("batches")
def test_batch_reopens_the_stream_where_it_stopped(
    redis_url: str, queue: str, celery_worker: subprocess.Popen[bytes]
) -> None:
    # BATCH_WAIT 0: each results stream ends as soon as it reaches an unfinished line, so
    # the client must reopen it with ?start= until every line has come.
    jobs = [unique_seed(1000.0 + number + np.random.default_rng().random())
            for number in range(20)]
    starts: list[int] = []

    def record(response: Any, *args: Any, **kwargs: Any) -> None:
        if response.request.url and "/results" in response.request.url:
            starts.append(int(response.request.url.rsplit("start=", 1)[1]))

    with _serving({"REDIS_URL": redis_url, "QUEUE": queue, "BATCH_WAIT": 0}) as url, \
            Client(url) as client:
        client._session.hooks["response"].append(record)
        lines = list(client.batch(jobs))
    assert [line["index"] for line in lines] == list(range(20))
    assert [line["result"] for line in lines] == [_plain(analyze(job)) for job in jobs]
    # Each reopening starts at the lines read so far: never back at the start.
    assert starts[0] == 0 and starts == sorted(starts) and starts[-1] < 20


@pytest.mark.usefixtures("batches")
def test_resume_reads_on_from_any_line(api: Client) -> None:
    jobs = [unique_seed(8300.25 + number) for number in range(7)]
    results = api.batch(jobs, chunk=3)
    everything = list(results)
    for start in (0, 2, 3, 4, 7):
        resumed = api.resume(results.ids, start=start)
        assert resumed.total == 7 and resumed.start == start
        assert list(resumed) == everything[start:]


@pytest.mark.usefixtures("batches")
def test_resume_sends_the_jobs_an_interrupted_submission_had_not_sent(api: Client) -> None:
    jobs = [unique_seed(8400.25 + number) for number in range(7)]
    sent = api.batch(jobs[:3])
    resumed = api.resume(sent.ids, jobs=jobs[3:], chunk=2)
    assert len(resumed.ids) == 3 and resumed.total == 7
    lines = list(resumed)
    assert [line["index"] for line in lines] == list(range(7))
    assert [line["result"] for line in lines] == [_plain(analyze(job)) for job in jobs]


# --- the command line -------------------------------------------------------------------


def test_cli_submit_prints_the_finished_job(server: str, tmp_path: Path) -> None:
    network = unique_seed(5.5)
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"network": network, "options": {}}))
    done = _pathgrad("submit", str(path), "--url", server, "--wait", "30", "--format", "json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["result"] == _plain(analyze(network))

    table = _pathgrad("submit", "-", "--url", server, "--wait", "30",
                      stdin=json.dumps(network))
    assert table.returncode == 0, table.stderr
    head = table.stdout.splitlines()[0]
    assert head.startswith("job ") and head.endswith(": succeeded (cached)")
    assert "W13" in table.stdout and "agreement: ok" in table.stdout


def test_cli_submit_without_wait_prints_the_id_and_status(server: str, tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(unique_seed(6.5)))
    done = _pathgrad("submit", str(path), "--url", server, "--format", "json")
    assert done.returncode == 0, done.stderr
    accepted = json.loads(done.stdout)
    assert set(accepted) == {"id", "status"} and accepted["status"] in ("queued", "running")
    with Client(server) as client:
        assert client.wait(accepted["id"], timeout=60)["status"] == "succeeded"


def test_cli_submit_of_an_invalid_network_is_one_line_and_exit_2(
    server: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_bad_shape()))
    done = _pathgrad("submit", str(path), "--url", server)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "pathgrad: error: 422 Invalid network: network.weights[1]: expected shape (2, 3), "
        "got (3, 2)"]


@pytest.mark.usefixtures("batches")
def test_cli_batch_writes_every_line_and_exits_1_when_some_failed(
    server: str, tmp_path: Path
) -> None:
    jobs = _batch_jobs()
    source = tmp_path / "jobs.ndjson"
    source.write_text("\n".join(json.dumps(job) for job in jobs) + "\n\n")
    out = tmp_path / "results.ndjson"
    done = _pathgrad("batch", str(source), "--url", server, "--out", str(out))
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["index"] for line in lines] == list(range(7))
    assert [line["status"] for line in lines].count("failed") == 2
    progress = done.stderr.splitlines()
    assert "\r" not in done.stderr  # no progress bar when stderr is not a terminal
    assert progress[0].endswith(": 7 jobs submitted")
    assert progress[-1].endswith(": 7/7 done, 2 failed")
    assert all(" done, " in line for line in progress[1:])


@pytest.mark.usefixtures("batches")
def test_cli_batch_of_a_json_body_to_stdout_exits_0(server: str) -> None:
    networks = [unique_seed(20.0 + number) for number in range(3)]
    body = json.dumps({"jobs": [{"network": n, "options": {}} for n in networks]})
    done = _pathgrad("batch", "-", "--url", server, "--chunk", "2", stdin=body)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["result"] for line in lines] == [_plain(analyze(n)) for n in networks]
    assert done.stderr.splitlines()[-1].endswith(": 3/3 done, 0 failed")


def test_cli_batch_without_a_server_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "jobs.ndjson"
    source.write_text(json.dumps(SEED) + "\n")
    url = f"http://127.0.0.1:{_free_port()}"
    done = _pathgrad("batch", str(source), "--url", url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"pathgrad: error: cannot connect to {url}: Connection refused"]


def test_cli_batch_names_the_line_that_is_not_json(tmp_path: Path) -> None:
    source = tmp_path / "jobs.ndjson"
    source.write_text(json.dumps(SEED) + "\n{not json\n")
    done = _pathgrad("batch", str(source), "--url", f"http://127.0.0.1:{_free_port()}")
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"pathgrad: error: {source}:2: not valid JSON")


def _wait_for_line(stream: Any, text: str, timeout: float = 60) -> list[str]:
    """Read ``stream`` line by line until one contains ``text``; the lines read."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"no line with {text!r} in {seen}")


@contextmanager
def _api_process(redis_url: str, queue: str) -> Iterator[str]:
    """`pathgrad api` in its own process, on a queue of its own (a Celery app per process:
    another queue in this process would take this process's tasks along); yields its URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHGRAD_")}
    env |= {"REDIS_URL": redis_url, "PATHGRAD_QUEUE": queue}
    env |= {f"PATHGRAD_{key}": str(value) for key, value in TEST_SETTINGS.items()}
    process = subprocess.Popen([str(PATHGRAD), "api", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(url, timeout=2) as client:
                    client.health()
                break
            except PathgradClientError:
                assert process.poll() is None and time.monotonic() < deadline, "no API"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.usefixtures("batches")
def test_cli_batch_interrupted_says_how_to_resume_and_resumes(
    redis_url: str, queue: str, tmp_path: Path
) -> None:
    # A queue no worker consumes yet: the batch waits on the server, Ctrl-C comes mid-run.
    idle_queue = f"pathgrad-resume-{uuid.uuid4().hex[:8]}"
    jobs = [_bad_shape()] + [unique_seed(8500.25 + number) for number in range(6)]
    source = tmp_path / "jobs.ndjson"
    source.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    out = tmp_path / "results.ndjson"
    with _api_process(redis_url, idle_queue) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATHGRAD_")}
        process = subprocess.Popen(
            [str(PATHGRAD), "batch", str(source), "--url", url, "--out", str(out),
             "--chunk", "4"], stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        try:
            assert process.stderr is not None
            _wait_for_line(process.stderr, "7 jobs submitted")
            process.send_signal(signal.SIGINT)
            rest = process.stderr.read()
            assert process.wait(timeout=60) == 130
        finally:
            process.kill()
            process.wait()
            if process.stderr is not None:
                process.stderr.close()
        (hint,) = [line for line in rest.splitlines() if "Resume with:" in line]
        assert hint.startswith("pathgrad: interrupted after ")
        command = shlex.split(hint.split("Resume with: ", 1)[1])
        assert command[:3] == ["pathgrad", "batch", "--resume"]
        assert len(command[3].split(",")) == 2  # two server batches of up to 4 jobs
        assert command[4:] == ["--out", str(out), "--url", url]
        written = out.read_text().splitlines()
        assert len(written) <= 1  # at most the invalid line: no worker has run a job
        worker = start_worker(redis_url, idle_queue)
        try:
            done = _pathgrad(*command[1:])
        finally:
            stop_worker(worker)
            # start_worker made an app of the idle queue Celery's default in this process:
            # make the session queue's the default again, or later tasks go to the idle one.
            create_app({"REDIS_URL": redis_url, "QUEUE": queue, "TESTING": True})
    assert done.returncode == 1, done.stderr  # the invalid job failed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["index"] for line in lines] == list(range(7))
    assert lines[0]["status"] == "failed"
    assert [line["result"] for line in lines[1:]] == [_plain(analyze(job)) for job in jobs[1:]]
    assert done.stderr.splitlines()[-1].endswith(": 7/7 done, 1 failed")


@pytest.mark.usefixtures("batches")
def test_cli_batch_resume_with_the_file_sends_what_was_not_sent(
    api: Client, server: str, tmp_path: Path
) -> None:
    jobs = [unique_seed(8600.25 + number) for number in range(5)]
    source = tmp_path / "jobs.ndjson"
    source.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    sent = api.batch(jobs[:2])
    out = tmp_path / "results.ndjson"
    sent_lines = [json.dumps(line, separators=(",", ":")) for line in api.resume(sent.ids)]
    out.write_text(sent_lines[0] + "\n" + '{"index":1,"sta')  # cut off mid-line by Ctrl-C
    done = _pathgrad("batch", str(source), "--resume", sent.ids[0], "--url", server,
                     "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["index"] for line in lines] == list(range(5))
    assert [line["result"] for line in lines] == [_plain(analyze(job)) for job in jobs]
    assert json.dumps(lines[0], separators=(",", ":")) == sent_lines[0]
    stdout = _pathgrad("batch", "--resume", sent.ids[0], "--start", "1", "--url", server)
    assert [json.loads(line)["index"] for line in stdout.stdout.splitlines()] == [1]


@pytest.mark.parametrize(("argv", "message"), [
    (["batch"], "FILE: give the jobs file"),
    (["batch", "--resume", "abc", "--start", "3", "--out", "x.ndjson"], "--start: only with"),
    (["batch", "jobs.ndjson", "--start", "3"], "--start: only with"),
])
def test_cli_batch_resume_misuse_is_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "jobs.ndjson").write_text(json.dumps(SEED) + "\n")
    argv = [str(tmp_path / a) if a.endswith(".ndjson") else a for a in argv]
    done = _pathgrad(*argv, "--url", f"http://127.0.0.1:{_free_port()}")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert message in done.stderr, done.stderr
