"""The Redis side of batches: one record, one line list and two hashes per batch.

Keys (under the ``pathgrad:`` prefix, all kept ``JOB_TTL`` seconds)::

    pathgrad:batch:<id>        hash: id, owner, total, created_at, succeeded, failed
    pathgrad:batch:<id>:lines  list, one entry per line in submission order: the
                               line's content hash, or "!" + the problem JSON of a
                               line refused at submission
    pathgrad:batch:<id>:done   hash: content hash -> "" once its result is in
                               pathgrad:result:<hash>, or "!" + the JSON of its
                               failure ({"error": problem, "result"?: result})
    pathgrad:batch:<id>:count  hash: content hash -> how many lines refer to it
    pathgrad:batch:<id>:chunk:<n>  the networks of chunk n (packed arrays or a JSON
                               list), until a worker has analysed them
    pathgrad:batch:<id>:task:<n>   chunk n's task: its options, content hashes, and how
                               often it was sent; its lease is ``chunk:<id>:<n>`` in
                               ``pathgrad:leases`` (see worker.sweeper)

Results are not copied: a line refers to the shared, content-addressed result cache,
so identical networks, in one batch or across batches and single jobs, share one
result. The API adds lines in slices while it checks them and sends their chunks to
the workers at once, so both sides count: a Lua script on each side, each atomic,
counts every line exactly once whichever side comes first.

Each step is one or two round trips whatever its size (the scripts take many values
joined in one argument): a slice of lines added, a chunk of results recorded (followed
by a PUBLISH on ``pathgrad:done:batch:<id>`` that wakes result streams), a window of
result lines read (entries, then states and results at once, spliced into NDJSON by
the reader, not inside Redis). The scripts build the result keys they touch, so this
assumes one Redis, not a cluster, as :class:`~worker.store.Store` does.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import redis

from . import keys
from .jsoncodec import dumpb, loads
from .problems import problem
from .store import Store, timestamp

__all__ = ["REFUSED", "BatchStore", "chunk_member", "collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many small objects are built.

    Parsing or analysing thousands of networks allocates millions of lists and dicts,
    none of them cyclic; the collector would scan them again and again (up to 3x
    slower), to free nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def chunk_member(batch_id: str, number: int) -> str:
    """The lease member of chunk ``number`` of a batch."""
    return f"chunk:{batch_id}:{number}"


#: A line entry or outcome that starts with this holds a problem, not a content hash.
REFUSED = "!"

_SPLIT = """
local function split(text)
  local items = {}
  for item in string.gmatch(text, '[^\\n]+') do items[#items + 1] = item end
  return items
end
"""

# Add a slice of lines. KEYS: record, done, count, lines. ARGV: job TTL, cache TTL,
# result prefix, refused lines, then newline-joined: the entries, the hashes new to
# the batch, and "hash count" pairs; then the slice's number. A new hash whose result
# is cached (its expiry renewed) is done at once; a finished hash counts its lines
# now, any other adds them to its count, which the worker counts when it finishes the
# hash. Returns one "1" (cached) or "0" per new hash. A slice is added once: run again
# (a client retrying after a lost reply) it returns what it returned the first time.
_ADD = _SPLIT + """
local slice = tonumber(ARGV[8])
if tonumber(redis.call('HGET', KEYS[1], 'slices') or '-1') >= slice then
  return redis.call('HGET', KEYS[1], 'slice_hits')
end
local hits, fresh = {}, {}
for i, key in ipairs(split(ARGV[6])) do
  if redis.call('EXPIRE', ARGV[3] .. key, ARGV[2]) == 1 then
    redis.call('HSET', KEYS[2], key, '')
    hits[i] = '1'
  else
    hits[i] = '0'
    fresh[key] = true  -- new to the batch and not cached: no worker can have finished it
  end
end
local entries = split(ARGV[5])
for first = 1, #entries, 500 do  -- one RPUSH per 500 entries (unpack has a stack limit)
  redis.call('RPUSH', KEYS[4], unpack(entries, first, math.min(first + 499, #entries)))
end
local succeeded, failed = 0, tonumber(ARGV[4])
local counts = {}
for _, pair in ipairs(split(ARGV[7])) do
  local key, lines = string.match(pair, '(%S+) (%d+)')
  local state = not fresh[key] and redis.call('HGET', KEYS[2], key)
  if fresh[key] then  -- its count field does not exist yet: set them all in one call
    counts[#counts + 1] = key
    counts[#counts + 1] = lines
  elseif not state then
    redis.call('HINCRBY', KEYS[3], key, lines)
  elseif state == '' then
    succeeded = succeeded + tonumber(lines)
  else
    failed = failed + tonumber(lines)
  end
end
for first = 1, #counts, 1000 do
  redis.call('HSET', KEYS[3], unpack(counts, first, math.min(first + 999, #counts)))
end
if succeeded > 0 then redis.call('HINCRBY', KEYS[1], 'succeeded', succeeded) end
if failed > 0 then redis.call('HINCRBY', KEYS[1], 'failed', failed) end
for i = 2, 4 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
redis.call('HSET', KEYS[1], 'slices', slice, 'slice_hits', table.concat(hits))
return table.concat(hits)
"""

# Record a chunk's outcomes, once its results are cached. KEYS: record, done, count.
# ARGV: the batch's channel, then per hash: hash, outcome ("" = succeeded, else "!" +
# failure JSON). A hash's lines are counted once (HSETNX: a redelivered chunk counts
# nothing twice), unless the batch has expired meanwhile.
_FINISH = """
local succeeded, failed = 0, 0
local alive = redis.call('EXISTS', KEYS[1]) == 1
for i = 2, #ARGV, 2 do
  if alive and redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    local lines = tonumber(redis.call('HGET', KEYS[3], ARGV[i]) or '0')
    if ARGV[i + 1] == '' then
      succeeded = succeeded + lines
    else
      failed = failed + lines
    end
  end
end
if not alive then return {0, 0} end
if succeeded > 0 then redis.call('HINCRBY', KEYS[1], 'succeeded', succeeded) end
if failed > 0 then redis.call('HINCRBY', KEYS[1], 'failed', failed) end
redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
redis.call('PUBLISH', ARGV[1], '1')
return {succeeded, failed}
"""

_EXPIRED = problem(410, "Result expired", "the result has expired from the cache; submit "
                   "the network again", slug="result-expired")
_EXPIRED_JSON = dumpb(_EXPIRED)
_RESULT = keys.RESULT_PREFIX.encode()


class BatchStore:
    """Batch records, line lists and outcomes, beside a :class:`Store`'s result cache."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis = store.redis
        # Result lines go out as Redis returns them: bytes, never decoded and encoded.
        pool = store.redis.connection_pool
        self.raw = redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class,
            **(pool.connection_kwargs | {"decode_responses": False})))
        self._add = store.redis.register_script(_ADD)

    def __repr__(self) -> str:
        return f"BatchStore({self.store!r})"

    @staticmethod
    def _key(batch_id: str, part: str = "") -> str:
        return keys.batch(batch_id, part)

    # --- the API side ---------------------------------------------------------------------

    def create(self, batch_id: str, *, owner: str | None, total: int) -> dict[str, Any]:
        """Save the record of a new batch of ``total`` lines, none of them added yet."""
        record: dict[Any, Any] = {"id": batch_id, "owner": owner or "", "total": total,
                                  "created_at": timestamp(), "succeeded": 0, "failed": 0}
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key(batch_id), mapping=record)
        pipe.expire(self._key(batch_id), self.store.job_ttl)
        pipe.execute()
        return _typed(record)

    def add_lines(
        self, batch_id: str, number: int, entries: Sequence[str], *, new: Sequence[str],
        lines: Mapping[str, int],
    ) -> list[bool]:
        """Append slice ``number``'s line entries and count them; say which ``new`` are cached.

        ``new`` are the slice's hashes not seen earlier in the batch (their cached
        results count as done, their expiry renewed) and ``lines`` how many of the
        slice's lines refer to each hash. Call it before sending any of these hashes
        to a worker, for slices 0, 1, 2, ... in order; a slice added again changes
        nothing and gets the first answer.
        """
        refused = sum(1 for entry in entries if entry.startswith(REFUSED))
        counts = "\n".join(f"{key} {count}" for key, count in lines.items())
        hits = self._add(
            keys=[self._key(batch_id), *self._keys(batch_id)[1:], self._key(batch_id, ":lines")],
            args=[self.store.job_ttl, self.store.cache_ttl, keys.RESULT_PREFIX, refused,
                  "\n".join(entries), "\n".join(new), counts, number],
        )
        return [hit == "1" for hit in str(hits or "")]

    def save_chunk(
        self, batch_id: str, number: int, specs: bytes, *, options: Mapping[str, Any],
        hashes: Sequence[str], lease: float,
    ) -> None:
        """Keep chunk ``number``'s networks and task for its worker, with a lease on it.

        ``hashes`` are the networks' content hashes in the order of ``specs``.
        """
        task = {"options": dict(options), "keys": list(hashes), "attempts": 1}
        pipe = self.raw.pipeline(transaction=False)
        pipe.set(self._key(batch_id, f":chunk:{number}"), specs, ex=self.store.job_ttl)
        pipe.set(self._key(batch_id, f":task:{number}"), dumpb(task), ex=self.store.job_ttl)
        self.store.lease(pipe, chunk_member(batch_id, number), lease)
        pipe.execute()

    def task(self, batch_id: str, number: int) -> dict[str, Any] | None:
        """Return chunk ``number``'s task (options, keys, attempts), or None when gone."""
        raw = self.raw.get(self._key(batch_id, f":task:{number}"))
        return None if raw is None else dict(loads(cast(bytes, raw)))

    def save_task(self, batch_id: str, number: int, task: Mapping[str, Any]) -> None:
        """Rewrite chunk ``number``'s task (the sweeper counts its attempts)."""
        self.raw.set(self._key(batch_id, f":task:{number}"), dumpb(dict(task)),
                     ex=self.store.job_ttl)

    def unfinished(self, batch_id: str, hashes: Sequence[str]) -> list[str]:
        """Return those of ``hashes`` whose outcome the batch has not recorded yet."""
        if not hashes:
            return []
        states = self.redis.hmget(self._key(batch_id, ":done"), list(hashes))
        return [key for key, state in zip(hashes, states, strict=True) if state is None]

    def record(self, batch_id: str) -> dict[str, Any] | None:
        """Return a batch's record (with its counts), or None when unknown or expired."""
        raw = self.redis.hgetall(self._key(batch_id))
        return _typed(raw) if raw else None

    def window(self, batch_id: str, start: int, stop: int) -> tuple[int, bytes]:
        """Return how many lines from ``start`` on (before ``stop``) are finished, as NDJSON.

        Two round trips: the line entries, then their states and results together.
        The lines are spliced here, not in a Lua script: concatenating megabytes of
        results inside Redis would hold its single thread (and every other client).
        """
        entries = cast(list[bytes], self.raw.lrange(self._key(batch_id, ":lines"), start,
                                                   stop - 1))
        hashes = [entry for entry in entries if not entry.startswith(b"!")]
        states: list[bytes | None] = []
        results: list[bytes | None] = []
        if hashes:
            pipe = self.raw.pipeline(transaction=False)
            # States first: a hash marked done had its result stored before the mark.
            pipe.hmget(self._key(batch_id, ":done"), hashes)
            pipe.mget([_RESULT + key for key in hashes])
            states, results = pipe.execute()
        out: list[bytes] = []
        finished = iter(zip(states, results, strict=True))
        for offset, entry in enumerate(entries):
            head = b'{"index":%d,"status":' % (start + offset)
            if entry.startswith(b"!"):
                out += (head, b'"failed","error":', entry[1:], b"}\n")
                continue
            state, result = next(finished)
            if state is None:  # not finished: the window ends here
                return offset, b"".join(out)
            if state == b"" and result is not None:
                out += (head, b'"succeeded","result":', result, b"}\n")
            elif state == b"":
                out += (head, b'"failed","error":', _EXPIRED_JSON, b"}\n")
            else:  # "!" + the failure object: its fields ("error", maybe "result") spliced in
                out += (head, b'"failed",', state[2:], b"\n")
        return len(entries), b"".join(out)

    # --- the worker side ------------------------------------------------------------------

    def exists(self, batch_id: str) -> bool:
        """Return whether the batch is still kept."""
        return bool(self.redis.exists(self._key(batch_id)))

    def chunk(self, batch_id: str, number: int) -> bytes | None:
        """Return the networks of a chunk (packed or JSON), or None when expired."""
        specs = self.raw.get(self._key(batch_id, f":chunk:{number}"))
        return specs if isinstance(specs, bytes) else None

    def forget_chunk(self, batch_id: str, number: int) -> None:
        """Drop a chunk's networks, task and lease once its outcomes are recorded."""
        pipe = self.raw.pipeline(transaction=False)
        pipe.delete(self._key(batch_id, f":chunk:{number}"), self._key(batch_id, f":task:{number}"))
        pipe.zrem(self.store.leases, chunk_member(batch_id, number))
        pipe.execute()

    def finish(
        self,
        batch_id: str,
        outcomes: Iterable[tuple[str, Mapping[str, Any] | None, dict[str, Any] | None]],
    ) -> None:
        """Record ``(content hash, result, failure)`` of a chunk's networks in one round trip.

        The commands are encoded here, a SET per result and the script, and written at
        once: redis-py's generic encoder would take longer than the analysis.
        """
        commands: list[bytes] = []
        args: list[bytes | str | int] = [keys.done("batch:" + batch_id)]
        ttl = str(self.store.cache_ttl)
        for key, result, failure in outcomes:
            if failure is None:
                commands.append(_command(b"SET", keys.result(key), dumpb(result),
                                         b"EX", ttl))
                args += [key, b""]
            else:
                args += [key, REFUSED.encode() + dumpb(failure)]
        commands.append(_command(b"EVAL", _FINISH, 3, *self._keys(batch_id), *args))
        packed = b"".join(commands)
        # Every command here may run twice (a reply lost as Redis went away): the SETs
        # write the same results, and the script counts a hash once (HSETNX).
        retry = self.raw.get_retry()
        if retry is None:
            self._send(packed, len(commands))
        else:
            retry.call_with_retry(lambda: self._send(packed, len(commands)), lambda error: None)

    def _send(self, packed: bytes, replies: int) -> None:
        connection = self.raw.connection_pool.get_connection()
        try:
            connection.send_packed_command([packed])
            for _ in range(replies):
                connection.read_response()
        except BaseException:
            connection.disconnect()  # replies may be left unread: never reuse it
            raise
        finally:
            self.raw.connection_pool.release(connection)

    def _keys(self, batch_id: str) -> list[str]:
        return [self._key(batch_id), self._key(batch_id, ":done"), self._key(batch_id, ":count")]


def _command(*args: bytes | str | int) -> bytes:
    """Encode one Redis command (RESP)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


def _typed(raw: Mapping[Any, Any]) -> dict[str, Any]:
    record = {str(k): v for k, v in raw.items()}
    for name in ("total", "succeeded", "failed"):
        record[name] = int(record.get(name) or 0)
    record["owner"] = record.get("owner") or None
    return record

