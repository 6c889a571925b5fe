"""The API process's copies of recently read finished jobs: lapse, budget, order."""

from __future__ import annotations

import threading
import time

from service.recent import RecentJobs


def test_a_kept_body_is_returned_with_its_owner_until_it_lapses() -> None:
    recent = RecentJobs(ttl=0.2, max_bytes=1 << 20)
    recent.put("a", "alice", b'{"id":"a"}')
    kept = recent.get("a")
    assert kept is not None and kept.owner == "alice" and kept.body == b'{"id":"a"}'
    time.sleep(0.25)
    assert recent.get("a") is None
    assert len(recent) == 0  # a lapsed copy is dropped, not just hidden


def test_ttl_zero_keeps_nothing() -> None:
    recent = RecentJobs(ttl=0, max_bytes=1 << 20)
    recent.put("a", None, b"{}")
    assert recent.get("a") is None and len(recent) == 0


def test_the_least_recently_read_go_first_when_over_budget() -> None:
    recent = RecentJobs(ttl=60, max_bytes=400)  # room for eight bodies of 50 bytes
    for name in "abcd":
        recent.put(name, None, name.encode() * 50)
    assert recent.get("a") is not None  # a is now the most recently read; b the least
    for name in "efghi":
        recent.put(name, None, name.encode() * 50)
    kept = [name for name in "abcdefghi" if recent.get(name) is not None]
    assert kept == list("acdefghi")
    assert "bytes=400" in repr(recent)


def test_a_body_over_an_eighth_of_the_budget_is_not_kept() -> None:
    recent = RecentJobs(ttl=60, max_bytes=800)
    recent.put("small", None, b"x" * 100)
    recent.put("big", None, b"x" * 101)
    assert recent.get("big") is None and recent.get("small") is not None


def test_a_job_stored_again_replaces_its_copy_and_its_bytes() -> None:
    recent = RecentJobs(ttl=60, max_bytes=800)
    for _ in range(20):
        recent.put("a", None, b"x" * 100)
    recent.put("b", None, b"y" * 100)
    assert recent.get("a") is not None and recent.get("b") is not None
    assert "jobs=2, bytes=200" in repr(recent)


def test_many_threads_reading_and_storing_keep_the_byte_count_right() -> None:
    recent = RecentJobs(ttl=60, max_bytes=8000)

    def work(offset: int) -> None:
        for k in range(2000):
            name = str((offset + k) % 97)
            recent.put(name, None, b"z" * (1 + k % 1000))
            recent.get(str(k % 97))

    threads = [threading.Thread(target=work, args=(i * 13,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = [recent.get(str(k)) for k in range(97)]
    total = sum(len(job.body) for job in kept if job is not None)
    assert f"bytes={total}" in repr(recent) and total <= 8000
