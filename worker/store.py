"""The Redis side of the service: job records, the result cache and on-demand pages.

Keys are named in :mod:`worker.keys`. A job's result is cached under the content hash
of its network, options and engine version (:func:`content_keys`), so identical
submissions share one result whoever sends them. Every write that finishes something
is followed by a PUBLISH on ``pathgrad:done:<channel>``, so waiters wake at once
instead of polling.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from . import keys
from .engine.batch import Batch
from .jsoncodec import dumps, loads

__all__ = [
    "JOB_STATUSES",
    "Store",
    "celery_url",
    "content_hash",
    "content_keys",
    "redis_client",
    "task_id",
    "timestamp",
]

JOB_STATUSES = ("queued", "running", "succeeded", "failed")

# Seconds the API retries a Redis command before answering 503 (Retry-After).
API_RETRY_SECONDS = 2.0
# Seconds between retries of a command that finds Redis unreachable: doubling from the
# first to the last, then the last again until the budget is spent.
_FIRST_RETRY, _LAST_RETRY = 0.05, 1.0

T = TypeVar("T")

# A job and, once it has succeeded, its result, in one round trip (the hot read path).
# The result's key is read from the record, so this assumes one Redis, not a cluster.
_JOB_AND_RESULT = """
local job = redis.call('GET', KEYS[1])
if not job then return {} end
local record = cjson.decode(job)
if record['status'] ~= 'succeeded' then return {job} end
return {job, redis.call('GET', ARGV[1] .. record['key'])}
"""


# Delete a claim only if it is still held by the job releasing it: a claim that expired
# and was taken by a newer job stays with that job.
_RELEASE_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def task_id(member: str, attempt: int) -> str:
    """The Celery task id of attempt ``attempt`` at lease member ``member``.

    The sweeper finds a task's message in the broker by this id, which Celery keeps
    in the message's headers as plain text.
    """
    return f"{member}.{attempt}"


def content_hash(network: Mapping[str, Any], options: Mapping[str, Any], engine: str) -> str:
    """Return a SHA-256 of canonical JSON (grading and other derived caches).

    Analysis results are keyed by :func:`content_keys`, for single jobs and batch lines
    alike (so a batch line and a job of the same network share one cached result).
    """
    canonical = json.dumps(
        {"network": network, "options": options, "engine": engine},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def content_keys(batch: Batch, options: Mapping[str, Any], engine: str) -> list[str]:
    """Return the cache key of every network of a batch analysed with ``options``.

    SHA-256 of the shape, options and engine version, then the network's numbers as
    float64 bytes (``-0.0`` folded into ``0.0``), or as exact strings in exact mode:
    two specs that differ only in key order, ``1`` vs ``1.0`` or absent vs zero biases
    share a key. One hash per network and no JSON, so a batch of 100,000 is keyed fast.
    """
    header = json.dumps(
        {"layers": batch.layers, "activation": [a.to_json() for a in batch.activations],
         "loss": batch.loss.name,
         "options": options, "engine": engine},
        sort_keys=True, separators=(",", ":"),
    ).encode()
    size = batch.size
    rows = np.concatenate(
        [a.reshape(size, -1) for a in (*batch.weights, *batch.biases, batch.input, batch.target)],
        axis=1,
    )
    if batch.exact:
        return [hashlib.sha256(header + "|".join(map(str, row)).encode()).hexdigest()
                for row in rows.tolist()]
    rows = np.ascontiguousarray(rows, dtype=np.float64) + 0.0
    return [hashlib.sha256(header + row.tobytes()).hexdigest() for row in rows]


def redis_client(url: str, *, retry_seconds: float = 2.0) -> redis.Redis:
    """Connect to ``redis://``, ``rediss://``, ``unix://`` or ``redis+socket://`` URLs.

    A command that finds Redis unreachable, or still loading its data after a restart,
    is retried with exponential backoff for about ``retry_seconds`` before it raises:
    short in the API (a request during an outage answers 503 soon), long in the workers
    (a finished result waits for Redis to come back rather than being lost). Every
    command the workers retry is idempotent, and the API's one appending script is
    guarded against a second run (:meth:`BatchStore.add_lines`).
    """
    options: dict[str, Any] = {
        "decode_responses": True,
        "retry": Retry(ExponentialBackoff(cap=_LAST_RETRY, base=_FIRST_RETRY),
                       retries_for(retry_seconds)),
        # No command of pathgrad's blocks in Redis: a reply later than this is a hung server.
        "socket_timeout": 15.0,
        "socket_connect_timeout": 5.0,
    }
    parts = urlsplit(url)
    if parts.scheme in ("unix", "redis+socket", "socket"):
        db = parse_qs(parts.query).get("db") or parse_qs(parts.query).get("virtual_host") or ["0"]
        return redis.Redis(unix_socket_path=parts.path, db=int(db[0]), **options)
    return redis.Redis.from_url(url, **options)


def retries_for(seconds: float) -> int:
    """The number of retries whose backoff delays add up to about ``seconds``.

    Examples
    --------
    >>> retries_for(0), retries_for(1.55), retries_for(60)
    (0, 5, 64)
    """
    retries, spent, delay = 0, 0.0, _FIRST_RETRY
    while spent + 1e-9 < seconds:
        spent += delay
        retries += 1
        delay = min(2 * delay, _LAST_RETRY)
    return retries


def celery_url(url: str) -> str:
    """Spell a Redis URL the way kombu and Celery's backend read it.

    redis-py takes ``unix:///path/redis.sock?db=0``; kombu and Celery want
    ``redis+socket:///path/redis.sock?virtual_host=0`` for the same socket.
    """
    parts = urlsplit(url)
    if parts.scheme != "unix":
        return url
    db = (parse_qs(parts.query).get("db") or ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={db}"


def timestamp() -> str:
    """Now, as the records write it: ISO 8601 in UTC to the millisecond, ``...Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pool_size(presence: str | bytes) -> int:
    """Read the pool size in a worker's presence key (1 for a bare timestamp)."""
    try:
        processes = json.loads(presence).get("processes")
    except (ValueError, AttributeError):
        return 1  # written by an older pathgrad: a timestamp alone
    return processes if isinstance(processes, int) and processes > 0 else 1


