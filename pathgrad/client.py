"""A small Python client of the pathgrad HTTP API (docs/CONTRACT.md section 6), over requests.

It imports neither Flask nor Celery, so scripts and grading pipelines start fast::

    from pathgrad.client import Client

    with Client("http://127.0.0.1:8000") as pathgrad:
        job = pathgrad.submit(network, wait=30)
        for line in pathgrad.batch(networks):
            print(line["index"], line["status"])

Every error is a :class:`PathgradClientError`: :class:`APIError` when the server answered
with a problem (RFC 9457: ``status``, ``title``, ``detail``, ``errors``),
:class:`ServerUnreachable` when it could not be reached, :class:`RequestTimeout` when it
did not answer in time, and :class:`JobTimeout` when a job did not finish in time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, overload

import requests

__all__ = [
    "DEFAULT_URL",
    "APIError",
    "BatchInterrupted",
    "BatchResults",
    "Client",
    "JobTimeout",
    "PathgradClientError",
    "RequestTimeout",
    "ServerUnreachable",
]

DEFAULT_URL = "http://127.0.0.1:8000"
FINISHED = ("succeeded", "failed")

# The server's default PATHGRAD_COMPUTE_WAIT: a path page, formula or grading may take this long
# before the server answers, so such requests get it on top of the client's timeout.
_COMPUTE_WAIT = 30.0
# Polling of GET /v1/jobs/{id}: first delay, growth factor and ceiling (seconds).
_POLL_FIRST, _POLL_GROWTH, _POLL_MAX = 0.05, 1.5, 1.0
# Seconds a batch's results are retried while the server cannot read them (its Redis
# restarting, the connection dropped), and the longest pause between tries.
_OUTAGE_PATIENCE, _OUTAGE_MAX_DELAY = 120.0, 5.0
# A 503 with Retry-After (workers busy) is retried this many times on a GET.
_BUSY_RETRIES = 2
_PROBLEM_TYPES = ("application/problem+json", "application/json")


class PathgradClientError(Exception):
    """Base of every error the client raises.

    ``status``, ``title``, ``detail`` and ``errors`` come from the server's problem body
    when there is one (:class:`APIError`); ``status`` is None when no answer came.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str = "",
        errors: list[dict[str, Any]] | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.title = title
        self.errors = errors or []
        self.problem = problem or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, status={self.status!r})"


class APIError(PathgradClientError):
    """The server answered 4xx or 5xx; ``problem`` is its problem+json body."""

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class ServerUnreachable(PathgradClientError):
    """No connection to the server (refused, unknown host, dropped)."""


class RequestTimeout(PathgradClientError):
    """The server accepted the connection but did not answer in time."""


