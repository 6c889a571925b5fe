"""The API's HTTP server over a real socket: what waitress answers itself is problem+json.

Requests are sent as raw bytes (a client library would refuse to send most of them) to
the server of ``service.wsgi`` listening on an ephemeral port, with the real app.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Response
from waitress_server import serving

from service import create_app
from service.models import Problem
from service.problems import MEDIA_TYPE
from service.wsgi import create_server


class _Replay:
    """A socket stand-in that hands ``http.client`` the bytes a server sent."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.data)


def _broken_stream() -> Response:
    """A streamed body that fails before its first line: Flask's handler never sees it."""

    def lines() -> Iterator[bytes]:
        raise RuntimeError("the stream broke before its first line")
        yield b""  # a generator: the error comes while waitress iterates

    return Response(lines(), mimetype="application/x-ndjson")


@pytest.fixture(scope="module")
def port(redis_url: str, queue: str) -> Iterator[int]:
    """The port of the API's server, running the real app (and one broken route)."""
    app = create_app({"REDIS_URL": redis_url, "QUEUE": queue})
    app.add_url_rule("/test/broken-stream", view_func=_broken_stream)
    with serving(app, threads=2) as bound:
        yield bound


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` on a new connection; return every byte the server sent back."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed before reading all of a huge request
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # closed with our unread bytes still queued: its answer came first
    return received


def _response(raw: bytes, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
    response = http.client.HTTPResponse(_Replay(raw), method=method)  # type: ignore[arg-type]
    response.begin()
    return response, response.read()


def _problem(raw: bytes, status: int) -> dict[str, Any]:
    response, body = _response(raw)
    assert response.status == status, raw[:500]
    assert response.getheader("Content-Type") == MEDIA_TYPE, raw[:500]
    problem = json.loads(body)
    Problem.model_validate(problem)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return dict(problem)


def _request(method: str, target: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1",
             b"Connection: close", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        pytest.param(_request("GET", b"/v1/jobs/" + b"a" * 300_000), 431, "262144",
                     id="300 kB URL"),
        pytest.param(_request("GET", b"/v1/health", b"X-Big: " + b"b" * 300_000), 431,
                     "262144", id="headers too large"),
        pytest.param(b"garbage\r\n\r\n", 400, "malformed request", id="malformed request line"),
        pytest.param(_request("GET", b"/v1/jobs/\xff\xfe"), 400, "URI", id="raw invalid UTF-8"),
        pytest.param(_request("POST", b"/v1/jobs", b"Transfer-Encoding: chunked",
                              body=b"zz\r\n{}\r\n0\r\n\r\n"), 400, "chunk",
                     id="bad chunked encoding"),
        pytest.param(_request("POST", b"/v1/jobs", b"Content-Length: many"), 400,
                     "Content-Length", id="bad Content-Length"),
        pytest.param(_request("POST", b"/v1/jobs", b"Content-Length: 5000000000"), 413,
                     "bytes", id="body over the server's limit"),
        pytest.param(_request("POST", b"/v1/jobs", b"Transfer-Encoding: gzip"), 501,
                     "Transfer-Encoding", id="unsupported transfer coding"),
        pytest.param(_request("GET", b"/test/broken-stream"), 500, "unexpected",
                     id="error inside a streamed body"),
        pytest.param(_request("GET", b"/v1/jobs/%ff"), 404, "job",
                     id="percent-encoded invalid UTF-8"),
    ],
)
def test_every_refusal_is_problem_json(
    port: int, request_bytes: bytes, status: int, words: str
) -> None:
    problem = _problem(_exchange(port, request_bytes), status)
    assert words in problem["detail"], problem


def test_a_server_error_shows_no_traceback(port: int) -> None:
    problem = _problem(_exchange(port, _request("GET", b"/test/broken-stream")), 500)
    assert "RuntimeError" not in json.dumps(problem) and "Traceback" not in json.dumps(problem)


def test_head_of_a_refused_request_has_the_headers_and_no_body(port: int) -> None:
    full = _exchange(port, _request("GET", b"/v1/jobs/\xff"))
    head = _exchange(port, _request("HEAD", b"/v1/jobs/\xff"))
    response, body = _response(full)
    headers, _, after = head.partition(b"\r\n\r\n")
    assert after == b"", "a HEAD answer must not carry a body"
    head_response, _ = _response(head, method="HEAD")
    assert head_response.status == response.status == 400
    assert head_response.getheader("Content-Type") == MEDIA_TYPE
    assert head_response.getheader("Content-Length") == str(len(body))


def test_head_of_a_route_is_its_get_without_the_body(port: int) -> None:
    for target in (b"/v1/health", b"/v1/jobs/0123abcd"):
        get, get_body = _response(_exchange(port, _request("GET", target)))
        head_raw = _exchange(port, _request("HEAD", target))
        head, _ = _response(head_raw, method="HEAD")
        assert head_raw.partition(b"\r\n\r\n")[2] == b""
        assert (head.status, head.getheader("Content-Type")) == (get.status,
                                                                 get.getheader("Content-Type"))
        assert head.getheader("Content-Length") == str(len(get_body)) != "0"


def test_options_of_a_route_is_204_with_allow(port: int) -> None:
    for target, methods in ((b"/v1/jobs", {"POST", "OPTIONS"}),
                            (b"/v1/jobs/0123abcd", {"GET", "HEAD", "OPTIONS"})):
        raw = _exchange(port, _request("OPTIONS", target))
        response, body = _response(raw)
        assert response.status == 204 and body == b""
        assert methods <= {m.strip() for m in response.getheader("Allow", "").split(",")}
        assert response.getheader("Content-Type") is None, "nothing to describe: no body"


def test_options_of_an_unknown_path_is_a_404_problem(port: int) -> None:
    for target in (b"/nowhere", b"*"):
        _problem(_exchange(port, _request("OPTIONS", target)), 404)


def test_a_taken_address_raises_and_leaves_nothing_open(redis_url: str) -> None:
    app = create_app({"REDIS_URL": redis_url})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        before = threading.active_count()
        with pytest.raises(OSError, match="in use"):
            create_server(app, host="127.0.0.1", port=busy, threads=4)
        assert threading.active_count() == before, "no request thread may start"
