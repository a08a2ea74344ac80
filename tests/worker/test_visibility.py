"""Running uploads keep their messages however long they take (real Redis, a real worker)."""

from __future__ import annotations

import redis as redis_lib

from tests.images import write_image
from tests.worker.harness import Stack, wait_for
from worker.broker import UNACKED_INDEX_KEY
from worker.visibility import VisibilityHeartbeat, extend_visibility


def test_only_deliveries_still_unacknowledged_are_stamped(redis_client: redis_lib.Redis) -> None:
    """A running task's entry moves to now; an acknowledged one is not brought back."""
    redis_client.zadd(UNACKED_INDEX_KEY, {"running": 100.0, "other": 100.0})
    assert extend_visibility(redis_client, ["running", "acked-meanwhile"], now=5000.0) == 1
    assert redis_client.zscore(UNACKED_INDEX_KEY, "running") == 5000.0
    assert redis_client.zscore(UNACKED_INDEX_KEY, "other") == 100.0
    assert redis_client.zscore(UNACKED_INDEX_KEY, "acked-meanwhile") is None
    assert extend_visibility(redis_client, [], now=6000.0) == 0


def test_the_heartbeat_stamps_what_runs_until_it_is_stopped(
    redis_url: str, redis_client: redis_lib.Redis
) -> None:
    """Beats come every interval from their own connection; stop() ends them."""
    redis_client.zadd(UNACKED_INDEX_KEY, {"t1": 1.0})
    clock = iter(range(1000, 10**6, 1000))
    heartbeat = VisibilityHeartbeat(
        lambda: redis_lib.Redis.from_url(redis_url),
        interval_s=0.05,
        tags=lambda: ["t1"],
        clock=lambda: float(next(clock)),
    )
    heartbeat.start()
    wait_for(lambda: (redis_client.zscore(UNACKED_INDEX_KEY, "t1") or 0) >= 2000, 10, "2 beats")
    heartbeat.stop()
    assert heartbeat._thread is not None
    heartbeat._thread.join(10)
    assert not heartbeat._thread.is_alive()


def test_a_worker_restamps_the_delivery_of_an_upload_while_it_runs(stack: Stack) -> None:
    """A 3 s upload, beats every 0.3 s: its `unacked_index` time moves on, then it is acked."""
    folder = stack.folder("long")
    warm_up, photo = (write_image(folder.path / f"v{i}.jpg", seed=1200 + i) for i in range(2))
    stack.start_worker(concurrency=1, MEDIAPOST_WORKER__VISIBILITY_HEARTBEAT_S="0.3")
    stack.enqueue(folder, [warm_up])  # creates the album first
    stack.wait_settled(folder, 1)
    wait_for(stack.queue_empty, 10, "the first upload to be acknowledged")
    stack.post_admin("faults", {"latency_ms": 3000})
    stack.enqueue(folder, [photo])
    wait_for(lambda: stack.inspect()["counters"]["in_flight"] == 1, 10, "the upload")
    (entry,) = stack.redis.zrange(UNACKED_INDEX_KEY, 0, -1, withscores=True)
    tag, delivered_at = str(entry[0]), float(entry[1])
    wait_for(
        lambda: (stack.redis.zscore(UNACKED_INDEX_KEY, tag) or 0) > delivered_at + 0.5,
        10,
        "the delivery to be re-stamped while the upload runs",
    )
    stack.wait_settled(folder, 2)
    wait_for(stack.queue_empty, 10, "the upload to be acknowledged")