class JobTimeout(PathgradClientError):
    """A job had not finished when :meth:`Client.wait` gave up; ``job`` is its last state."""

    def __init__(self, detail: str, job: dict[str, Any]) -> None:
        super().__init__(detail)
        self.job = job


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C while a batch's jobs were being sent: ``ids`` are the server batches sent so far.

    They run on; :meth:`Client.resume` reads them (and sends the rest of the jobs).
    """

    def __init__(self, ids: list[str], submitted: int) -> None:
        super().__init__(f"interrupted after sending {submitted} jobs in {len(ids)} batches")
        self.ids = ids
        self.submitted = submitted


class Client:
    """A client of one pathgrad server.

    ``url`` is the server's base URL, ``api_key`` is sent as ``Authorization: Bearer``,
    ``timeout`` is how long (seconds) to wait for an answer to one request, on top of any
    wait that request asks the server for. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 30
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json, application/problem+json"
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections to the server."""
        self._session.close()

    # --- jobs ---------------------------------------------------------------------------

    def submit(
        self,
        network: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """Submit a network; return the job, finished if it finished within ``wait`` seconds."""
        params = {"wait": f"{wait:g}"} if wait else None
        started = time.monotonic()
        job = self._json("POST", "/v1/jobs", params=params, extra_wait=wait or 0.0,
                         json={"network": network, "options": dict(options or {})})
        remaining = (wait or 0.0) - (time.monotonic() - started)
        # The server caps ?wait (PATHGRAD_MAX_WAIT); poll for whatever is left.
        if job["status"] not in FINISHED and remaining > 0:
            try:
                job = self.wait(job["id"], timeout=remaining)
            except JobTimeout as exc:
                job = exc.job
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        """Return a job as it is now."""
        return self._json("GET", f"/v1/jobs/{job_id}")

    def wait(self, job_id: str, timeout: float = 300) -> dict[str, Any]:
        """Poll a job with backoff until it has finished; raise JobTimeout after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        delay = _POLL_FIRST
        while True:
            job = self.job(job_id)
            left = deadline - time.monotonic()
            if job["status"] in FINISHED:
                return job
            if left <= 0:
                raise JobTimeout(f"job {job_id} is still {job['status']} after {timeout:g} s",
                                 job)
            time.sleep(min(delay, left))
            delay = min(delay * _POLL_GROWTH, _POLL_MAX)

    def paths(
        self,
        job_id: str,
        weight: str,
        order: str = "abs_desc",
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Return one page of a weight's (or bias's) paths (docs/CONTRACT.md sections 3, 8)."""
        params: dict[str, str] = {"order": order}
        if limit is not None:
            params["limit"] = str(limit)
        if cursor is not None:
            params["cursor"] = cursor
        return self._json("GET", f"/v1/jobs/{job_id}/weights/{weight}/paths", params=params,
                          extra_wait=_COMPUTE_WAIT)

    def network_paths(
        self,
        job_id: str,
        through: str | None = None,
        output: str | None = None,
        order: str = "abs_desc",
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Return one page of the network's input-to-output paths (docs/CONTRACT.md section 8)."""
        params = {key: value for key, value in (("through", through), ("output", output),
                                                ("order", order), ("cursor", cursor))
                  if value is not None}
        if limit is not None:
            params["limit"] = str(limit)
        return self._json("GET", f"/v1/jobs/{job_id}/paths", params=params,
                          extra_wait=_COMPUTE_WAIT)

    def node(self, job_id: str, name: str) -> dict[str, Any]:
        """Return a neuron's value, delta and the flow of the paths through it."""
        return self._json("GET", f"/v1/jobs/{job_id}/nodes/{name}", extra_wait=_COMPUTE_WAIT)

    def formula(self, job_id: str, weight: str) -> dict[str, Any]:
        """Return the symbolic gradient of a weight: ``{"weight", "text", "latex"}``."""
        return self._json("GET", f"/v1/jobs/{job_id}/weights/{weight}/formula",
                          extra_wait=_COMPUTE_WAIT)

    def health(self) -> dict[str, Any]:
        """Return the server's health: ``status``, ``redis``, ``workers``."""
        return self._json("GET", "/v1/health")

    # --- grading ------------------------------------------------------------------------

    @overload
    def grade(
        self,
        network: Mapping[str, Any],
        answers: Mapping[str, Any],
        options: Mapping[str, Any] | None = ...,
        tolerance: Mapping[str, float] | None = ...,
        points: Mapping[str, float] | None = ...,
        format: Literal["json", "gradescope"] = ...,
        *,
        ask: Sequence[str] | None = ...,
        partial: Mapping[str, float] | None = ...,
        visibility: str | None = ...,
    ) -> dict[str, Any]: ...

    @overload
    def grade(
        self,
        network: Mapping[str, Any],
        answers: Mapping[str, Any],
        options: Mapping[str, Any] | None = ...,
        tolerance: Mapping[str, float] | None = ...,
        points: Mapping[str, float] | None = ...,
        *,
        format: Literal["junit"],
        ask: Sequence[str] | None = ...,
        partial: Mapping[str, float] | None = ...,
        visibility: str | None = ...,
    ) -> str: ...

    def grade(
        self,
        network: Mapping[str, Any],
        answers: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        tolerance: Mapping[str, float] | None = None,
        points: Mapping[str, float] | None = None,
        format: Literal["json", "gradescope", "junit"] = "json",
        *,
        ask: Sequence[str] | None = None,
        partial: Mapping[str, float] | None = None,
        visibility: str | None = None,
    ) -> dict[str, Any] | str:
        """Grade answers ``{"W1": -2.5, "W7": "3/4"}`` on the ``ask`` names (or ``points``').

        The server grades only what was asked: give ``ask``, ``points`` or both.
        ``tolerance`` is ``{"rtol", "atol"}``, ``{"sigfig": n}`` or ``{"decdig": n}``;
        ``partial`` the credit per diagnosis; ``visibility`` Gradescope's (``hidden``,
        ``after_due_date``, ...). ``junit`` returns the XML text.
        """
        body: dict[str, Any] = {"network": network, "options": dict(options or {}),
                                "answers": dict(answers)}
        if ask is not None:  # a bare string goes as it is, for the server to refuse by name
            body["ask"] = ask if isinstance(ask, str) else list(ask)
        if tolerance is not None:
            body["tolerance"] = dict(tolerance)
        if points is not None:
            body["points"] = dict(points)
        if partial is not None:
            body["partial"] = dict(partial)
        params = {"format": format} | ({"visibility": visibility} if visibility else {})
        response = self._request("POST", "/v1/grade", params=params, json=body,
                                 extra_wait=_COMPUTE_WAIT)
        if format == "junit":
            return response.text
        return _json_of(response)

    # --- batches ------------------------------------------------------------------------

    def batch(
        self, jobs: Iterable[Mapping[str, Any]], chunk: int = 10_000
    ) -> BatchResults:
        """Submit many jobs; return an iterator over their result lines as they arrive.

        Each item of ``jobs`` is ``{"network", "options"}`` or a bare network. They are
        sent ``chunk`` at a time (one server batch per chunk, all submitted before this
        returns); lines come in submission order, ``index`` counting from 0 over all
        ``jobs``: ``{"index", "status", "result" | "error"}``. Ctrl-C while sending
        raises :class:`BatchInterrupted` with the ids of the batches already sent.
        """
        if chunk < 1:
            raise ValueError(f"chunk: expected at least 1, got {chunk}")
        batches, total = self._submit(jobs, chunk, 0)
        return BatchResults(self, batches, total)

    def resume(
        self, batch_ids: Sequence[str], start: int = 0,
        jobs: Iterable[Mapping[str, Any]] = (), chunk: int = 10_000,
    ) -> BatchResults:
        """Read on server batches already submitted, as one batch, from line ``start`` on.

        ``batch_ids`` are in submission order (as :attr:`BatchResults.ids` or
        :class:`BatchInterrupted` gave them); ``index`` counts over all of them. ``jobs``
        are sent after them, for a submission interrupted before every job was sent.
        """
        if chunk < 1:
            raise ValueError(f"chunk: expected at least 1, got {chunk}")
        if start < 0:
            raise ValueError(f"start: expected at least 0, got {start}")
        batches: list[tuple[int, dict[str, Any]]] = []
        offset = 0
        for batch_id in batch_ids:
            status = self.batch_status(batch_id)
            batches.append((offset, status))
            offset += int(status["total"])
        more, total = self._submit(jobs, chunk, offset)
        return BatchResults(self, batches + more, total, start=start)

    def _submit(
        self, jobs: Iterable[Mapping[str, Any]], chunk: int, offset: int
    ) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        """Send ``jobs`` in chunks from index ``offset``; return the batches and the total."""
        batches: list[tuple[int, dict[str, Any]]] = []
        lines: list[bytes] = []
        total = offset
        try:
            for item in jobs:
                lines.append(_ndjson_line(item))
                total += 1
                if len(lines) == chunk:
                    batches += self._post_batch(lines, total - len(lines))
                    lines = []
            if lines:
                batches += self._post_batch(lines, total - len(lines))
        except KeyboardInterrupt:
            sent = sum(int(body["total"]) for _, body in batches)
            raise BatchInterrupted([body["id"] for _, body in batches], sent) from None
        return batches, total

    def batch_status(self, batch_id: str) -> dict[str, Any]:
        """Return a batch's counts: ``total``, ``succeeded``, ``failed``, ``pending``."""
        return self._json("GET", f"/v1/batches/{batch_id}")

    def _post_batch(self, lines: list[bytes], offset: int) -> list[tuple[int, dict[str, Any]]]:
        """POST one chunk as NDJSON; halve it while the server says it is too large."""
        try:
            body = self._json("POST", "/v1/batches", data=b"".join(lines),
                              headers={"Content-Type": "application/x-ndjson"})
        except APIError as exc:
            if exc.status != 413 or len(lines) < 2:
                raise
            half = len(lines) // 2
            return (self._post_batch(lines[:half], offset)
                    + self._post_batch(lines[half:], offset + half))
        return [(offset, body)]

    # --- HTTP ---------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return _json_of(self._request(method, path, **kwargs))

    def _request(
        self, method: str, path: str, *, extra_wait: float = 0.0, stream: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; map every failure to a PathgradClientError."""
        url = self.url + path
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                response = self._session.request(
                    method, url, timeout=(self.timeout, self.timeout + extra_wait),
                    stream=stream, **kwargs)
            except requests.ConnectTimeout as exc:
                raise ServerUnreachable(f"cannot connect to {self.url}: no answer within "
                                        f"{self.timeout:g} s") from exc
            except requests.ConnectionError as exc:
                raise ServerUnreachable(f"cannot connect to {self.url}: "
                                        f"{_reason(exc)}") from exc
            except requests.Timeout as exc:
                raise RequestTimeout(f"{method} {url}: no answer within "
                                     f"{self.timeout + extra_wait:g} s") from exc
            except requests.RequestException as exc:
                raise PathgradClientError(f"{method} {url}: {exc}") from exc
            retry_after = _retry_after(response)
            if method == "GET" and retry_after is not None and attempt < _BUSY_RETRIES:
                response.close()
                time.sleep(retry_after)
                continue
            if response.status_code >= 400:
                with response:
                    raise _api_error(method, url, response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover


class BatchResults(Iterator[dict[str, Any]]):
    """The result lines of a batch, in submission order, as the server finishes them.

    ``ids`` are the server's batch ids (one per chunk) and ``total`` the number of jobs;
    the lines start at ``start`` (0 unless resumed). A dropped or idle stream is
    reopened where it stopped.
    """

    def __init__(
        self, client: Client, batches: list[tuple[int, dict[str, Any]]], total: int,
        start: int = 0,
    ) -> None:
        self.ids = [body["id"] for _, body in batches]
        self.total = total
        self.start = min(start, total)
        self._client = client
        self._lines = self._stream(batches)

    def __repr__(self) -> str:
        return f"BatchResults(ids={self.ids!r}, total={self.total})"

    def __next__(self) -> dict[str, Any]:
        return next(self._lines)

    def close(self) -> None:
        """Stop reading (the batches go on on the server)."""
        self._lines.close()

    def _stream(
        self, batches: list[tuple[int, dict[str, Any]]]
    ) -> Generator[dict[str, Any], None, None]:
        for offset, body in batches:
            total = int(body["total"])
            if offset + total <= self.start:
                continue  # read before the interruption
            for line in self._one(body["id"], total, max(0, self.start - offset)):
                line["index"] = offset + int(line["index"])
                yield line

    def _one(self, batch_id: str, total: int, seen: int = 0) -> Iterator[dict[str, Any]]:
        """Yield the lines of one batch from line ``seen`` on, reconnecting after an idle,
        ended or dropped stream.

        While the server cannot reach its Redis (a restart), reading is retried with
        backoff for up to :data:`_OUTAGE_PATIENCE` seconds before the error is raised.
        """
        complete = False  # the server said every line had finished before the last read
        outage = _Outage()
        idle = _POLL_FIRST
        while seen < total:
            before = seen
            try:
                for line in self._read(batch_id, skip=seen):
                    seen += 1
                    outage.over()
                    yield line
                if seen == total:
                    break
                status = self._client.batch_status(batch_id)
            except (RequestTimeout, ServerUnreachable, _Interrupted) as exc:
                outage.wait(exc)
                continue
            except APIError as exc:
                if exc.status != 503:
                    raise
                outage.wait(exc)
                continue
            if complete and seen == before:
                raise PathgradClientError(f"batch {batch_id}: the results stream ended "
                                          f"after {seen} of {total} lines")
            # The server's ?timeout= ran out while lines were unfinished: read on from here
            # (after a pause when nothing came, not to ask again and again at once).
            complete = status["pending"] == 0
            idle = idle * _POLL_GROWTH if seen == before else _POLL_FIRST
            if seen == before and not complete:
                time.sleep(min(idle, _POLL_MAX))

    def _read(self, batch_id: str, skip: int) -> Iterator[dict[str, Any]]:
        """Yield the lines of one batch from line ``skip`` on (the server starts there)."""
        path = f"/v1/batches/{batch_id}/results"
        response = self._client._request("GET", path, stream=True, params={"start": skip})
        with response:
            try:
                # chunk_size=None: hand over each chunk as it arrives, not 512 bytes later.
                for raw in response.iter_lines(chunk_size=None):
                    if not raw:
                        continue
                    line = json.loads(raw)
                    if line.get("status") == "interrupted":
                        # The server lost its Redis mid-stream and said so: read on later.
                        raise _Interrupted(str((line.get("error") or {}).get("detail")))
                    yield line
            except requests.ConnectionError as exc:  # includes a read timeout mid-stream
                raise ServerUnreachable(f"batch {batch_id}: {_reason(exc)}") from exc
            except requests.RequestException as exc:
                raise ServerUnreachable(f"batch {batch_id}: the stream broke: {exc}") from exc
            except json.JSONDecodeError as exc:
                raise PathgradClientError(f"batch {batch_id}: a result line is not "
                                          f"JSON: {exc}") from exc


# --- helpers ----------------------------------------------------------------------------


class _Interrupted(PathgradClientError):
    """A results stream that ended with the server's "interrupted" line."""


class _Outage:
    """Backoff while a server cannot serve a stream; gives up after :data:`_OUTAGE_PATIENCE`."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.delay = _POLL_FIRST

    def __repr__(self) -> str:
        return f"_Outage(since={self.since!r})"

    def wait(self, error: PathgradClientError) -> None:
        """Sleep before the next try; raise ``error`` once the outage has lasted too long."""
        now = time.monotonic()
        self.since = now if self.since is None else self.since
        if now - self.since > _OUTAGE_PATIENCE:
            raise error
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, _OUTAGE_MAX_DELAY)

    def over(self) -> None:
        """The stream reads again: forget the outage."""
        self.since, self.delay = None, _POLL_FIRST


def _ndjson_line(item: Mapping[str, Any]) -> bytes:
    """One job as an NDJSON line; a bare network becomes ``{"network": ...}``."""
    if not isinstance(item, Mapping):
        raise TypeError(f"a batch job must be a mapping, got {type(item).__name__}")
    job = dict(item) if "network" in item else {"network": dict(item)}
    return json.dumps(job, separators=(",", ":")).encode() + b"\n"


def _json_of(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise PathgradClientError(f"{response.request.method} {response.url}: the answer "
                                  f"is not JSON ({response.status_code})") from exc
    if not isinstance(body, dict):
        raise PathgradClientError(f"{response.request.method} {response.url}: expected a "
                                  f"JSON object, got {type(body).__name__}")
    return body


def _api_error(method: str, url: str, response: requests.Response) -> APIError:
    """Turn a 4xx/5xx answer into an APIError, from its problem body when it has one."""
    status, reason = response.status_code, response.reason or "Error"
    body: Any = None
    if response.headers.get("Content-Type", "").split(";")[0].strip() in _PROBLEM_TYPES:
        try:
            body = response.json()
        except ValueError:
            body = None
    if not isinstance(body, dict):
        text = " ".join(response.text.split())[:200]
        detail = f"{method} {url} answered {status} {reason}" + (f": {text}" if text else "")
        return APIError(detail, status=status, title=reason)
    errors = body.get("errors")
    return APIError(
        str(body.get("detail") or body.get("title") or reason),
        status=int(body.get("status") or status),
        title=str(body.get("title") or reason),
        errors=errors if isinstance(errors, list) else None,
        problem=body,
    )


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait before retrying a 503 with ``Retry-After``, else None."""
    if response.status_code != 503:
        return None
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), 30.0)
    except (KeyError, ValueError):
        return None


def _reason(exc: requests.RequestException) -> str:
    """The innermost reason of a connection error, e.g. ``Connection refused``."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return str(cause.strerror)
        cause = cause.__cause__ or cause.__context__
    text = str(exc.args[0]) if exc.args else str(exc)
    return text.rsplit(": ", 1)[-1].rstrip("')\"") or type(exc).__name__
