"""The "is this file finished?" rule, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from scheduler.stability import Seen, StabilityTracker


def tracker(*, close_events: bool = True, quiet: float = 2.0) -> StabilityTracker:
    """A tracker with a 2 s quiet period and a 60 s wait for a close after a write."""
    return StabilityTracker(quiet, close_events=close_events, open_write_timeout_s=60.0)


def test_close_after_write_is_ready_at_once() -> None:
    """IN_CLOSE_WRITE on a non-empty file means finished."""
    t = tracker()
    assert not t.observe("a.jpg", (10, 1), Seen.CREATED, 0.0)
    assert not t.observe("a.jpg", (20, 2), Seen.MODIFIED, 0.1)
    assert t.observe("a.jpg", (20, 2), Seen.CLOSED, 0.2)
    assert "a.jpg" not in t


def test_move_into_place_is_ready_at_once() -> None:
    """A rename into the folder delivers a complete file."""
    assert tracker().observe("a.jpg", (5, 1), Seen.MOVED_IN, 0.0)


def test_an_empty_file_is_never_ready_by_silence() -> None:
    """Writers create first and fill later: zero bytes waits for content, however quiet."""
    t = tracker()
    assert not t.observe("a.jpg", (0, 1), Seen.CLOSED, 0.0)
    assert not t.observe("a.jpg", (0, 1), Seen.CHECK, 100.0)
    assert t.next_due() is None
    assert t.observe("a.jpg", (9, 2), Seen.CLOSED, 101.0)


def test_quiet_period_without_close_events() -> None:
    """Polling: ready once size and mtime stayed put for the quiet period, not before."""
    t = tracker(close_events=False)
    assert not t.observe("a.jpg", (10, 1), Seen.CREATED, 0.0)
    assert t.next_due() == 2.0
    assert not t.observe("a.jpg", (20, 2), Seen.CHANGED, 1.5)  # still growing
    assert t.due(2.0) == []  # the old check was superseded
    assert t.due(3.5) == ["a.jpg"]
    assert t.observe("a.jpg", (20, 2), Seen.CHECK, 3.5)


def test_a_change_seen_at_the_check_restarts_the_quiet_period() -> None:
    """Growth noticed only by our own re-stat still resets the clock."""
    t = tracker(close_events=False)
    t.observe("a.jpg", (10, 1), Seen.CREATED, 0.0)
    assert t.due(2.0) == ["a.jpg"]
    assert not t.observe("a.jpg", (30, 3), Seen.CHECK, 2.0)
    assert t.next_due() == 4.0
    assert t.observe("a.jpg", (30, 3), Seen.CHECK, 4.0)


def test_a_seen_write_waits_for_the_close_even_after_a_long_pause() -> None:
    """With close events, a writer pausing longer than the quiet period is not taken early."""
    t = tracker()
    t.observe("a.jpg", (10, 1), Seen.MODIFIED, 0.0)
    assert not t.observe("a.jpg", (10, 1), Seen.CHECK, 30.0)
    assert t.next_due() == 60.0
    assert t.observe("a.jpg", (50, 2), Seen.CLOSED, 31.0)


def test_a_lost_close_falls_back_to_the_quiet_period() -> None:
    """If no close arrives within the timeout, stability decides (e.g. a hard link)."""
    t = tracker()
    t.observe("a.jpg", (10, 1), Seen.MODIFIED, 0.0)
    assert t.due(60.0) == ["a.jpg"]
    assert t.observe("a.jpg", (10, 1), Seen.CHECK, 60.0)


def test_events_lost_drops_the_wait_for_a_close() -> None:
    """After a queue overflow the close may be gone: the quiet period applies."""
    t = tracker()
    t.observe("a.jpg", (10, 1), Seen.MODIFIED, 0.0)
    t.events_lost()
    assert t.observe("a.jpg", (10, 1), Seen.CHECK, 2.0)


def test_created_alone_uses_the_quiet_period() -> None:
    """A hard link or a file found in a new directory shows no write: silence decides."""
    t = tracker()
    assert not t.observe("a.jpg", (10, 1), Seen.CREATED, 0.0)
    assert t.due(2.0) == ["a.jpg"]
    assert t.observe("a.jpg", (10, 1), Seen.CHECK, 2.0)


def test_scan_takes_old_unknown_files_and_tracks_young_ones() -> None:
    """A rescan settles a file by its mtime age, unless it is being tracked already."""
    t = tracker()
    assert t.observe_scan("old.jpg", (10, 1), age_s=5.0, now=0.0)
    assert not t.observe_scan("young.jpg", (10, 1), age_s=0.5, now=0.0)
    assert t.observe("young.jpg", (10, 1), Seen.CHECK, 2.0)
    t.observe("busy.jpg", (10, 1), Seen.MODIFIED, 0.0)
    assert not t.observe_scan("busy.jpg", (10, 1), age_s=5.0, now=1.0)


def test_forget_and_due_bookkeeping() -> None:
    """A forgotten file never falls due; a due file is handed out once."""
    t = tracker(close_events=False)
    t.observe("a.jpg", (1, 1), Seen.CREATED, 0.0)
    t.observe("b.jpg", (1, 1), Seen.CREATED, 0.0)
    t.forget("a.jpg")
    assert t.due(5.0) == ["b.jpg"]
    assert t.due(5.0) == []
    assert len(t) == 1


def test_scan_does_not_trust_mtime_age_on_polled_shares() -> None:
    """Without close events (network share, maybe another clock) a scan find is watched first."""
    t = tracker(close_events=False)
    assert not t.observe_scan("a.jpg", (10, 1), age_s=3600.0, now=0.0)
    assert t.observe("a.jpg", (10, 1), Seen.CHECK, 2.0)
