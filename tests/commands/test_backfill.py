"""`mediapost backfill`: an existing tree is uploaded once, with progress, and resumably."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediapost.commands.progress import Progress, ProgressPrinter, progress_line, stall_hint
from tests.commands.invoke import age, run
from tests.images import write_image
from tests.worker.harness import Stack
from worker import registry
from worker.account import Pause
from worker.messages import UPLOAD_QUEUE
from worker.snapshot import AccountState, Snapshot


def existing_tree(root: Path, count: int) -> list[Path]:
    """`count` distinct images in nested folders, plus names the watcher would never take."""
    files = [write_image(root / f"roll{i % 7}" / f"img{i:04}.jpg", seed=i) for i in range(count)]
    (root / "roll0" / "upload.jpg.part").write_bytes(b"half")
    (root / "notes.txt").write_text("not an image")
    age([*files, root / "roll0" / "upload.jpg.part"])
    return files


def backfill_twice(stack: Stack, count: int, workers: int, timeout: float) -> None:
    """Backfill `count` files, check progress and outcomes, then check a second run is a no-op."""
    root = stack.root / "archive"
    existing_tree(root, count)
    for _ in range(workers):
        stack.start_worker(concurrency=4)

    first = run(stack, "backfill", str(root), "--timeout", str(timeout))
    assert first.exit_code == 0, first.output
    assert "no worker answered" not in first.stderr
    assert f"queued {count} files from {root}" in first.stdout
    assert f"{count}/{count} done ({count} uploaded)" in first.stdout
    assert "photos/s  ETA" in first.stdout
    assert f"done: {count} of {count} files have a final outcome ({count} uploaded)" in first.stdout
    photos = stack.inspect()["photos"]
    assert len(photos) == count
    assert len({p["sha256"] for p in photos}) == count

    second = run(stack, "backfill", str(root), "--timeout", "10")
    assert second.exit_code == 0, second.output
    assert f"nothing to do: all {count} files in {root} are done" in second.stdout
    assert stack.redis.llen(UPLOAD_QUEUE) == 0
    assert len(stack.inspect()["photos"]) == count
    assert int(stack.redis.hget("mp:stats", "uploaded") or 0) == count


def test_backfill_of_100_files_shows_progress_and_a_second_run_uploads_nothing(
    stack: Stack,
) -> None:
    """100 files in a tree: all uploaded once with a progress line; rerunning queues nothing."""
    backfill_twice(stack, 100, workers=1, timeout=60)


@pytest.mark.slow
def test_backfill_of_1000_files_shows_progress_and_a_second_run_uploads_nothing(
    stack: Stack,
) -> None:
    """The issue's acceptance: 1,000 files uploaded once by two workers, then nothing to do."""
    backfill_twice(stack, 1000, workers=2, timeout=240)


def test_backfill_without_a_worker_says_so_and_marks_the_files_queued(stack: Stack) -> None:
    """No worker answers: a hint; the files are queued and marked so the watcher skips them."""
    root = stack.root / "incoming"
    files = existing_tree(root, 3)
    result = run(stack, "backfill", str(root), "--no-wait")
    assert result.exit_code == 0, result.output
    assert "no worker answered" in result.stderr
    assert "mediapost worker" in result.stderr
    assert stack.redis.llen(UPLOAD_QUEUE) == 3
    marks = stack.redis.hgetall(registry.enqueued_key("incoming"))
    assert sorted(marks) == sorted(f.relative_to(root).as_posix() for f in files)
    assert registry.load_watch_folder(stack.redis, "incoming") is not None

    again = run(stack, "backfill", str(root), "--no-wait")
    assert "queued 0 files" in again.stdout
    assert "3 queued earlier are still on their way" in again.stdout
    assert stack.redis.llen(UPLOAD_QUEUE) == 3


def test_files_written_within_the_quiet_period_are_left_for_later(stack: Stack) -> None:
    """A file still being written (fresh mtime) is not queued; the line says so."""
    root = stack.root / "busy"
    write_image(root / "new.jpg", seed=1)
    result = run(stack, "backfill", str(root), "--no-wait")
    assert result.exit_code == 0, result.output
    assert "1 written in the last 2 s left for later" in result.stdout
    assert stack.redis.llen(UPLOAD_QUEUE) == 0


def test_the_progress_line_gives_rate_and_eta() -> None:
    """50 of 200 done in 10 s: 5 photos/s and 30 s to go."""
    progress = Progress(total=200, started=100.0, done=50)
    progress.outcomes.update({"uploaded": 48, "duplicate": 2})
    line = progress_line(progress, now=110.0)
    assert line == "50/200 done (2 duplicate, 48 uploaded)  5.0 photos/s  ETA 0:00:30"


def test_off_a_terminal_progress_is_printed_every_few_seconds_and_at_the_end() -> None:
    """Logs get one line per interval and the final line, not one per poll."""
    lines: list[str] = []
    now = [0.0]
    printer = ProgressPrinter(lines.append, tty=False, every_s=5.0, clock=lambda: now[0])
    progress = Progress(total=2, started=0.0)
    for t in (0.0, 1.0, 2.0, 6.0):
        now[0] = t
        printer(progress)
    progress.done = 2
    printer(progress)
    assert len(lines) == 3
    assert lines[-1].startswith("2/2 done")


def test_a_stall_hint_names_the_pause_or_asks_for_a_worker() -> None:
    """Paused: the pause's reason; otherwise the queue and a pointer to `mediapost worker`."""
    paused = Snapshot(
        0, 0, {}, accounts=(AccountState("a1", Pause("session expired (102)", 102, "", 0), 0),)
    )
    assert stall_hint(paused, 30) == (
        "no progress for 30 s: uploads are paused: session expired (102)"
    )
    idle = stall_hint(Snapshot(5, 0, {}), 31)
    assert idle.startswith("no progress for 31 s (5 waiting, 0 in flight)")
    assert "`mediapost worker`" in idle
