"""``pathgrad serve``, ``pathgrad api`` and ``pathgrad worker``: the service, or a part.

``serve`` first checks what can fail at once, so a mistake costs one line and starts
nothing: the settings, the ``REDIS_URL`` Redis (PING), the API's address (bound before
anything starts). Then, in this order: Redis (the embedded one unless ``REDIS_URL`` is
set), one Celery worker (a subprocess with a pool of ``workers`` processes) and, once
the worker has announced itself, the API on waitress in this process. Ctrl-C or
SIGTERM stops them in the reverse order, so no task is cut off from its broker, and
nothing is left running.
"""

from __future__ import annotations

import _thread
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

import service
from service import extensions
from service.app import create_app
from service.settings import ConfigError, pathgrad_home
from service.wsgi import Server, create_server
from worker.store import Store, redis_client

from .embedded import EmbeddedRedis, EmbeddedRedisError

__all__ = [
    "WorkerStartError", "api", "serve", "start_worker", "stop_worker", "wait_for_worker",
    "worker",
]

# Seconds a worker gets to finish its current tasks (warm shutdown) before a cold one.
WARM_SHUTDOWN = 10.0
COLD_SHUTDOWN = 5.0
# The folder that holds pathgrad's own packages (site-packages, or a checkout).
_PACKAGES = Path(service.__file__).resolve().parent.parent
# Waiting requests hold a thread each (bounded by PATHGRAD_MAX_WAITERS, default 24).
API_THREADS = 32
# Seconds the start-up PING of REDIS_URL may take (connect, then answer).
REDIS_TIMEOUT = 3.0


class WorkerStartError(RuntimeError):
    """The Celery worker exited, or did not announce itself in time, as it started."""


class _StartError(Exception):
    """Something ``serve`` or ``api`` needs is not there: one line, exit 2."""


def serve(host: str, port: int, workers: int | None) -> int:
    """Run Redis (embedded by default), a Celery worker pool and the API; return the exit code."""
    started = _Started()
    with _stop_on_signals():
        try:
            return _serve(started, host, port, workers or os.cpu_count() or 1)
        except (ConfigError, _StartError) as exc:
            _error(str(exc))
            return 2
        except (EmbeddedRedisError, WorkerStartError, OSError) as exc:
            _error(str(exc))
            return 1
        except redis.RedisError as exc:
            _error(f"Redis stopped answering: {exc}")
            return 1
        except KeyboardInterrupt:
            _say("stopping")
            return 0
        finally:
            started.stop()


class _Started:
    """What ``serve`` has started so far, stopped in the reverse order."""

    def __init__(self) -> None:
        self.embedded: EmbeddedRedis | None = None
        self.celery: subprocess.Popen[bytes] | None = None
        self.server: Server | None = None
        self.stopping = threading.Event()

    def stop(self) -> None:
        """Stop the API, then the worker (so it can finish its task), then Redis."""
        self.stopping.set()
        if self.server is not None:
            self.server.close()
        if self.celery is not None:
            stop_worker(self.celery)
        if self.embedded is not None:
            self.embedded.stop()


def _serve(started: _Started, host: str, port: int, workers: int) -> int:
    """Check, start in order, serve until interrupted; record each part in ``started``."""
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        _check_redis(redis_url)
    else:
        started.embedded = EmbeddedRedis(pathgrad_home())
        redis_url = started.embedded.url
    app = create_app({"REDIS_URL": redis_url})
    started.server = _listen(app, host, port, API_THREADS)
    if started.embedded is not None:
        _say("starting Redis and a worker")
        started.embedded.start()
    else:
        _say("starting a worker")
    name = f"pathgrad-{os.getpid()}"
    started.celery = celery = start_worker(redis_url, workers, name=name)
    store = extensions.store(app)
    wait_for_worker(celery, store, name)
    pools = store.worker_processes()
    here = sum(size for node, size in pools.items() if node.startswith(name + "@"))
    _announce(host, port, here, started.embedded, keys=len(app.extensions["pathgrad_keys"]),
              pools=pools, redis_url=redis_url)
    threading.Thread(target=_watch, args=(celery, started.stopping), daemon=True).start()
    started.server.run()
    if celery.poll() is not None:
        _say(f"the worker exited with code {celery.returncode}; stopping")
        return 1
    _say("stopping")
    return 0


