"""The benchmark's log reader: whole lines only; glued lines are reported, not dropped."""

from __future__ import annotations

from pathlib import Path

from bench.harness import JsonLog


def test_a_line_still_being_written_is_read_once_it_is_complete(tmp_path: Path) -> None:
    """A write cut mid-line yields nothing until its newline arrives."""
    path = tmp_path / "worker.log"
    log = JsonLog(path)
    path.write_bytes(b'{"event": "a"}\n{"event": ')
    assert log.read_new() == [{"event": "a"}]
    with path.open("ab") as fh:
        fh.write(b'"b"}\n')
    assert log.read_new() == [{"event": "b"}]
    assert log.broken == []


def test_glued_lines_are_reported_as_broken_and_banners_are_skipped(tmp_path: Path) -> None:
    """Two events on one line are not parseable: kept in `broken`; non-JSON text is ignored."""
    path = tmp_path / "worker.log"
    path.write_bytes(b' -------------- celery@vm v5\n{"event": "a"}{"event": "b"}\n\n')
    log = JsonLog(path)
    assert log.read_new() == []
    assert log.broken == [b'{"event": "a"}{"event": "b"}']
