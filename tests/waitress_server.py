"""A real HTTP server for tests: the app on waitress, on a free port, stopped afterwards."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from waitress import wasyncore

from service.wsgi import create_server

__all__ = ["serving"]


@contextlib.contextmanager
def serving(app: Any, threads: int) -> Iterator[int]:
    """Run ``app`` on pathgrad's waitress server on a free port; yield the port."""
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=threads)
    stop = threading.Event()

    def loop() -> None:
        # server.run() only ends on a signal: step its loop until the tests are done.
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        stop.set()
        thread.join()
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
