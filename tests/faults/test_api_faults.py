"""API faults: outages, dropped connections, timeouts, an expired session, code 4 storms."""

from __future__ import annotations

import httpx
import pytest

from tests.faults.harness import FLOWER_PASSWORD, FLOWER_USER, FaultStack, hold
from tests.faults.redis_server import free_port
from tests.worker.harness import wait_for

pytestmark = pytest.mark.faults

OUTAGE_S = 8.0
SHORT_BUDGET = {"MEDIAPOST_RETRY__MAX_ATTEMPTS": "3", "MEDIAPOST_RETRY__MAX_TOTAL_S": "1.5"}


@pytest.mark.scenario("API outage (code 2) > retry budget")
def test_an_outage_longer_than_the_retry_budget_ends_with_every_file_once_and_no_hot_loop(
    stack: FaultStack,
) -> None:
    """Code 2 on every call for 8 s: tasks back off (bounded calls), then all finish."""
    folder = stack.watch_folder("outage")
    stack.start_worker(concurrency=4, environ=SHORT_BUDGET)
    stack.start_watcher(folder)
    stack.drop_images(folder, 1, seed=4000, prefix="warm")
    wait_for(lambda: stack.settled() == 1, 30, "the warm-up upload")
    stack.post_admin("faults", {"rules": [{"action": "error", "code": 2, "methods": ["*"]}]})
    before = stack.api_calls()
    files = stack.drop_images(folder, 12, seed=4010)
    hold(OUTAGE_S)
    during = stack.api_calls() - before
    stack.post_admin("faults", {"clear": True})
    stack.fault_over()
    # Each delivery makes at most 3 attempts and then waits at least 5 s: at most 2 deliveries
    # per file fit in the outage. A hot loop would make hundreds of calls.
    bound = len(files) * 2 * 3
    print(f"[outage] {during} API calls in {OUTAGE_S}s of outage (bound {bound})")
    assert 0 < during <= bound
    stack.wait_drained(bound_s=60)
    stack.check_invariants()


@pytest.mark.scenario("connection dropped after store")
def test_dropped_connections_after_the_photo_was_stored_are_adopted_not_reuploaded(
    stack: FaultStack,
) -> None:
    """The server stores the photo, then hangs up: the worker finds it by its marker."""
    folder = stack.watch_folder("dropped")
    stack.post_admin("faults", {"seed": 3, "rules": [{"action": "drop", "rate": 0.3}]})
    stack.start_worker(concurrency=4)
    stack.start_watcher(folder)
    stack.drop_images(folder, 30, seed=4100)
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
    assert stack.inspect()["counters"]["dropped"] > 0
    assert stack.events("upload.adopted")


@pytest.mark.scenario("createAlbum answer dropped")
def test_a_lost_create_album_answer_is_adopted_not_created_twice(stack: FaultStack) -> None:
    """The server creates album 2, then hangs up: the retry finds it by name, no empty twin."""
    folder = stack.watch_folder("album-drop")
    stack.start_worker(concurrency=4)
    stack.start_watcher(folder)
    stack.drop_images(folder, 60, seed=4150, prefix="a")
    wait_for(lambda: stack.settled() == 60, 60, "album 1 to fill")
    rule = {"action": "drop", "methods": ["up.photos.createAlbum"], "count": 1}
    stack.post_admin("faults", {"rules": [rule]})
    stack.drop_images(folder, 10, seed=4250, prefix="b")
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
    sizes = sorted((a["name"], a["size"]) for a in stack.inspect()["albums"])
    assert sizes == [("album-drop 1", 60), ("album-drop 2", 10)], sizes
    assert stack.inspect()["counters"]["dropped"] == 1
    assert len(stack.events("album.adopted")) == 1


@pytest.mark.scenario("slow API trips the HTTP timeout")
@pytest.mark.parametrize("slowness", ["latency", "stall"])
def test_a_slow_api_that_trips_timeouts_uploads_every_file_exactly_once(
    stack: FaultStack, slowness: str
) -> None:
    """Answers slower than MEDIAPOST_HTTP_TIMEOUT_S (1 s): in doubt, reconciled, never twice."""
    folder = stack.watch_folder(f"slow-{slowness}")
    stack.start_worker(concurrency=4, environ=SHORT_BUDGET, MEDIAPOST_HTTP_TIMEOUT_S="1")
    stack.start_watcher(folder)
    stack.drop_images(folder, 1, seed=4200, prefix="warm")
    wait_for(lambda: stack.settled() == 1, 30, "the warm-up upload")
    if slowness == "latency":  # every call, reads included, answers after 1.5 s
        stack.post_admin("faults", {"latency_ms": 1500})
    else:  # a third of the uploads are stored, then answered after 3 s
        stack.post_admin(
            "faults", {"seed": 11, "rules": [{"action": "stall", "rate": 0.35, "seconds": 3}]}
        )
    stack.drop_images(folder, 16, seed=4210)
    hold(6)
    stack.post_admin("faults", {"clear": True})
    stack.fault_over()
    stack.wait_drained(bound_s=90)
    stack.check_invariants()
    assert stack.events("upload.in_doubt")