def api(host: str, port: int, threads: int | None = None) -> int:
    """Run the API alone on waitress, for the Redis of ``REDIS_URL``; return the exit code."""
    threads = threads or API_THREADS
    source = "REDIS_URL"
    if not os.environ.get("REDIS_URL"):
        source = "the embedded Redis of a running `pathgrad serve`, as REDIS_URL is not set"
    server: Server | None = None
    with _stop_on_signals():
        try:
            app = create_app()
            _check_redis(str(app.config["REDIS_URL"]), source)
            server = _listen(app, host, port, threads)
            base = _base(host, port)
            _say(f"serving the API on {base} (API docs: {base}/docs), Redis at "
                 f"{_redacted(str(app.config['REDIS_URL']))}, {threads} threads")
            server.run()
        except (ConfigError, _StartError) as exc:
            _error(str(exc))
            return 2
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                server.close()
    _say("stopping")
    return 0


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
    # A worker.py, service.py or celery.py in the current folder must not stand in for
    # pathgrad's own modules: -P keeps the folder off the import path, and the worker
    # runs from the folder that holds pathgrad's packages (Celery imports its app with
    # its working folder on the path).
    command = [sys.executable, "-P", "-m", "celery", "-A", "service.make_celery", "--quiet",
               *arguments, *extra]
    # Own session: the terminal's Ctrl-C reaches only us, and we stop the worker
    # before Redis, so it can finish or give back its task cleanly.
    return subprocess.Popen(
        command,
        env=os.environ | dict(env or {}) | {"REDIS_URL": redis_url},
        cwd=_PACKAGES,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for_worker(
    process: subprocess.Popen[bytes], store: Store, name: str, timeout: float = 60.0
) -> None:
    """Wait until the worker ``name`` has announced itself in ``store``; stop it on failure.

    Raises :class:`WorkerStartError` when it exits first or is not ready in ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WorkerStartError(f"the Celery worker exited with code {process.returncode}")
        if any(worker.startswith(name + "@") for worker in store.workers()):
            return
        time.sleep(0.1)
    stop_worker(process)
    raise WorkerStartError(f"the Celery worker was not ready within {timeout:g} s")


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
def _stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into KeyboardInterrupt; ignore the next ones.

    One interrupt starts the orderly stop; a second must not cut it short (which would
    print a traceback and leave the worker or Redis running).
    """
    interrupted = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and then Python
    # would never raise KeyboardInterrupt for it.
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_redis(url: str, source: str = "REDIS_URL") -> None:
    """PING the Redis at ``url``, failing within seconds (no retries) if it does not answer.

    ``source`` says where the URL came from, for the error message.
    """
    client = redis_client(url)
    client.connection_pool.connection_kwargs.update(
        socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise _StartError(f"cannot reach Redis at {_redacted(url)} ({source}): {exc}") from exc
    finally:
        client.close()


def _redacted(url: str) -> str:
    """Return ``url`` with any password in it (``:pw@`` or ``?password=``) as ``***``."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        url = url.replace(parts.netloc, f"{parts.username or ''}:***@{host}", 1)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url)


def _listen(app: Flask, host: str, port: int, threads: int) -> Server:
    """Bind the API's address; a taken port is a one-line error, not a traceback."""
    try:
        return create_server(app, host=host, port=port, threads=threads)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _StartError(f"cannot listen on {_address(host, port)}: "
                          f"{reason[:1].lower()}{reason[1:]}") from exc


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _base(host: str, port: int) -> str:
    return f"http://{_address(host, port)}"


def _announce(
    host: str, port: int, workers: int, embedded: EmbeddedRedis | None, *, keys: int,
    pools: Mapping[str, int] | None = None, redis_url: str = "",
) -> None:
    """Say where the service is; ``workers`` are this node's processes, ``pools`` all."""
    base = _base(host, port)
    _say(f"serving on {base} (API docs: {base}/docs)")
    if embedded is not None:
        _say(f"Redis: embedded, data in {embedded.home} (set REDIS_URL to use another)")
    else:
        _say(f"Redis: {_redacted(redis_url)} (REDIS_URL)")
    # Counted as /v1/health counts them: the processes of every live node's pool.
    if pools is not None and len(pools) > 1:
        _say(f"workers: {workers} process(es) here; {sum(pools.values())} in all, "
             f"on {len(pools)} nodes")
    else:
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
