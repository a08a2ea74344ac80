"""Has a file finished being written? A pure tracker: the caller feeds stats and the clock."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from enum import StrEnum

Version = tuple[int, int]  # (size, mtime_ns)
_NEVER = float("inf")


class Seen(StrEnum):
    """What told us about the file."""

    CLOSED = "closed"  # IN_CLOSE_WRITE: the writer let go of it
    MOVED_IN = "moved_in"  # renamed into place: complete by construction
    CREATED = "created"
    MODIFIED = "modified"  # a write, seen by a watcher that also reports closes
    CHANGED = "changed"  # metadata, or a write seen by a watcher without close events
    CHECK = "check"  # our own re-stat when a check fell due


@dataclass(slots=True)
class _Track:
    version: Version
    stable_since: float
    writing_since: float | None
    due: float


class StabilityTracker:
    """Per folder: says when a file is ready, by close/move events or a quiet period.

    A file is ready when a close-write or a move into place is seen (and it is not empty), or
    when its (size, mtime_ns) stayed the same for `quiet_period_s` while no writer was seen
    holding it. With close events available, a seen write means "wait for the close" (up to
    `open_write_timeout_s`, in case the close was lost), so a slow writer that pauses longer
    than the quiet period is still not taken early.
    """

    def __init__(
        self, quiet_period_s: float, *, close_events: bool, open_write_timeout_s: float = 300.0
    ) -> None:
        self.quiet = quiet_period_s
        self.close_events = close_events
        self.open_write_timeout = open_write_timeout_s
        self._tracks: dict[str, _Track] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, key: object) -> bool:
        return key in self._tracks

    def observe(self, key: str, version: Version, seen: Seen, now: float) -> bool:
        """Record a fresh stat of `key`; True means the file is ready now (and is forgotten)."""
        size = version[0]
        if seen in (Seen.CLOSED, Seen.MOVED_IN) and size > 0:
            self.forget(key)
            return True
        track = self._tracks.get(key)
        if track is None:
            track = _Track(version, now, None, _NEVER)
            self._tracks[key] = track
        elif track.version != version:
            track.version = version
            track.stable_since = now
        if seen is Seen.MODIFIED and self.close_events:
            if track.writing_since is None:
                track.writing_since = now
        elif seen in (Seen.CLOSED, Seen.MOVED_IN):
            track.writing_since = None  # closed while empty: wait for content
        return self._settle(key, track, now)

    def observe_scan(self, key: str, version: Version, age_s: float, now: float) -> bool:
        """A rescan found the file: unknown and older than the quiet period means settled.

        Only where close events exist (a local disk): on a polled network share the server's
        clock may lag ours, so an mtime "in the past" proves nothing there and we watch instead.
        """
        if key not in self._tracks and age_s >= self.quiet and self.close_events:
            return True
        return self.observe(key, version, Seen.CHECK, now)

    def forget(self, key: str) -> None:
        """Stop tracking (the file is gone, moved away, ready, or skipped)."""
        self._tracks.pop(key, None)

    def events_lost(self) -> None:
        """The kernel dropped events: closes may be lost, so fall back to the quiet period."""
        for track in self._tracks.values():
            track.writing_since = None

    def due(self, now: float) -> list[str]:
        """Keys whose check time has come; the caller re-stats them and calls `observe`."""
        keys = []
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            track = self._tracks.get(key)
            if track is not None and track.due == when:
                track.due = _NEVER  # consumed; `observe` schedules the next check
                keys.append(key)
        return keys

    def next_due(self) -> float | None:
        """When the earliest check falls due, for the caller's wait timeout."""
        while self._heap:
            when, _, key = self._heap[0]
            track = self._tracks.get(key)
            if track is not None and track.due == when:
                return when
            heapq.heappop(self._heap)
        return None

    def _settle(self, key: str, track: _Track, now: float) -> bool:
        if track.writing_since is not None:
            if now - track.writing_since < self.open_write_timeout:
                self._schedule(key, track, track.writing_since + self.open_write_timeout)
                return False
            track.writing_since = None  # the close never came: let the quiet period decide
        if track.version[0] == 0:
            # Never settled by silence: writers create first and fill later. The next event
            # or rescan looks again.
            track.due = _NEVER
            return False
        ready_at = track.stable_since + self.quiet
        if now >= ready_at:
            self.forget(key)
            return True
        self._schedule(key, track, ready_at)
        return False

    def _schedule(self, key: str, track: _Track, when: float) -> None:
        if track.due != when:
            track.due = when
            heapq.heappush(self._heap, (when, next(self._seq), key))
