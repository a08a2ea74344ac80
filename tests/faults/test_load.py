"""Load: thousands of files across album boundaries, a crowd at one boundary, the same content
dropped more than once."""

from __future__ import annotations

import math
import shutil
import time

import pytest

from tests.faults.harness import REGULAR_LIMIT, FaultStack
from tests.worker.harness import wait_for

pytestmark = pytest.mark.faults

LOAD_FILES = 5000


def album_sizes(stack: FaultStack) -> list[int]:
    """Sizes of the albums our series created, by album number."""
    albums = [a for a in stack.inspect()["albums"] if not a["is_default"]]
    albums.sort(key=lambda a: int(a["name"].rsplit(" ", 1)[1]))
    return [a["size"] for a in albums]


@pytest.mark.scenario("load: 5,000 files, 2 workers x 4 threads")
def test_five_thousand_files_through_eight_workers_fill_exactly_the_albums_needed(
    stack: FaultStack,
) -> None:
    """5,000 small files, 8 uploads in flight: 84 albums, all full but the last, no holes."""
    folder = stack.watch_folder("load")
    stack.drop_images(folder, LOAD_FILES, seed=10_000)
    stack.start_worker(concurrency=4)
    stack.start_worker(concurrency=4)
    started = time.monotonic()
    stack.fault_over()  # no fault: the clock runs from the start of the burst
    stack.start_watcher(folder)
    wait_for(lambda: len(stack.task_kwargs_seen()) >= 100, 30, "a backlog in the queue")
    # Mid-burst: the messages are references (no bytes, no secret), and Redis holds no secret.
    assert {tuple(sorted(k)) for k in stack.task_kwargs_seen()} == {
        ("mtime_ns", "path", "size", "watch_id")
    }
    stack.check_no_secrets()
    took = stack.wait_drained(bound_s=240)
    print(f"[load] {LOAD_FILES} files in {took:.1f}s: {LOAD_FILES / took:.0f} photos/s")
    stack.check_invariants()
    sizes = album_sizes(stack)
    full, last = divmod(LOAD_FILES, REGULAR_LIMIT)
    assert len(sizes) == math.ceil(LOAD_FILES / REGULAR_LIMIT)
    assert sizes == [REGULAR_LIMIT] * full + ([last] if last else []), sizes
    created = stack.events("album.created")
    assert sorted(e["n"] for e in created) == list(range(1, len(sizes) + 1))
    assert time.monotonic() - started < 240


@pytest.mark.scenario("20 uploads cross an album's limit at once")
def test_twenty_uploads_crossing_a_full_album_at_once_create_exactly_one_new_album(
    stack: FaultStack,
) -> None:
    """59 photos in the album, then 20 uploads in flight together: one new album of 19."""
    folder = stack.watch_folder("boundary")
    stack.start_worker(concurrency=10)
    stack.start_worker(concurrency=10)
    watcher = stack.start_watcher(folder)
    stack.drop_images(folder, 59, seed=11_000, prefix="a")
    wait_for(lambda: stack.settled() == 59, 60, "the first 59 uploads")
    watcher.stop()
    # Written while nobody watches, then found by one start-up scan and queued in one batch.
    stack.drop_images(folder, 20, seed=11_100, prefix="b")
    stack.post_admin("faults", {"latency_ms": 300})  # so that the 20 really overlap
    stack.fault_over()
    stack.start_watcher(folder)
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
    assert album_sizes(stack) == [60, 19]
    assert [e["n"] for e in stack.events("album.created")] == [1, 2]
    full = [e for e in stack.events("album.full")]
    assert not full, "no upload was sent to the full album (the reservation saw it full)"


@pytest.mark.scenario("same content dropped 4 times")
def test_the_same_file_dropped_twice_and_again_after_upload_is_one_photo(
    stack: FaultStack,
) -> None:
    """Two copies at once, then a third copy and a rewrite after the upload: one photo."""
    folder = stack.watch_folder("same")
    stack.start_worker(concurrency=4)
    stack.start_watcher(folder)
    (original,) = stack.drop_images(folder, 1, seed=12_000, prefix="a")
    twin = folder.path / "twin.jpg"
    shutil.copyfile(original, folder.path / ".twin.tmp")
    (folder.path / ".twin.tmp").rename(twin)
    stack.expect(folder, [twin])
    stack.drop_images(folder, 5, seed=12_100, prefix="other")
    wait_for(lambda: stack.settled() == 7, 30, "the first drop")
    third = folder.path / "third.jpg"
    shutil.copyfile(original, folder.path / ".third.tmp")
    (folder.path / ".third.tmp").rename(third)
    data = original.read_bytes()
    (folder.path / ".again.tmp").write_bytes(data)
    (folder.path / ".again.tmp").rename(original)  # the same name again, a new mtime
    stack.expect(folder, [third, original])
    stack.wait_drained(bound_s=60)
    stack.check_invariants()
    sha = stack.expected[folder.id][original.name]
    assert sum(p["sha256"] == sha for p in stack.our_photos()) == 1
    # The twin (or the original) and the third copy are duplicates of the one upload; the
    # original's rewrite is a duplicate too, or "already recorded" if it was the upload itself.
    assert stack.row.duplicates >= 2 and stack.row.uploaded + stack.row.duplicates == 8
    again = [e for e in stack.events("photo.duplicate") if e["file"] == original.name]
    again += [e for e in stack.events("photo.already_recorded") if e["file"] == original.name]
    assert again, "the rewritten original was looked at again"
