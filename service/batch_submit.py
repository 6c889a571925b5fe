"""Submitting a batch: parse the body, check every job, send the distinct uncached networks.

Lines are handled in slices of ``BATCH_CHUNK``: each slice is checked (the outline
of every job, then the engine's vectorised parser per options group; a
group with any problem is checked job by job with :func:`validate_job`, which alone
decides each refused line's problem), keyed by content hash, looked up in the result
cache, appended to the batch, and every chunk it fills is sent to the workers at
once, so they compute while the API checks the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request
from pydantic import ValidationError

from worker import engine
from worker.batch_store import REFUSED, BatchStore, chunk_member
from worker.batch_tasks import run_chunk
from worker.engine.analysis import check_limits
from worker.engine.batch import Batch, pack, parse_batches, stack, take
from worker.engine.errors import PathgradError
from worker.jsoncodec import dumpb, dumps, loads
from worker.store import content_keys, task_id

from .models import JobRequest
from .problems import ProblemError
from .validation import (
    invalid,
    job_options,
    json_body,
    parse_json,
    problem_of_exception,
    validate_job,
)

__all__ = ["NDJSON", "Submission", "job_bodies"]

NDJSON = "application/x-ndjson"
_NDJSON_TYPES = frozenset({NDJSON, "application/jsonl", "application/json-lines"})
_JOB_FIELDS = frozenset({"network", "options"})
# Most (parameters + suffix paths) summed over a chunk: big networks go fewer a task.
CHUNK_COST = 2_000_000

# (line indices in the slice, their content hashes, options, cost of one network, and
# the parsed networks: row k of the batch is line indices[k])
Group = tuple[list[int], list[str], dict[str, Any], int, Batch]


def job_bodies() -> list[Any]:
    """Return the jobs of the request; an NDJSON line that is not JSON becomes its problem."""
    if request.mimetype in _NDJSON_TYPES:
        # Each line alone (as fast as one parse of them all joined, and a line such as
        # `{...},{...}` or `[{...}` cannot then become more or fewer jobs).
        lines = request.get_data(cache=False).splitlines()
        return [_parse_line(line) for line in lines if line.strip()]
    body = json_body()
    if not isinstance(body, dict) or set(body) != {"jobs"} or not isinstance(body["jobs"], list):
        raise ProblemError(invalid("jobs", 'expected an object {"jobs": [...]} (or an '
                                   f"{NDJSON} body, one job a line)"))
    return list(body["jobs"])


class _Refused:
    """A line refused before validation (not JSON), with its problem."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def __repr__(self) -> str:
        return f"_Refused({self.body['detail']!r})"


def _parse_line(line: bytes) -> Any:
    try:
        return loads(line)
    except (ValueError, RecursionError):
        try:  # the standard parser's message, as POST /v1/jobs gives it
            return parse_json(line)
        except ProblemError as error:
            return _Refused(error.body)


@dataclass
class _Chunk:
    """The distinct networks of one worker task, all with the same options."""

    options: dict[str, Any]
    keys: list[str] = field(default_factory=list)
    specs: list[Any] = field(default_factory=list)
    rows: list[tuple[Batch, int]] = field(default_factory=list)  # each key's parsed network
    cost: int = 0

    def __repr__(self) -> str:
        return f"_Chunk(networks={len(self.keys)}, cost={self.cost})"


