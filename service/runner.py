"""``pathgrad serve`` and ``pathgrad worker``: the whole service, or one worker.

``serve`` runs, in this order: Redis (the embedded one unless ``REDIS_URL`` is set),
one Celery worker (a subprocess with a pool of ``workers`` processes) and the API on
waitress in this process. Ctrl-C or SIGTERM stops them in the reverse order, so no
task is cut off from its broker, and nothing is left running.
"""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType

import waitress

from worker.store import Store

from .app import create_app
from .embedded import EmbeddedRedis, EmbeddedRedisError
from .settings import ConfigError, pathgrad_home

__all__ = ["serve", "start_worker", "stop_worker", "wait_for_worker", "worker"]

# Seconds a worker gets to finish its current tasks (warm shutdown) before a cold one.
WARM_SHUTDOWN = 10.0
COLD_SHUTDOWN = 5.0
# Waiting requests hold a thread each (bounded by PATHGRAD_MAX_WAITERS, default 24).
API_THREADS = 32


def serve(host: str, port: int, workers: int | None) -> int:
    """Run Redis (embedded by default), a Celery worker pool and the API; return the exit code."""
    workers = workers or os.cpu_count() or 1
    embedded: EmbeddedRedis | None = None
    celery: subprocess.Popen[bytes] | None = None
    server = None
    stopping = threading.Event()
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            embedded = EmbeddedRedis(pathgrad_home()).start()
            redis_url = embedded.url
        app = create_app({"REDIS_URL": redis_url})
        server = waitress.create_server(app, host=host, port=port, threads=API_THREADS)
        celery = start_worker(redis_url, workers)
        _announce(host, port, workers, embedded, keys=len(app.extensions["pathgrad_keys"]))
        watcher = threading.Thread(target=_watch, args=(celery, stopping), daemon=True)
        watcher.start()
        with _stop_on_sigterm():
            server.run()
        if celery.poll() is not None:
            _say(f"the worker exited with code {celery.returncode}; stopping")
            return 1
        _say("stopping")
        return 0
    except ConfigError as exc:
        _error(str(exc))
        return 2
    except (EmbeddedRedisError, OSError) as exc:
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    finally:
        stopping.set()
        if server is not None:
            server.close()
        if celery is not None:
            stop_worker(celery)
        if embedded is not None:
            embedded.stop()


def worker(concurrency: int | None, loglevel: str) -> int:
    """Run one Celery worker on ``REDIS_URL`` in this process; return its exit code."""
    if not os.environ.get("REDIS_URL"):
        _say(f"REDIS_URL is not set: using the embedded Redis of `pathgrad serve` "
             f"under {pathgrad_home()}")
    try:
        celery_app = create_app().extensions["celery"]
    except ConfigError as exc:
        _error(str(exc))
        return 2
    try:
        celery_app.worker_main(_worker_arguments(concurrency, loglevel))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return 0


def _worker_arguments(concurrency: int | None, loglevel: str) -> list[str]:
    arguments = ["worker", "--loglevel", loglevel, "--hostname", f"pathgrad-{os.getpid()}@%h"]
    if concurrency is not None:
        arguments += ["--concurrency", str(concurrency)]
    return arguments


def start_worker(
    redis_url: str, concurrency: int, *, env: Mapping[str, str] | None = None,
    name: str | None = None, extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start ``celery worker`` as a subprocess in its own session; return the process.

    ``name`` is the worker's node name before ``@host`` (default ``pathgrad-<pid>``),
    ``env`` adds environment variables and ``extra`` worker arguments.
    """
    arguments = _worker_arguments(concurrency, "WARNING")
    if name is not None:
        arguments[arguments.index("--hostname") + 1] = f"{name}@%h"
    command = [sys.executable, "-m", "celery", "-A", "service.make_celery", "--quiet",
               *arguments, *extra]
    # Own session: the terminal's Ctrl-C reaches only us, and we stop the worker
    # before Redis, so it can finish or give back its task cleanly.
    return subprocess.Popen(
        command,
        env=os.environ | dict(env or {}) | {"REDIS_URL": redis_url},
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for_worker(
    process: subprocess.Popen[bytes], store: Store, name: str, timeout: float = 60.0
) -> None:
    """Wait until the worker ``name`` has announced itself in ``store``; stop it on failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with code {process.returncode}")
        if any(worker.startswith(name + "@") for worker in store.workers()):
            return
        time.sleep(0.1)
    stop_worker(process)
    raise RuntimeError(f"the Celery worker was not ready within {timeout:g} s")


def stop_worker(celery: subprocess.Popen[bytes]) -> None:
    """Warm shutdown, then cold, then kill the worker's whole process group."""
    for sig, grace in ((signal.SIGTERM, WARM_SHUTDOWN), (signal.SIGQUIT, COLD_SHUTDOWN)):
        if celery.poll() is not None:
            break
        celery.send_signal(sig)
        try:
            celery.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    try:
        # The pool's children share the worker's process group; none may outlive it.
        os.killpg(celery.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    celery.wait()


def _watch(celery: subprocess.Popen[bytes], stopping: threading.Event) -> None:
    """Stop the API when the worker dies: a service without workers would only queue."""
    celery.wait()
    if not stopping.is_set():
        _thread.interrupt_main()


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and then Python
    # would never raise KeyboardInterrupt for it.
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _announce(
    host: str, port: int, workers: int, embedded: EmbeddedRedis | None, *, keys: int
) -> None:
    base = f"http://{host}:{port}"
    _say(f"serving on {base} (API docs: {base}/docs)")
    if embedded is not None:
        _say(f"Redis: embedded, data in {embedded.home} (set REDIS_URL to use another)")
    else:
        _say("Redis: REDIS_URL")
    _say(f"workers: {workers} process(es)")
    if keys:
        _say(f"protected by API keys: {keys} key(s) from PATHGRAD_API_KEYS; every route but "
             "/v1/health and the docs needs 'Authorization: Bearer <key>'")
    else:
        _say("open for local use: no authentication, so keep it on 127.0.0.1 or behind a "
             "proxy that authenticates")
    _say("press Ctrl-C to stop")


def _say(message: str) -> None:
    print(f"pathgrad: {message}", flush=True)


def _error(message: str) -> None:
    print(f"pathgrad: error: {message}", file=sys.stderr, flush=True)
