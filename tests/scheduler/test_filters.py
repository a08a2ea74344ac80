"""Name rules: which paths may become uploads."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import WatchFolder
from scheduler.filters import NameFilter, NameVerdict, loggable


@pytest.fixture
def names(tmp_path: Path) -> NameFilter:
    """The default rules plus one ignore glob."""
    return NameFilter.for_folder(WatchFolder(path=tmp_path, ignore=["*-draft.*", "raw/*"]))


@pytest.mark.parametrize(
    ("relpath", "verdict"),
    [
        ("a.jpg", NameVerdict.CANDIDATE),
        ("A.JPG", NameVerdict.CANDIDATE),
        ("sub/dir/b.HeIc", NameVerdict.CANDIDATE),
        ("notes.txt", NameVerdict.NOT_INCLUDED),
        ("a.jpg.part", NameVerdict.TEMPORARY),
        ("a.jpg.crdownload", NameVerdict.TEMPORARY),
        ("a.jpg.tmp", NameVerdict.TEMPORARY),
        ("a.jpg~", NameVerdict.TEMPORARY),
        (".a.jpg.Xy12Zq", NameVerdict.HIDDEN),
        (".hidden.jpg", NameVerdict.HIDDEN),
        (".done/a.jpg", NameVerdict.HIDDEN),
        (".failed/sub/a.jpg", NameVerdict.HIDDEN),
        ("sub/.cache/a.jpg", NameVerdict.HIDDEN),
        ("x-draft.jpg", NameVerdict.IGNORED),
        ("raw/x.jpg", NameVerdict.IGNORED),
    ],
)
def test_verdicts(names: NameFilter, relpath: str, verdict: NameVerdict) -> None:
    """Include globs are case-insensitive; temp, dot and ignored names never qualify."""
    assert names.verdict(relpath) is verdict


def test_done_and_failed_inside_the_tree_are_excluded_even_without_a_dot(tmp_path: Path) -> None:
    """Done/failed folders configured under the root are never candidates nor walked."""
    folder = WatchFolder(path=tmp_path, done_dir=tmp_path / "done", failed_dir=tmp_path / "x/bad")
    names = NameFilter.for_folder(folder)
    assert names.verdict("done/a.jpg") is NameVerdict.EXCLUDED_DIR
    assert names.verdict("x/bad/a.jpg") is NameVerdict.EXCLUDED_DIR
    assert names.verdict("x/good/a.jpg") is NameVerdict.CANDIDATE
    assert names.skip_dir("done") and names.skip_dir(".done") and not names.skip_dir("x")


def test_done_dir_outside_the_tree_excludes_nothing(tmp_path: Path) -> None:
    """A done folder elsewhere does not hide files of the same name in the tree."""
    folder = WatchFolder(path=tmp_path / "in", done_dir=tmp_path / "done")
    assert NameFilter.for_folder(folder).excluded_dirs == (".failed",)


def test_loggable_escapes_control_characters() -> None:
    """Newlines and escapes in names cannot forge log lines."""
    assert loggable("ok name.jpg") == "ok name.jpg"
    assert loggable("evil\nwatch.enqueued.jpg") == "evil\\nwatch.enqueued.jpg"
    assert loggable("\x1b[31mred.jpg") == "\\x1b[31mred.jpg"
