"""Bad input through the real path (watcher + workers): set aside or skipped, never blocking."""

from __future__ import annotations

import os

import pytest

from tests.faults import badfiles
from tests.faults.harness import FaultStack, drop_file_capabilities_argv
from tests.images import image_bytes
from tests.worker.harness import json_lines, wait_for

pytestmark = pytest.mark.faults

MAX_BYTES = 100_000
LONG = "a" * 251 + ".jpg"  # 255 bytes, the longest name most filesystems allow
LONG_BAD = "b" * 251 + ".jpg"


@pytest.mark.scenario("bad input")
@pytest.mark.skipif(os.geteuid() != 0, reason="the unreadable file needs root to chown it")
def test_bad_files_are_set_aside_or_skipped_and_never_block_the_good_ones(
    stack: FaultStack,
) -> None:
    """Truncated, not an image, bomb, too big, unreadable: set aside; empty, link, FIFO: skipped."""
    folder = stack.watch_folder("bad-input")
    worker = stack.start_worker(
        concurrency=4,
        # Without root's file capabilities, so an unreadable file is unreadable to the worker.
        argv_prefix=tuple(drop_file_capabilities_argv()),
        MEDIAPOST_MAX_FILE_BYTES=str(MAX_BYTES),
    )
    watcher = stack.start_watcher(folder, rescan_s=2)
    d = folder.path
    (d / "empty.jpg").touch()
    aside = [
        badfiles.truncated_jpeg(d / "truncated.jpg", seed=5001),
        badfiles.write_atomically(d / "text.jpg", b"just some text, not an image\n" * 10),
        badfiles.decompression_bomb(d / "bomb.png"),
        badfiles.large_jpeg(d / "too-big.jpg"),
        badfiles.unreadable(d / "secret.jpg", seed=5002),
        badfiles.truncated_jpeg(d / LONG_BAD, seed=5003),
    ]
    (d / "passwd.jpg").symlink_to("/etc/passwd")
    os.mkfifo(d / "pipe.jpg")
    good = [
        badfiles.write_atomically(d / name, image_bytes(5100 + i))
        for i, name in enumerate(
            ["with space.jpg", "café ☕ 写真.jpg", "new\nline.jpg", LONG, "plain.jpg"]
        )
    ]
    stack.expect(folder, good)
    stack.expect_set_aside(folder, aside)
    stack.expect_skipped([d / "empty.jpg", d / "passwd.jpg", d / "pipe.jpg"])
    stack.wait_drained(bound_s=60)
    stack.check_invariants()

    notes = [p.read_text() for p in (d / ".failed").glob("*.why.txt")]
    for path in aside:
        assert not path.exists(), f"{path.name!r} was not moved aside"
        (note,) = [n for n in notes if repr(path.name) in n]
        print(f"[bad input] {note.strip()[:200]}")
    assert len(list((d / ".failed").iterdir())) == 2 * len(aside), "each file and its note"

    def skipped() -> dict[str, str]:
        lines = json_lines(watcher.log_path)
        return {e["file"]: e["reason"] for e in lines if e.get("event") == "watch.skipped"}

    wait_for(lambda: "empty.jpg" in skipped(), 10, "the empty file to be reported")
    assert skipped() == {"passwd.jpg": "symlink", "pipe.jpg": "fifo", "empty.jpg": "empty"}
    for name in ("passwd.jpg", "pipe.jpg", "empty.jpg"):
        assert os.path.lexists(d / name), f"{name} is left where it was"
    assert worker.proc.poll() is None, "the worker survived every bad file"
    uploaded = {e["file"] for e in stack.events("photo.uploaded")}
    assert {p.name for p in good} <= uploaded
    assert watcher.alive()
