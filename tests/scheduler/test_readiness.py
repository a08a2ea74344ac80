"""The last checks before a file is handed to a worker, on real files."""

from __future__ import annotations

import os
from pathlib import Path

from scheduler.readiness import EntryType, Verdict, is_inside, lstat, open_check


def test_lstat_reports_types_without_following_links(tmp_path: Path) -> None:
    """Symlinks, FIFOs and directories are recognised as such; a missing path is None."""
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "d.jpg").mkdir()
    os.mkfifo(tmp_path / "f.jpg")
    (tmp_path / "l.jpg").symlink_to(tmp_path / "a.jpg")
    types = {n: lstat(str(tmp_path / n)) for n in ("a.jpg", "d.jpg", "f.jpg", "l.jpg")}
    assert {n: s.type for n, s in types.items() if s} == {
        "a.jpg": EntryType.FILE,
        "d.jpg": EntryType.DIRECTORY,
        "f.jpg": EntryType.FIFO,
        "l.jpg": EntryType.SYMLINK,
    }
    assert lstat(str(tmp_path / "missing.jpg")) is None


def test_open_check_accepts_a_regular_file_and_returns_its_fstat(tmp_path: Path) -> None:
    """A readable regular file inside the root is ready, with the version of the open file."""
    path = tmp_path / "a.jpg"
    path.write_bytes(b"12345")
    check = open_check(str(path), str(tmp_path))
    assert check.verdict is Verdict.READY
    assert check.stat is not None and check.stat.version == (5, path.stat().st_mtime_ns)


def test_open_check_refuses_links_fifos_and_escapes(tmp_path: Path) -> None:
    """O_NOFOLLOW refuses a symlink swapped in; a FIFO does not block; realpath must stay inside."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"s")
    (root / "l.jpg").symlink_to(outside)
    os.mkfifo(root / "f.jpg")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.jpg").write_bytes(b"x")
    (root / "linked").symlink_to(tmp_path / "elsewhere")
    assert open_check(str(root / "l.jpg"), str(root)).verdict is Verdict.OUTSIDE_ROOT
    assert open_check(str(root / "f.jpg"), str(root)).verdict is Verdict.NOT_REGULAR
    assert open_check(str(root / "linked" / "x.jpg"), str(root)).verdict is Verdict.OUTSIDE_ROOT
    assert open_check(str(root / "gone.jpg"), str(root)).verdict is Verdict.GONE
    inner = root / "sub" / "t.jpg"
    inner.write_bytes(b"t")
    (root / "in.jpg").symlink_to(inner)
    assert open_check(str(root / "in.jpg"), str(root)).verdict is Verdict.NOT_REGULAR


def test_is_inside_resolves_links(tmp_path: Path) -> None:
    """A path is inside only if its resolved form is under the resolved root."""
    (tmp_path / "r").mkdir()
    assert is_inside(str(tmp_path / "r" / "x"), str(tmp_path / "r"))
    assert not is_inside(str(tmp_path / "r" / ".." / "x"), str(tmp_path / "r"))
    assert not is_inside(str(tmp_path / "rx"), str(tmp_path / "r"))
