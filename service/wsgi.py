"""The API's HTTP server: waitress, with the answers it gives itself in problem+json.

waitress answers some requests without calling the app: a malformed request line or
URI (400), a bad chunked body (400), a request line and headers over its limit (431),
a body over its own limit (413), an unsupported transfer coding (501), and a 500 when
the app raised where Flask's error handler cannot see it (inside a streamed body,
before its first byte). Its stock answers are ``text/plain``; this server's error task
writes them as RFC 9457 problem details, as the app writes every other error.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from worker.problems import problem

from .problems import MEDIA_TYPE

__all__ = ["Server", "create_server", "error_problem"]


class Server(Protocol):
    """What :func:`create_server` returns: run until interrupted, then close."""

    def run(self) -> None: ...

    def close(self) -> None: ...


def error_problem(error: Any, adjustments: Adjustments) -> dict[str, Any]:
    """Return the problem details of one of waitress's own errors (``utilities.Error``)."""
    code = int(error.code)
    if code == 431:
        limit = adjustments.max_request_header_size
        return problem(431, error.reason, f"the request line and headers are over {limit} "
                       "bytes", slug="headers-too-large", limit=limit)
    if code == 413:
        limit = adjustments.max_request_body_size
        return problem(413, "Request body too large", f"the body is over {limit} bytes",
                       slug="body-too-large", limit=limit)
    if code >= 500 and code != 501:
        # Its text may be a traceback (expose_tracebacks); waitress has logged it.
        return problem(code, "Internal Server Error", "an unexpected error; it has been logged")
    detail = str(error.body).strip() or error.reason
    return problem(code, error.reason, f"malformed request: {detail}" if code == 400 else detail)


class _ProblemErrorTask(ErrorTask):
    """waitress's error task, writing a problem details body."""

    def execute(self) -> None:
        error = self.request.error
        body = json.dumps(error_problem(error, self.channel.server.adj)).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", MEDIA_TYPE))
        self.set_close_on_finish()
        self.content_length = len(body)
        # A HEAD answer has the headers of the full one and no body (RFC 9110, 9.3.2).
        self.write(b"" if getattr(self.request, "command", None) == "HEAD" else body)


class _ProblemChannel(HTTPChannel):
    error_task_class = _ProblemErrorTask


class _ProblemServer(TcpWSGIServer):
    channel_class = _ProblemChannel


def create_server(app: Any, *, host: str, port: int, threads: int) -> Server:
    """Bind ``host:port`` and return a waitress server of ``app`` (not yet running).

    Raises ``OSError`` when the address cannot be resolved or bound; then nothing is left
    open. As ``waitress.create_server`` does, a host that resolves to several addresses
    (``localhost``: IPv4 and IPv6) gets one listening socket each.
    """
    adjustments = Adjustments(host=host, port=port, threads=threads)
    socket_map: dict[int, Any] = {}
    dispatcher = ThreadedTaskDispatcher()
    try:
        servers = [
            _ProblemServer(app, socket_map, dispatcher=dispatcher, adj=adjustments, sockinfo=info)
            for info in adjustments.listen
        ]
    except OSError:
        # A half-built server stays in the map (its socket and wake-up pipe).
        wasyncore.close_all(socket_map)
        raise
    # The threads start only once every socket is bound: a failed bind leaves none.
    dispatcher.set_thread_count(adjustments.threads)
    if len(servers) == 1:
        server: Server = servers[0]
        return server
    listening = [(each.effective_host, each.effective_port) for each in servers]
    multi: Server = MultiSocketServer(socket_map, adjustments, listening, dispatcher,
                                      servers[-1].log_info)
    return multi
