"""`mediapost retry-failed`: set-aside files go back, are queued again, and then upload."""

from __future__ import annotations

from tests.commands.invoke import age, run
from tests.images import write_image
from tests.worker.harness import Stack
from worker import registry


def test_retry_failed_requeues_a_set_aside_file_that_uploads_once_the_fault_is_cleared(
    stack: Stack,
) -> None:
    """324 sets `bad.jpg` aside; after the fault clears, retry-failed + backfill upload it."""
    root = stack.root / "camera"
    good = write_image(root / "good.jpg", seed=1)
    bad = write_image(root / "day1" / "bad.jpg", seed=2)
    age([good, bad])
    stack.post_admin("faults", {"rules": [{"action": "error", "code": 324, "filename": "bad"}]})
    stack.start_worker(concurrency=2)

    first = run(stack, "backfill", str(root), "--timeout", "30")
    assert first.exit_code == 0, first.output
    assert "(1 set aside, 1 uploaded)" in first.stdout
    assert "mediapost retry-failed" in first.stdout
    failed = root / ".failed" / "day1" / "bad.jpg"
    assert failed.is_file()
    assert (root / ".failed" / "day1" / "bad.jpg.why.txt").is_file()

    stack.post_admin("faults", {"clear": True})
    retried = run(stack, "retry-failed")
    assert retried.exit_code == 0, retried.output
    assert "returned camera/day1/bad.jpg  (was set aside: the server refused the file: 324" in (
        retried.stdout
    )
    assert "1 files returned" in retried.stdout
    assert bad.is_file()
    assert not failed.exists()
    assert not (root / ".failed" / "day1").exists()
    assert stack.redis.hget(registry.files_key("camera"), "day1/bad.jpg") is None

    second = run(stack, "backfill", str(root), "--timeout", "30")
    assert second.exit_code == 0, second.output
    assert "queued 1 files" in second.stdout
    assert "1 already done" in second.stdout
    assert "(1 uploaded)" in second.stdout
    assert sorted(p["filename"] for p in stack.inspect()["photos"]) == ["bad.jpg", "good.jpg"]

    nothing = run(stack, "retry-failed", "--folder-id", "camera")
    assert "nothing to retry" in nothing.stdout


def test_retry_failed_with_an_unknown_folder_id_names_the_known_ones(stack: Stack) -> None:
    """A typo in --folder-id fails with the ids that exist."""
    stack.folder("holiday")
    result = run(stack, "retry-failed", "--folder-id", "holliday")
    assert result.exit_code == 1
    assert "no watch folder with id 'holliday' (known: holiday)" in result.stderr