class Store:
    """Job records, cached results and cached pages in one Redis.

    Parameters
    ----------
    client : redis.Redis
        A client with ``decode_responses=True``.
    job_ttl, cache_ttl : int
        Seconds a job record, and a cached result or page, is kept.
    inflight_ttl : int
        Seconds an in-flight marker lives: longer than the hard time limit.
    queue : str
        The Celery queue of the service, whose work the leases are of.
    """

    def __init__(
        self, client: redis.Redis, *, job_ttl: int, cache_ttl: int, inflight_ttl: int,
        queue: str = "pathgrad",
    ) -> None:
        self.redis = client
        self.queue = queue
        self.leases = keys.leases(queue)
        self._job_and_result = client.register_script(_JOB_AND_RESULT)
        self._release_held = client.register_script(_RELEASE_HELD)
        self.job_ttl = job_ttl
        self.cache_ttl = cache_ttl
        self.inflight_ttl = inflight_ttl

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, retry_seconds: float = API_RETRY_SECONDS
    ) -> Store:
        """Build a store from the ``pathgrad`` settings dict the apps share.

        ``retry_seconds``: how long a Redis command that finds Redis away is retried
        (a task's store outlasts a Redis restart; the API answers 503 soon).
        """
        return cls(
            redis_client(settings["redis_url"], retry_seconds=retry_seconds),
            job_ttl=int(settings["job_ttl"]),
            cache_ttl=int(settings["cache_ttl"]),
            inflight_ttl=int(settings["inflight_ttl"]),
            queue=str(settings.get("queue", "pathgrad")),
        )

    def __repr__(self) -> str:
        return f"Store(redis={self.redis!r}, job_ttl={self.job_ttl}, cache_ttl={self.cache_ttl})"

    # --- jobs ---------------------------------------------------------------------------

    @staticmethod
    def new_id() -> str:
        """Return a fresh job id."""
        return uuid.uuid4().hex

    def new_job(
        self, key: str, *, status: str, cached: bool = False, job_id: str | None = None,
        owner: str | None = None, inputs: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
        lease: float | None = None,
    ) -> dict[str, Any]:
        """Create and save a job record for the content hash ``key``, owned by ``owner``.

        ``inputs`` (network, options) are saved for the workers in the same round trip,
        and so is a lease of ``lease`` seconds on an unfinished job (:meth:`lease`).
        """
        now = timestamp()
        record: dict[str, Any] = {
            "id": job_id or self.new_id(),
            "key": key,
            "owner": owner,
            "status": status,
            "cached": cached,
            "created_at": now,
            "started_at": now if status == "succeeded" else None,
            "finished_at": now if status == "succeeded" else None,
            "error": None,
            "attempts": 0 if status == "succeeded" else 1,
        }
        pipe = self.redis.pipeline(transaction=False)
        if inputs is not None:
            self._save_input(pipe, key, *inputs)
        self._save_job(pipe, record)
        if lease is not None and status != "succeeded":
            self.lease(pipe, "job:" + record["id"], lease)
        pipe.execute()
        return record

    def save_job(self, record: Mapping[str, Any], *, lease: float | None = None) -> None:
        """Write a job record and wake whoever waits on it; renew its lease if given."""
        pipe = self.redis.pipeline(transaction=False)
        self._save_job(pipe, record)
        if lease is not None:
            self.lease(pipe, "job:" + record["id"], lease)
        pipe.execute()

    def _save_job(self, pipe: redis.client.Pipeline, record: Mapping[str, Any]) -> None:
        pipe.set(keys.job(record["id"]), dumps(record), ex=self.job_ttl)
        if record["status"] in ("succeeded", "failed"):
            pipe.zrem(self.leases, "job:" + record["id"])
            pipe.publish(keys.done("job:" + record["id"]), record["status"])

    # --- leases (worker.sweeper) --------------------------------------------------------

    def lease(self, pipe: redis.client.Pipeline, member: str, seconds: float) -> None:
        """Say ``member`` must be finished, or looked at again, within ``seconds``."""
        pipe.zadd(self.leases, {member: time.time() + seconds})

    def renew(self, member: str, seconds: float) -> None:
        """:meth:`lease` on its own."""
        pipe = self.redis.pipeline(transaction=False)
        self.lease(pipe, member, seconds)
        pipe.execute()

    def drop_lease(self, member: str) -> None:
        """Forget ``member``'s lease: it is finished (or beyond rescue)."""
        self.redis.zrem(self.leases, member)

    def expired_leases(self, limit: int = 100) -> list[str]:
        """Return up to ``limit`` members whose lease has run out, oldest first."""
        members = self.redis.zrangebyscore(self.leases, "-inf", time.time(), start=0, num=limit)
        return [str(member) for member in members]

    def job(self, job_id: str) -> dict[str, Any] | None:
        """Return a job record, or None when unknown or expired."""
        raw = self.redis.get(keys.job(job_id))
        return None if raw is None else dict(loads(raw))

    def job_and_result(self, job_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """Return a job record and, if it succeeded, its result as JSON text, in one round trip.

        The text is what :meth:`save_result` stored, so a reader can pass it on unparsed.
        """
        found = self._job_and_result(keys=[keys.job(job_id)], args=[keys.RESULT_PREFIX])
        record = dict(loads(found[0])) if found else None
        result = str(found[1]) if len(found) > 1 and found[1] else None
        return record, result

    def update_job(self, job_id: str, **changes: Any) -> dict[str, Any] | None:
        """Change fields of a job record (None when it no longer exists)."""
        record = self.job(job_id)
        if record is None:
            return None
        record.update(changes)
        self.save_job(record)
        return record

    def claim(self, key: str, job_id: str) -> str | None:
        """Mark ``key`` as being computed by ``job_id``; return the other job if taken."""
        name = keys.inflight(key)
        if self.redis.set(name, job_id, nx=True, ex=self.inflight_ttl):
            return None
        other = self.redis.get(name)
        return None if other is None else str(other)

    def release(self, key: str, holder: str | None = None) -> None:
        """Forget that ``key`` is being computed (only by ``holder``, when given)."""
        if holder is None:
            self.redis.delete(keys.inflight(key))
        else:
            self._release_held(keys=[keys.inflight(key)], args=[holder])

    # --- inputs and results -------------------------------------------------------------

    def _save_input(
        self, pipe: redis.client.Pipeline, key: str, network: Mapping[str, Any],
        options: Mapping[str, Any],
    ) -> None:
        """Keep the canonical network and options of ``key`` for the workers."""
        payload = dumps({"network": network, "options": options})
        pipe.set(keys.job_input(key), payload, ex=self.cache_ttl)

    def input(self, key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Return ``(network, options)`` of ``key``, or None when expired."""
        raw = self.redis.get(keys.job_input(key))
        if raw is None:
            return None
        data = loads(raw)
        return data["network"], data["options"]

    def cached_or_input(
        self, key: str
    ) -> tuple[bool, tuple[dict[str, Any], dict[str, Any]] | None]:
        """Return whether ``key`` has a cached result, and its input, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(keys.result(key))
        pipe.get(keys.job_input(key))
        cached, raw = pipe.execute()
        if raw is None:
            return bool(cached), None
        data = loads(raw)
        return bool(cached), (data["network"], data["options"])

    def save_result(
        self, key: str, result: Mapping[str, Any], job: Mapping[str, Any] | None = None
    ) -> None:
        """Cache the analysis result of ``key``; and save the ``job`` record it finishes.

        Both are written in one round trip, the result first, so whoever the job's
        record wakes finds the result.
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(keys.result(key), dumps(result), ex=self.cache_ttl)
        if job is not None:
            self._save_job(pipe, job)
        pipe.execute()

    def result(self, key: str, *, touch: bool = False) -> dict[str, Any] | None:
        """Return the cached result of ``key``; ``touch`` renews its expiry."""
        text = self.result_text(key, touch=touch)
        return None if text is None else dict(loads(text))

    def result_text(self, key: str, *, touch: bool = False) -> str | None:
        """Return the cached result of ``key`` as the JSON text stored; ``touch`` renews it."""
        name = keys.result(key)
        if touch:
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(name)
            pipe.expire(name, self.cache_ttl)
            pipe.expire(keys.job_input(key), self.cache_ttl)
            raw = pipe.execute()[0]
        else:
            raw = self.redis.get(name)
        return None if raw is None else str(raw)

    # --- on-demand pages (path contributions, formulas) ---------------------------------

    @staticmethod
    def page_key(key: str, what: Mapping[str, Any]) -> str:
        """Return the cache key of one on-demand computation on job input ``key``."""
        digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]
        return f"{key}:{digest}"

    def save_page(self, page_key: str, page: Mapping[str, Any], ttl: int | None = None) -> None:
        """Cache a page (or the problem it raised) and wake its waiters."""
        pipe = self.redis.pipeline()
        pipe.set(keys.page(page_key), dumps(page), ex=ttl or self.cache_ttl)
        pipe.publish(keys.done("page:" + page_key), "1")
        pipe.execute()

    def page(self, page_key: str) -> dict[str, Any] | None:
        """Return a cached page, or None."""
        raw = self.redis.get(keys.page(page_key))
        return None if raw is None else dict(loads(raw))

    # --- workers ------------------------------------------------------------------------

    def mark_worker(self, hostname: str, ttl: int, *, processes: int = 1) -> None:
        """Record that worker ``hostname``, a pool of ``processes``, is alive for ``ttl`` s."""
        presence = json.dumps({"processes": processes, "seen": timestamp()})
        self.redis.set(keys.worker(hostname), presence, ex=ttl)

    def forget_worker(self, hostname: str) -> None:
        """Record that worker ``hostname`` has stopped."""
        self.redis.delete(keys.worker(hostname))

    def workers(self) -> list[str]:
        """Return the workers seen alive recently."""
        names = self.redis.scan_iter(keys.workers(), count=1000)
        return sorted(keys.worker_name(str(name)) for name in names)

    def worker_processes(self) -> dict[str, int]:
        """Return {worker seen alive recently: the processes of its pool}."""
        names = sorted(self.redis.scan_iter(keys.workers(), count=1000))
        found: dict[str, int] = {}
        for name, presence in zip(names, self.redis.mget(names) if names else [], strict=True):
            if presence is not None:  # else it expired between the scan and the read
                found[keys.worker_name(str(name))] = _pool_size(presence)
        return found

    # --- waiting ------------------------------------------------------------------------

    @contextmanager
    def subscribed(self, channel: str) -> Iterator[Callable[[float], None]]:
        """Listen on ``pathgrad:done:<channel>``; yield ``pause(seconds)``.

        ``pause`` returns when the channel is published to, or after the seconds (at
        most one: a re-check every second is the safety net, not the usual path).
        Subscribe before the first look at what is awaited, so no wake-up is lost.
        """
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(keys.done(channel))
            yield lambda seconds: pubsub.get_message(timeout=max(0.0, min(seconds, 1.0)))
        finally:
            pubsub.close()

    def wait(
        self,
        channel: str,
        check: Callable[[], T | None],
        timeout: float,
        start: Callable[[], object] | None = None,
    ) -> T | None:
        """Return ``check()`` once it is not None, waiting up to ``timeout`` seconds.

        Subscribes to ``pathgrad:done:<channel>`` before the first check (and before
        ``start``, which may send the task that will publish), so no wake-up is lost.
        """
        deadline = time.monotonic() + timeout
        with self.subscribed(channel) as pause:
            if start is not None:
                start()
            found = check()
            while found is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                pause(remaining)
                found = check()
            return found
