"""Processes that die: a worker's child killed mid-upload, a warm shutdown, the watcher killed."""

from __future__ import annotations

import os
import signal
from urllib.parse import urlsplit

import pytest

from tests.faults.harness import FaultStack
from tests.proxy import TcpProxy
from tests.worker.harness import wait_for

pytestmark = pytest.mark.faults


def _kill_child(stack: FaultStack) -> None:
    (worker,) = stack.workers
    (child,) = worker.children()
    os.kill(child, signal.SIGKILL)


@pytest.mark.scenario("worker SIGKILL before the request arrived")
def test_worker_killed_before_its_request_reached_the_server_uploads_once(
    stack: FaultStack,
) -> None:
    """SIGKILL while the upload sits in a network black hole: redelivered, uploaded once."""
    parts = urlsplit(stack.emulator_url)
    assert parts.hostname and parts.port
    with TcpProxy((parts.hostname, parts.port)) as proxy:
        folder = stack.watch_folder("killed-early")
        stack.start_worker(
            concurrency=1,
            pool="prefork",
            MEDIAPOST_ENDPOINT=f"http://127.0.0.1:{proxy.port}/api.php",
        )
        stack.start_watcher(folder)
        stack.drop_images(folder, 1, seed=2000, prefix="warm")
        wait_for(lambda: stack.settled() == 1, 30, "the warm-up upload (creates the album)")
        proxy.holding = True
        stack.drop_images(folder, 5, seed=2010)
        assert proxy.held.wait(30), "an upload reached the black hole"
        _kill_child(stack)
        proxy.holding = False
        stack.fault_over()
        stack.wait_drained(bound_s=60)
    stack.check_invariants()
    assert stack.events("upload.in_doubt_absent"), "the redelivery looked in the album first"


@pytest.mark.scenario("worker SIGKILL after the server stored")
def test_worker_killed_after_the_server_stored_the_photo_adopts_it(stack: FaultStack) -> None:
    """SIGKILL while the server stalls its answer: the redelivery adopts the stored photo."""
    folder = stack.watch_folder("killed-late")
    stack.start_worker(concurrency=1, pool="prefork")
    stack.start_watcher(folder)
    stack.drop_images(folder, 1, seed=2100, prefix="warm")
    wait_for(lambda: stack.settled() == 1, 30, "the warm-up upload (creates the album)")
    stack.post_admin("faults", {"rules": [{"action": "stall", "seconds": 60, "count": 1}]})
    stack.drop_images(folder, 5, seed=2110)
    wait_for(lambda: stack.inspect()["counters"]["stalled"] == 1, 30, "the stalled answer")
    _kill_child(stack)
    stack.fault_over()
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
    assert len(stack.events("upload.adopted")) == 1


@pytest.mark.scenario("worker SIGTERM mid-upload")
def test_sigterm_lets_in_flight_uploads_finish_and_a_second_worker_takes_the_rest(
    stack: FaultStack,
) -> None:
    """Warm shutdown: running uploads finish, reserved ones go back; another worker finishes."""
    folder = stack.watch_folder("sigterm")
    stack.post_admin("faults", {"latency_ms": 300})
    first = stack.start_worker(concurrency=4)
    stack.start_watcher(folder)
    stack.drop_images(folder, 40, seed=2200)
    wait_for(lambda: stack.settled() >= 8, 60, "uploads under way")
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(30) == 0, "the warm shutdown ended cleanly"
    assert stack.settled() < 40, "work was left for the second worker"
    stack.start_worker(concurrency=4)
    stack.fault_over()
    stack.wait_drained(bound_s=60)
    stack.check_invariants()


@pytest.mark.scenario("watcher SIGKILL + restart")
def test_watcher_killed_during_a_burst_and_restarted_queues_every_file(
    stack: FaultStack,
) -> None:
    """Files dropped while the watcher is dead are found by the next start-up scan."""
    folder = stack.watch_folder("watcher-killed")
    stack.start_worker(concurrency=4)
    watcher = stack.start_watcher(folder)
    stack.drop_images(folder, 30, seed=2300, prefix="a")
    watcher.stop(signal.SIGKILL)
    stack.drop_images(folder, 30, seed=2340, prefix="b")
    stack.start_watcher(folder)
    stack.fault_over()
    stack.drop_images(folder, 10, seed=2380, prefix="c")
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