@pytest.mark.scenario("session expired (102), new key")
def test_an_expired_session_pauses_until_a_new_key_is_written_and_nothing_leaks(
    stack: FaultStack,
) -> None:
    """102 mid-run pauses every worker; a new key in the key file resumes; no key in Flower."""
    folder = stack.watch_folder("expiry")
    key_file = stack.root / "session_key"
    key_file.write_text("demo-session\n")
    keyed = {"MEDIAPOST_SESSION_KEY_FILE": str(key_file)}
    stack.start_worker(concurrency=2, environ=keyed)
    stack.start_worker(concurrency=2, environ=keyed)
    stack.start_watcher(folder)
    port = free_port()
    stack.start_flower(port)
    stack.drop_images(folder, 10, seed=4300, prefix="a")
    wait_for(lambda: stack.settled() >= 3, 30, "uploads under way")
    stack.post_admin("sessions/expire", {"session_key": "demo-session"})
    stack.drop_images(folder, 10, seed=4320, prefix="b")
    wait_for(lambda: bool(stack.events("account.paused")), 30, "the account to pause")
    paused_at = stack.settled()
    hold(2)
    assert stack.settled() == paused_at, "nothing settles while the account is paused"
    new_key = stack.post_admin("sessions", {})["session_key"]
    stack.secrets.add(new_key)
    key_file.write_text(new_key + "\n")
    stack.fault_over()
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
    assert len(stack.events("account.paused")) == 1, "one alert, not one per worker"
    assert stack.events("account.resumed")

    flower = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{flower}/api/tasks", timeout=10).status_code == 401
    wait_for(lambda: len(flower_tasks(flower)) >= 20, 30, "Flower to have seen the upload tasks")
    text = httpx.get(f"{flower}/api/tasks", auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=10).text
    for secret in stack.secrets:
        assert secret not in text, f"{secret!r} in Flower's task API"
    for task in flower_tasks(flower).values():
        if task.get("name") == "mediapost.upload_file":
            assert "'watch_id'" in str(task["kwargs"]) and "session_key" not in str(task["kwargs"])
    stack.check_no_secrets()  # Flower's own log included


def flower_tasks(base: str) -> dict[str, dict[str, object]]:
    """Flower's task list (with the basic-auth credentials)."""
    response = httpx.get(f"{base}/api/tasks", auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=10)
    response.raise_for_status()
    tasks: dict[str, dict[str, object]] = response.json()
    return tasks


@pytest.mark.scenario("code 4 storm")
@pytest.mark.parametrize("storm", ["rate_window", "block"])
def test_a_storm_of_code_4_makes_every_worker_wait_and_then_everything_finishes(
    stack: FaultStack, storm: str
) -> None:
    """Code 4 from a request-limit window or a 5 s block: shared back-off, all files once."""
    folder = stack.watch_folder(f"limit-{storm}")
    stack.start_worker(concurrency=4)
    stack.start_worker(concurrency=4)
    stack.start_watcher(folder)
    stack.drop_images(folder, 1, seed=4400, prefix="warm")
    wait_for(lambda: stack.settled() == 1, 30, "the warm-up upload")
    if storm == "rate_window":
        stack.post_admin("faults", {"rate_limit": {"max_calls": 8, "window_s": 1.0}})
    else:
        stack.post_admin("faults", {"block_s": 5})
    stack.drop_images(folder, 40, seed=4410)
    if storm == "block":
        hold(5)
    stack.fault_over()
    stack.wait_drained(bound_s=90)
    stack.check_invariants()
    limited = stack.inspect()["counters"]["errors"].get("4", 0)
    print(f"[code 4 {storm}] {limited} calls answered with code 4")
    assert stack.events("account.rate_limited")
    waits = [e for e in stack.events("upload.retry_later") if e["reason"] == "rate window"]
    assert waits, "workers waited for the shared window instead of calling the API"
