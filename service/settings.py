"""The service's settings: every environment variable, its default and meaning.

Flask reads ``PATHGRAD_<NAME>`` into ``app.config[<NAME>]`` (values are parsed as
JSON when they can be, so ``PATHGRAD_JOB_TTL=3600`` is the integer 3600).
``REDIS_URL`` is read as it is, without the prefix, as most hosts set it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker.engine.options import DEFAULT_MAX_PATHS

__all__ = [
    "DEFAULTS",
    "ENVIRONMENT",
    "ConfigError",
    "check_config",
    "default_redis_url",
    "pathgrad_home",
]

#: Every environment variable the service reads, with its meaning (copied to the README).
ENVIRONMENT: dict[str, str] = {
    "REDIS_URL": "Redis for the queue, job records and cache (redis://, rediss:// or "
    "unix:///path/redis.sock). Unset: the embedded Redis that `pathgrad serve` runs "
    "under $PATHGRAD_HOME.",
    "PATHGRAD_HOME": "Where the embedded Redis keeps its data (append-only file) and "
    "socket. Default ~/.pathgrad.",
    "PATHGRAD_JOB_TTL": "Seconds a job record (status, timestamps, error) is kept. "
    "Default 604800 (7 days).",
    "PATHGRAD_CACHE_TTL": "Seconds a cached result, path page or formula is kept, renewed "
    "on every cache hit. Default 604800 (7 days).",
    "PATHGRAD_MAX_BODY": "Largest request body in bytes; larger is refused with 413. "
    "Default 16777216 (16 MiB): a [784, 256, 128, 10] network with 256 samples, as pathgrad "
    "import writes it, is about 9 MB.",
    "PATHGRAD_MAX_PATHS": "Most suffix paths a job may enumerate (and the default of "
    "options.max_paths); a network over it is refused with 422. Default 1000000000.",
    "PATHGRAD_MAX_WAIT": "Cap in seconds on ?wait=S. Default 30.",
    "PATHGRAD_MAX_WAITERS": "Most requests that block waiting at once (?wait=, result "
    "streams, pages being computed), each holding one of the API's threads (32 under "
    "`pathgrad serve` and compose). Past it a request does not wait: a job answers 202 at "
    "once, a result stream ends at the first unfinished line, a page answers 503 with "
    "Retry-After. Default 24.",
    "PATHGRAD_COMPUTE_WAIT": "Seconds the API waits for a worker to compute a path page "
    "or formula before answering 503 (retry later). Default 30.",
    "PATHGRAD_PAGE_LIMIT": "Largest ?limit= of a path page. Default 1000.",
    "PATHGRAD_LOCAL_CACHE_TTL": "Seconds each API process keeps the response of a succeeded "
    "job it has served, to answer a repeat GET /v1/jobs/{id} without a Redis round trip "
    "(a succeeded job never changes). 0 turns it off. Default 10.",
    "PATHGRAD_LOCAL_CACHE_BYTES": "Memory budget of those kept responses, per API process. "
    "Default 33554432 (32 MiB).",
    "PATHGRAD_SOFT_TIME_LIMIT": "Seconds a task may run before it is stopped and its job "
    "failed with a time-limit error. Default 300.",
    "PATHGRAD_HARD_TIME_LIMIT": "Seconds after which a task's process is killed if the "
    "soft limit could not stop it. Default 330.",
    "PATHGRAD_QUEUE": "Name of the Celery queue. Default pathgrad.",
    "PATHGRAD_REDIS_RETRY": "Seconds a worker retries a Redis command that finds Redis "
    "unreachable or loading (a restart), with backoff, before giving up on it; a job "
    "whose result could not be written is then sent again by the sweeper. Default 120.",
    "PATHGRAD_QUEUED_LEASE": "Seconds after which the sweeper looks at a job or batch "
    "chunk that is still queued: if its task message is no longer in the queue (lost), "
    "it is sent again. A running task's lease is its hard time limit plus 60 s. "
    "Default 60.",
    "PATHGRAD_MAX_ATTEMPTS": "Times a job or batch chunk is sent before the sweeper "
    "fails it (a problem saying it was lost that often). Default 3.",
    "PATHGRAD_SWEEP_INTERVAL": "Seconds between the sweeper's looks at expired leases "
    "(one worker sweeps at a time). Default 5.",
    "PATHGRAD_API_KEYS": "API keys, comma-separated `name:key` pairs (the name owns what "
    "that key creates) or plain keys. Set: every route but /v1/health, /openapi.json and "
    "/docs needs `Authorization: Bearer <key>`, and jobs and batches are visible only to "
    "the key that created them. Unset or empty: the service is open. Default unset.",
    "PATHGRAD_MAX_BATCH_BODY": "Largest POST /v1/batches body in bytes; larger is refused "
    "with 413 (100,000 seed-sized jobs take about 35 MB). Default 67108864 (64 MiB).",
    "PATHGRAD_MAX_BATCH_JOBS": "Most jobs in one batch. Default 100000.",
    "PATHGRAD_BATCH_CHUNK": "Most jobs a worker analyses in one task (with analyze_many); "
    "a batch is cut into at least four tasks (of 250 jobs or more) so every worker shares "
    "it. Default 2000.",
    "PATHGRAD_BATCH_WAIT": "Default ?timeout= of GET /v1/batches/{id}/results: seconds the "
    "stream waits for unfinished lines before it ends. Default 300.",
    "PATHGRAD_MAX_BATCH_WAIT": "Cap in seconds on that ?timeout=. Default 3600.",
}

DEFAULTS: dict[str, Any] = {
    "JOB_TTL": 7 * 24 * 3600,
    "CACHE_TTL": 7 * 24 * 3600,
    "MAX_BODY": 16 << 20,
    "MAX_PATHS": DEFAULT_MAX_PATHS,
    "MAX_WAIT": 30.0,
    "MAX_WAITERS": 24,
    "COMPUTE_WAIT": 30.0,
    "PAGE_LIMIT": 1000,
    "LOCAL_CACHE_TTL": 10.0,
    "LOCAL_CACHE_BYTES": 32 << 20,
    "SOFT_TIME_LIMIT": 300,
    "HARD_TIME_LIMIT": 330,
    "QUEUE": "pathgrad",
    "REDIS_RETRY": 120.0,
    "QUEUED_LEASE": 60.0,
    "MAX_ATTEMPTS": 3,
    "SWEEP_INTERVAL": 5.0,
    "API_KEYS": "",
    "MAX_BATCH_BODY": 64 << 20,
    "MAX_BATCH_JOBS": 100_000,
    "BATCH_CHUNK": 2000,
    "BATCH_WAIT": 300.0,
    "MAX_BATCH_WAIT": 3600.0,
}


class ConfigError(ValueError):
    """A setting (``PATHGRAD_*`` variable) with a value the service cannot use."""


def check_config(config: Mapping[str, Any]) -> None:
    """Check that every numeric setting is a number >= 0.

    Raises
    ------
    ConfigError
        Naming the variable, what was expected and what was given.
    """
    for name, default in DEFAULTS.items():
        if isinstance(default, bool) or not isinstance(default, int | float):
            continue
        value = config.get(name, default)
        kind = "an integer" if isinstance(default, int) else "a number"
        good = not isinstance(value, bool) and (
            isinstance(value, int) if isinstance(default, int) else isinstance(value, int | float))
        if not good or value < 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise ConfigError(f"PATHGRAD_{name}: expected {kind} >= 0, got {value!r}")


def pathgrad_home() -> Path:
    """Return ``$PATHGRAD_HOME``, default ``~/.pathgrad``."""
    return Path(os.environ.get("PATHGRAD_HOME") or Path.home() / ".pathgrad").expanduser()


def default_redis_url() -> str:
    """Return ``$REDIS_URL``, else the socket of the embedded Redis under PATHGRAD_HOME."""
    return os.environ.get("REDIS_URL") or f"unix://{pathgrad_home() / 'redis.sock'}"
