"""Graceful shutdown: SIGTERM lets running uploads finish (within a bound), the rest wait."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from tests.images import write_image
from tests.worker.harness import Stack, wait_for
from worker.messages import UPLOAD_QUEUE
from worker.shutdown import ShutdownGuard


def assert_each_uploaded_once(stack: Stack, names: list[str]) -> None:
    """The emulator holds exactly one photo per file."""
    photos = stack.inspect()["photos"]
    assert Counter(p["filename"] for p in photos) == dict.fromkeys(names, 1)


def test_sigterm_lets_running_uploads_finish_and_a_second_worker_takes_the_rest(
    stack: Stack,
) -> None:
    """2 s uploads: the 2 running at SIGTERM finish and are acked; the 2 prepared ahead give
    their files back without uploading, and those and the 1 never taken wait; all once."""
    folder = stack.folder("slow")
    files = [write_image(folder.path / f"img{i}.jpg", seed=i) for i in range(6)]
    first = stack.start_worker(concurrency=2)
    stack.enqueue(folder, files[:1])  # creates the album, so the next calls are uploads only
    stack.wait_settled(folder, 1)
    wait_for(stack.queue_empty, 10, "the first upload to be acknowledged")
    stack.post_admin("faults", {"latency_ms": 2000})
    stack.enqueue(folder, files[1:])
    wait_for(lambda: stack.redis.llen(UPLOAD_QUEUE) == 1, 10, "two uploading, two prepared")
    wait_for(lambda: stack.inspect()["counters"]["in_flight"] == 2, 10, "two uploads in flight")

    stopped_at = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    first.proc.wait(20)
    assert first.proc.returncode == 0
    assert time.monotonic() - stopped_at < 10
    assert len(stack.outcomes(folder)) == 3  # the one before, and both in flight
    assert stack.redis.llen(UPLOAD_QUEUE) == 3
    assert stack.redis.hlen("unacked") == 0
    assert stack.inspect()["counters"]["requests"]["up.photos.upload"] == 3
    given_back = [e for e in stack.events("upload.retry_later") if "stopping" in e["reason"]]
    assert len(given_back) == 2
    assert stack.events("worker.stopping")
    assert not stack.events("worker.shutdown_grace_expired")

    stack.post_admin("faults", {"latency_ms": 0})
    stack.start_worker(concurrency=2)
    stack.wait_settled(folder, 6)
    wait_for(stack.queue_empty, 10, "the queue to drain")
    assert_each_uploaded_once(stack, [f.name for f in files])
    assert {o.outcome for o in stack.outcomes(folder).values()} == {"uploaded"}
    assert stack.redis.hget("mp:stats", "duplicate") is None


@pytest.mark.parametrize("pool", ["threads", pytest.param("prefork", marks=pytest.mark.slow)])
def test_uploads_still_running_after_the_grace_are_requeued_and_uploaded_once(
    stack: Stack, pool: str
) -> None:
    """Grace 1 s, 6 s uploads: the worker exits at once; the cut-off uploads come back after
    the read timeout, are found on the server and adopted: each photo exactly once. A file
    queued during the shutdown is not lost to the worker's last, unread BRPOP either."""
    folder = stack.folder("stuck")
    files = [write_image(folder.path / f"img{i}.jpg", seed=i) for i in range(4)]
    first = stack.start_worker(
        concurrency=2,
        pool=pool,
        MEDIAPOST_WORKER__SHUTDOWN_GRACE_S="1",
        MEDIAPOST_HTTP_TIMEOUT_S="7",
    )
    stack.enqueue(folder, files[:1])
    stack.wait_settled(folder, 1)
    wait_for(stack.queue_empty, 10, "the first upload to be acknowledged")
    stack.post_admin("faults", {"latency_ms": 6000})
    stack.enqueue(folder, files[1:3])
    wait_for(lambda: stack.inspect()["counters"]["in_flight"] == 2, 10, "two uploads in flight")

    stopped_at = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: bool(stack.events("worker.stopping")), 10, "the warm shutdown to begin")
    stack.enqueue(folder, files[3:])
    first.proc.wait(20)
    assert time.monotonic() - stopped_at < 4  # the grace, not the 6 s uploads
    (expired,) = stack.events("worker.shutdown_grace_expired")
    assert expired["running"] == 2
    assert len(stack.events("worker.requeued")) == 2
    # The late file's message may have reached the stopping worker: then it was given back
    # (a retry, and maybe its restored original too; the ledger makes the second a no-op).
    assert stack.redis.llen(UPLOAD_QUEUE) >= 3
    assert stack.redis.hlen("unacked") == 0

    stack.post_admin("faults", {"latency_ms": 0})
    stack.start_worker(concurrency=2)
    stack.wait_settled(folder, 4, timeout=30)
    wait_for(stack.queue_empty, 10, "the queue to drain")
    assert_each_uploaded_once(stack, [f.name for f in files])
    assert stack.redis.hget("mp:stats", "adopted") == "2"


def test_the_guard_cuts_off_only_a_warm_shutdown_that_outlives_its_grace() -> None:
    """Cold shutdowns and idle workers are left alone; a late warm one stops children, exits."""
    calls: list[str] = []

    def stop_children() -> int:
        calls.append("children")
        return 0

    guard = ShutdownGuard(
        0.01,
        force_after_s=60,
        running=lambda: 2,
        stop_children=stop_children,
        exit_now=lambda code: calls.append(f"exit {code}"),
    )
    guard.on_shutting_down(how="Cold")
    assert guard._timer is None
    guard.on_shutting_down(how="Warm")
    wait_for(lambda: "exit 1" in calls, 5, "the exit")
    assert calls == ["children", "exit 1"]
    assert guard.escalated.is_set()

    idle = ShutdownGuard(0.01, running=lambda: 0, exit_now=lambda code: calls.append("idle"))
    idle.escalate()
    assert "idle" not in calls
    assert not idle.escalated.is_set()
