"""The stat-only rescan walk and the pruning of the enqueued index."""

from __future__ import annotations

import os
import time
from pathlib import Path

import redis as redis_lib

from config.settings import WatchFolder
from scheduler.filters import NameFilter
from scheduler.scan import Found, Odd, Pruner, Scan
from worker import registry


def walk(scan: Scan) -> tuple[list[Found], list[Odd], int]:
    """Run a scan to the end; also count the batches."""
    found: list[Found] = []
    odd: list[Odd] = []
    batches = 0
    while not scan.done:
        f, o = scan.next_batch()
        found += f
        odd += o
        batches += 1
    return found, odd, batches


def test_scan_finds_candidates_in_batches_and_skips_hidden_trees(tmp_path: Path) -> None:
    """Dot-dirs (.done, .failed) are not walked; temp names are not candidates."""
    for i in range(25):
        (tmp_path / f"{i:02}.jpg").write_bytes(b"x" * i)
    (tmp_path / "sub" / "deep").mkdir(parents=True)
    (tmp_path / "sub" / "deep" / "z.png").write_bytes(b"z")
    (tmp_path / ".done").mkdir()
    (tmp_path / ".done" / "old.jpg").write_bytes(b"o")
    (tmp_path / "a.jpg.part").write_bytes(b"p")
    (tmp_path / "readme.txt").write_bytes(b"r")
    scan = Scan(str(tmp_path), NameFilter.for_folder(WatchFolder(path=tmp_path)), batch_size=10)
    found, odd, batches = walk(scan)
    assert sorted(f.relpath for f in found) == sorted(
        [f"{i:02}.jpg" for i in range(25)] + ["sub/deep/z.png"]
    )
    assert odd == [] and batches >= 3
    assert {f.relpath: f.stat.size for f in found}["07.jpg"] == 7


def test_scan_reports_odd_entries_named_like_images(tmp_path: Path) -> None:
    """Symlinks (saying whether they leave the root), FIFOs and image-named directories."""
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.jpg").write_bytes(b"o")
    (root / "real.jpg").write_bytes(b"r")
    (root / "out.jpg").symlink_to(tmp_path / "outside.jpg")
    (root / "in.jpg").symlink_to(root / "real.jpg")
    os.mkfifo(root / "pipe.jpg")
    (root / "album.jpg").mkdir()
    (root / "album.jpg" / "inner.jpg").write_bytes(b"i")
    found, odd, _ = walk(Scan(str(root), NameFilter.for_folder(WatchFolder(path=root))))
    assert sorted(f.relpath for f in found) == ["album.jpg/inner.jpg", "real.jpg"]
    assert sorted((o.relpath, o.reason, o.outside_root) for o in odd) == [
        ("album.jpg", "directory", None),
        ("in.jpg", "symlink", False),
        ("out.jpg", "symlink", True),
        ("pipe.jpg", "fifo", None),
    ]


def test_pruner_drops_entries_of_files_that_are_gone(
    tmp_path: Path, redis_client: redis_lib.Redis
) -> None:
    """Only entries older than the scan and whose file vanished are removed."""
    (tmp_path / "here.jpg").write_bytes(b"h")
    key = registry.enqueued_key("w")
    now = int(time.time())
    redis_client.hset(
        key,
        mapping={
            "here.jpg": f"1:1:{now - 10}",
            "gone.jpg": f"1:1:{now - 10}",
            "gone-but-new.jpg": f"1:1:{now + 10}",
        },
    )
    pruner = Pruner(redis_client, "w", str(tmp_path), before_unix=now)
    while not pruner.done:
        pruner.step(count=1)
    assert sorted(redis_client.hkeys(key)) == ["gone-but-new.jpg", "here.jpg"]
    assert pruner.removed == 1
