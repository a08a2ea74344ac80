"""Redis faults: a restart and 10 s unreachable during a burst; messages and acks lost inside."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial

import pytest

from config.settings import WatchFolder
from tests.faults.harness import FaultStack, hold
from tests.faults.redis_server import RedisServer
from tests.proxy import TcpProxy
from tests.worker.harness import as_text, wait_for
from worker.messages import UPLOAD_QUEUE

pytestmark = pytest.mark.faults

OUTAGE_S = 10.0


@pytest.mark.scenario("Redis restarted mid-burst")
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_redis_restarted_during_a_burst_loses_nothing_and_uploads_nothing_twice(
    private_stack: FaultStack, private_redis: RedisServer, how: str
) -> None:
    """Workers and the watcher reconnect after a restart (AOF on); every file goes up once."""
    stack = private_stack
    folder = stack.watch_folder("redis-restart")
    stack.post_admin("faults", {"latency_ms": 100})
    stack.start_worker(concurrency=4)
    stack.start_worker(concurrency=4)
    stack.start_watcher(folder, rescan_s=5)
    stack.drop_images(folder, 60, seed=3000, prefix="a")
    wait_for(lambda: stack.settled() >= 15, 60, "the burst to be under way")
    if how == "sigkill":
        private_redis.kill()
    else:
        private_redis.stop()
    stack.drop_images(folder, 20, seed=3100, prefix="b")  # while Redis is down
    private_redis.start()
    stack.fault_over()
    stack.drop_images(folder, 20, seed=3200, prefix="c")
    stack.wait_drained(bound_s=90)
    stack.check_invariants()
    assert all(w.proc.poll() is None for w in stack.workers), "workers survived the restart"
    assert not any(b"Unrecoverable error" in w.log_path.read_bytes() for w in stack.workers)


@pytest.mark.scenario("Redis unreachable 10 s mid-burst")
def test_redis_unreachable_for_ten_seconds_during_a_burst_loses_nothing(
    private_stack: FaultStack, private_redis: RedisServer
) -> None:
    """A black-holed Redis (proxy down) for 10 s: events are kept, tasks resume, all go up once."""
    stack = private_stack
    with TcpProxy(("127.0.0.1", private_redis.port)) as proxy:
        folder = start_through(stack, proxy, "redis-down", latency_ms=100)
        stack.drop_images(folder, 60, seed=3300, prefix="a")
        wait_for(lambda: stack.settled() >= 15, 60, "the burst to be under way")
        proxy.down()
        stack.drop_images(folder, 20, seed=3400, prefix="b")
        hold(OUTAGE_S)
        proxy.up()
        stack.fault_over()
        stack.drop_images(folder, 20, seed=3500, prefix="c")
        stack.wait_drained(bound_s=90)
        stack.check_invariants()
        assert all(w.proc.poll() is None for w in stack.workers), "workers survived the outage"


def start_through(stack: FaultStack, proxy: TcpProxy, name: str, latency_ms: float) -> WatchFolder:
    """Two workers (4 threads) and the watcher, all reaching Redis through the proxy."""
    via_proxy = {"REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"}
    folder = stack.watch_folder(name)
    stack.post_admin("faults", {"latency_ms": latency_ms})
    stack.start_worker(concurrency=4, environ=via_proxy)
    stack.start_worker(concurrency=4, environ=via_proxy)
    stack.start_watcher(folder, rescan_s=5, **via_proxy)
    return folder


def at_least(count: Callable[[], int], n: int) -> bool:
    """Whether `count()` has reached n (a poll for wait_for)."""
    return count() >= n


@pytest.mark.scenario("broker connections reset 3x mid-burst")
def test_broker_connections_reset_during_uploads_upload_nothing_twice(
    private_stack: FaultStack, private_redis: RedisServer
) -> None:
    """Every Redis connection reset three times while uploads run (Redis itself up): kombu must
    not hand the running tasks' messages to a second copy, nor lose the ones held for later."""
    stack = private_stack
    with TcpProxy(("127.0.0.1", private_redis.port)) as proxy:
        folder = start_through(stack, proxy, "redis-resets", latency_ms=300)
        stack.drop_images(folder, 60, seed=3700)
        for settled in (10, 25, 40):
            wait_for(partial(at_least, stack.settled, settled), 60, f"{settled} uploads")
            proxy.reset()
        stack.fault_over()
        stack.wait_drained(bound_s=60)
        # A ledger reply lost in a reset makes its task retry; the retry's message can make the
        # queue look longer than the album's free slots, and the next album is then created
        # ahead and may stay empty (README, known limits). Photos: each once, none lost.
        stack.check_invariants(extra_albums=1)
        assert all(w.proc.poll() is None for w in stack.workers), "workers survived the resets"


@pytest.mark.scenario("messages and acks lost in Redis")
def test_lost_messages_are_sent_again_and_lost_acks_cleared_by_the_rescan(
    private_stack: FaultStack,
) -> None:
    """Messages gone from Redis are re-sent (once); an entry whose ack was lost is dropped."""
    stack = private_stack
    folder = stack.watch_folder("vanished")
    stack.start_watcher(folder, rescan_s=2)
    files = stack.drop_images(folder, 10, seed=3600)
    wait_for(lambda: stack.redis.llen(UPLOAD_QUEUE) == len(files), 30, "the messages")
    raw = as_text(stack.redis.lindex(UPLOAD_QUEUE, 0))
    stack.redis.delete(UPLOAD_QUEUE)  # what the BRPOP-to-unacked window or an AOF gap loses
    stack.start_worker(concurrency=4)
    stack.fault_over()
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
    (watcher,) = stack.watchers
    assert [e for e in watcher.lines() if e.get("event") == "watch.requeue_lost"]

    # An acknowledgement lost in an outage leaves the entry of a finished message behind.
    message = json.loads(raw)
    tag = message["properties"]["delivery_tag"]
    stack.redis.hset("unacked", tag, json.dumps([message, "", UPLOAD_QUEUE]))
    stack.redis.zadd("unacked_index", {tag: time.time()})
    wait_for(lambda: stack.redis.hlen("unacked") == 0, 15, "the rescan to clear the entry")
    assert stack.redis.zcard("unacked_index") == 0
    assert len(stack.our_photos()) == len(files)