class Submission:
    """One batch being submitted: its counts so far and the chunks not yet sent."""

    def __init__(self, batches: BatchStore, batch_id: str, chunk_size: int) -> None:
        self.batches = batches
        self.batch_id = batch_id
        self.chunk_size = chunk_size
        self.succeeded = 0
        self.failed = 0
        self._seen: set[str] = set()  # hashes already cached or sent
        self._cached: set[str] = set()
        self._chunks: dict[int, _Chunk] = {}  # open chunk per options object
        self._options: dict[str, dict[str, Any]] = {}  # one object per distinct options
        self._sent = 0
        self._slices = 0

    def __repr__(self) -> str:
        return f"Submission({self.batch_id!r}, succeeded={self.succeeded}, failed={self.failed})"

    def add(self, bodies: Sequence[Any]) -> None:
        """Check, key and append every job in slices, sending chunks as they fill."""
        for start in range(0, len(bodies), self.chunk_size):
            self._add_slice(bodies[start:start + self.chunk_size])
        for chunk in self._chunks.values():
            self._send(chunk)
        self._chunks.clear()

    def _add_slice(self, bodies: Sequence[Any]) -> None:
        entries = [""] * len(bodies)
        lines: dict[str, int] = {}
        # new hash: its line, options, cost and parsed network (batch, row)
        first: dict[str, tuple[int, dict[str, Any], int, Batch, int]] = {}
        for indices, keys, options, cost, batch in self._valid_groups(bodies, entries):
            options = self._options.setdefault(json.dumps(options, sort_keys=True), options)
            for row, (index, key) in enumerate(zip(indices, keys, strict=True)):
                entries[index] = key
                lines[key] = lines.get(key, 0) + 1
                if key not in self._seen and key not in first:
                    first[key] = (index, options, cost, batch, row)
        new = sorted(first, key=lambda key: first[key][0])
        hits = self.batches.add_lines(self.batch_id, self._slices, entries, new=new, lines=lines)
        self._slices += 1
        self._seen.update(new)
        self._cached.update(key for key, hit in zip(new, hits, strict=True) if hit)
        self.failed += sum(1 for entry in entries if entry.startswith(REFUSED))
        self.succeeded += sum(count for key, count in lines.items() if key in self._cached)
        for key, hit in zip(new, hits, strict=True):
            if not hit:
                index, options, cost, batch, row = first[key]
                self._queue(key, bodies[index]["network"], (batch, row), options, cost)

    def _queue(self, key: str, spec: Any, parsed: tuple[Batch, int], options: dict[str, Any],
               cost: int) -> None:
        chunk = self._chunks.setdefault(id(options), _Chunk(options))
        chunk.keys.append(key)
        chunk.specs.append(spec)
        chunk.rows.append(parsed)
        chunk.cost += cost
        if len(chunk.keys) >= self.chunk_size or chunk.cost >= CHUNK_COST:
            self._send(self._chunks.pop(id(options)))

    def _send(self, chunk: _Chunk) -> None:
        # The networks go through Redis, not the message: kombu would encode them
        # as JSON, then base64, and the worker's main process decode them again. Float
        # networks go as the arrays parsed here (the worker neither parses nor checks
        # them again); exact ones, whose numbers are fractions, as their JSON.
        if any(batch.exact for batch, _ in chunk.rows):
            keys, data = chunk.keys, dumpb(chunk.specs)
        else:
            keys, data = _packed(chunk)
        number, self._sent = self._sent, self._sent + 1
        self.batches.save_chunk(self.batch_id, number, data, options=chunk.options, hashes=keys,
                                lease=float(current_app.config["QUEUED_LEASE"]))
        run_chunk.apply_async(args=[self.batch_id, number],
                              task_id=task_id(chunk_member(self.batch_id, number), 1))

    def _valid_groups(self, bodies: Sequence[Any], entries: list[str]) -> Iterator[Group]:
        """Yield the valid lines a group at a time; write refused lines' problems to entries."""
        groups: dict[str, list[int]] = {}
        for index, body in enumerate(bodies):
            if isinstance(body, _Refused):
                entries[index] = REFUSED + dumps(body.body)
                continue
            if not _plain_outline(body):
                try:
                    JobRequest.model_validate(body)
                except ValidationError as exc:
                    entries[index] = REFUSED + dumps(problem_of_exception(exc))
                    continue
            options = body.get("options")
            groups.setdefault(json.dumps(options, sort_keys=True) if options else "{}",
                              []).append(index)
        for members in groups.values():
            try:
                yield from _group(bodies, members)
            except (ProblemError, PathgradError):
                yield from _one_by_one(bodies, members, entries)


def _packed(chunk: _Chunk) -> tuple[list[str], bytes]:
    """A chunk's networks as packed batches, and its keys in the packed order."""
    rows: dict[int, tuple[Batch, list[int], list[str]]] = {}
    for key, (batch, row) in zip(chunk.keys, chunk.rows, strict=True):
        _, picked, keys = rows.setdefault(id(batch), (batch, [], []))
        picked.append(row)
        keys.append(key)
    ordered = [key for _, _, keys in rows.values() for key in keys]
    return ordered, pack([take(batch, picked) for batch, picked, _ in rows.values()])


def _plain_outline(body: Any) -> bool:
    """Whether a job body is ``{"network": {...}, "options"?: {...}}`` and nothing else.

    Such a line skips pydantic's outline (about 7 us a line): the engine's parser and
    :func:`job_options` check everything in it at least as strictly, and a group with
    any problem is checked again job by job with :func:`validate_job`, so a refused
    line still gets exactly the problem a single job would.
    """
    return (type(body) is dict and "network" in body and body.keys() <= _JOB_FIELDS
            and type(body["network"]) is dict
            and ("options" not in body or type(body["options"]) is dict))


def _group(bodies: Sequence[Any], members: list[int]) -> Iterator[Group]:
    """Check jobs sharing options at once; raise on the first problem of any of them."""
    options = job_options(bodies[members[0]].get("options") or {})
    settings = options.to_dict()
    found = []
    for positions, batch in parse_batches([bodies[i]["network"] for i in members],
                                          exact=options.exact):
        cost = check_limits(batch.layers, options, batch.samples) + _parameters(batch.layers)
        keys = _keys_of(batch, settings)
        found.append(([members[p] for p in positions], keys, settings, cost, batch))
    yield from found  # only once every shape of the group has passed


def _one_by_one(bodies: Sequence[Any], members: list[int], entries: list[str]) -> Iterator[Group]:
    for index in members:
        try:
            network, options = validate_job(bodies[index])
        except (ProblemError, PathgradError, ValidationError) as exc:
            entries[index] = REFUSED + dumps(problem_of_exception(exc))
            continue
        settings = options.to_dict()
        cost = check_limits(network.layers, options, network.samples) + _parameters(network.layers)
        batch = stack([network])
        yield [index], _keys_of(batch, settings), settings, cost, batch


def _keys_of(batch: Batch, settings: dict[str, Any]) -> list[str]:
    """The content hashes of a batch's networks under these options."""
    return content_keys(batch, settings, engine.ENGINE_VERSION)


def _parameters(layers: tuple[int, ...]) -> int:
    return sum(n * (m + 1) for m, n in zip(layers[:-1], layers[1:], strict=True))
