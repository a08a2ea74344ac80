"""The upload workers end to end: real Redis, worker processes, the emulator over HTTP."""

from __future__ import annotations

import shutil
from collections import Counter

from tests.images import write_image
from tests.worker.harness import SECRETS, Stack, wait_for


def albums_by_size(stack: Stack) -> list[int]:
    """Photo counts of the emulator's regular albums, in creation order."""
    return [a["size"] for a in stack.inspect()["albums"] if not a["is_default"]]


def test_250_photos_fill_five_albums_of_sixty_with_four_concurrent_workers(stack: Stack) -> None:
    """250 distinct images -> 250 photos, albums of 60/60/60/60/10, one log line each."""
    folder = stack.folder("holiday")
    files = [write_image(folder.path / f"img{i:03}.jpg", seed=i) for i in range(250)]
    stack.start_worker(concurrency=2)
    stack.start_worker(concurrency=2)
    stack.enqueue(folder, files)
    stack.wait_settled(folder, 250, timeout=180)

    inspect = stack.inspect()
    assert len(inspect["photos"]) == 250
    assert len({p["sha256"] for p in inspect["photos"]}) == 250
    assert sorted(albums_by_size(stack), reverse=True) == [60, 60, 60, 60, 10]
    names = sorted(a["name"] for a in inspect["albums"])
    assert names == [f"holiday {n}" for n in range(1, 6)]

    outcomes = stack.outcomes(folder)
    assert {o.outcome for o in outcomes.values()} == {"uploaded"}
    uploaded = stack.events("photo.uploaded")
    assert Counter(line["file"] for line in uploaded) == {f.name: 1 for f in files}
    emulator_pids = {p["pid"] for p in inspect["photos"]}
    assert {line["pid"] for line in uploaded} == emulator_pids
    for line in uploaded:
        assert line["aid"] and line["owner"] and line["digest"] and line["bytes"] > 0
        record = stack.redis.hgetall(f"mp:content:{line['digest']}")
        assert (record["pid"], record["aid"], record["owner"]) == (
            line["pid"],
            line["aid"],
            line["owner"],
        )
    assert len(stack.events("album.created")) == 5


def test_same_content_under_two_names_is_uploaded_once_and_recorded_as_duplicate(
    stack: Stack,
) -> None:
    """A copy of an uploaded file becomes a duplicate record pointing at the same pid."""
    folder = stack.folder("dups")
    first = write_image(folder.path / "a.jpg", seed=1)
    second = folder.path / "copy of a.jpg"
    shutil.copyfile(first, second)
    stack.start_worker(concurrency=2)
    stack.enqueue(folder, [first])
    stack.wait_settled(folder, 1)
    stack.enqueue(folder, [second])
    stack.wait_settled(folder, 2)

    assert len(stack.inspect()["photos"]) == 1
    outcomes = stack.outcomes(folder)
    assert outcomes["a.jpg"].outcome == "uploaded"
    assert outcomes["copy of a.jpg"].outcome == "duplicate"
    (dup,) = stack.events("photo.duplicate")
    (up,) = stack.events("photo.uploaded")
    assert dup["pid"] == up["pid"]


def redis_dump(stack: Stack) -> list[str]:
    """Every key and every value in the test database, as text."""
    return [text for _, text in stack.redis_values()]


def test_no_secret_appears_in_logs_redis_or_task_messages(stack: Stack) -> None:
    """Secret and session key are nowhere: logs, every Redis key and value, queued messages."""
    folder = stack.folder("secrets")
    files = [write_image(folder.path / f"s{i}.jpg", seed=1000 + i) for i in range(5)]
    stack.post_admin("faults", {"rules": [{"action": "error", "code": 2, "count": 2}]})
    stack.enqueue(folder, files)
    queued = redis_dump(stack)  # the task messages as Flower and `celery inspect` would see them
    assert any("s0.jpg" in item for item in queued)
    stack.start_worker(concurrency=2)
    stack.wait_settled(folder, 5)
    wait_for(stack.queue_empty, 30, "the queue to drain")

    dump = queued + redis_dump(stack)
    logs = "".join(w.log_path.read_text(errors="replace") for w in stack.workers)
    assert "photo.uploaded" in logs
    for secret in SECRETS:
        assert secret not in logs
        assert not [item for item in dump if secret in str(item)]


def claimed_contents(stack: Stack) -> int:
    """Content records some task holds a claim on (hashed, album slot reserved)."""
    keys = stack.redis.scan_iter(match="mp:content:*")
    return sum(1 for key in keys if stack.redis.hget(key, "state") == "claimed")


def test_tasks_prepared_ahead_wait_for_an_upload_slot(stack: Stack) -> None:
    """Concurrency 2 + prepare_ahead 2: four files are claimed at once, two are in flight."""
    folder = stack.folder("ahead")
    files = [write_image(folder.path / f"a{i}.jpg", seed=1100 + i) for i in range(4)]
    stack.post_admin("faults", {"rules": [{"action": "stall", "seconds": 3, "count": 2}]})
    stack.start_worker(concurrency=2, MEDIAPOST_WORKER__PREPARE_AHEAD="2")
    stack.enqueue(folder, files)
    wait_for(lambda: claimed_contents(stack) == 4, 30, "four claims while two uploads stall")
    assert not stack.events("photo.uploaded")  # the two stalled uploads have not answered yet
    stack.wait_settled(folder, 4)

    assert {o.outcome for o in stack.outcomes(folder).values()} == {"uploaded"}
    counters = stack.inspect()["counters"]
    assert counters["peak_in_flight"] == 2
    assert counters["stalled"] == 2
