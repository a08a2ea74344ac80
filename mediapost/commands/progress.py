"""Following queued files until each has a final outcome: polling, progress line, hints.

The per-file index (`mp:files:<id>`) is the source of truth: a file is done when its entry
holds a final outcome for exactly the version that was queued. Files that vanish or change
after queueing never get one (the worker skips them; the watcher queues the new version), so
they are dropped from the count after a few seconds without progress.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import WatchFolder
from mediapost.commands.connections import CommandError
from scheduler.readiness import lstat
from worker import registry
from worker.snapshot import Snapshot

if TYPE_CHECKING:
    from redis import Redis

Entry = tuple[str, int, int]  # relpath, size, mtime_ns: one version of one file
CHUNK = 1000


@dataclass
class Progress:
    """How far the followed files are."""

    total: int
    started: float
    done: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    changed: int = 0  # gone or rewritten since queued: the watcher queues the new version

    def rate(self, now: float) -> float:
        """Files settled per second since following began."""
        elapsed = now - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def finished(self) -> bool:
        """True once every followed file has a final outcome (or went away)."""
        return self.done + self.changed >= self.total


def progress_line(p: Progress, now: float) -> str:
    """`done/total, photos/s, ETA` plus the outcomes so far, on one line."""
    rate = p.rate(now)
    left = p.total - p.done - p.changed
    eta = _clock_text(left / rate) if rate > 0 else "?"
    kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(p.outcomes.items()))
    extra = f", {p.changed} changed" if p.changed else ""
    return f"{p.done}/{p.total} done ({kinds or 'none yet'}{extra})  {rate:.1f} photos/s  ETA {eta}"


def _clock_text(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s % 3600 // 60:02}:{s % 60:02}"


class Follower:
    """Polls the per-file index until each followed version has a final outcome."""

    def __init__(self, redis: Redis, folder: WatchFolder, entries: list[Entry], now: float):
        self.redis = redis
        self.folder = folder
        self.remaining = {e[0]: e for e in entries}
        self.progress = Progress(total=len(entries), started=now)

    def poll(self) -> int:
        """Read the outcomes of the remaining files; returns how many settled now."""
        settled = 0
        key = registry.files_key(self.folder.id)
        rels = list(self.remaining)
        for start in range(0, len(rels), CHUNK):
            chunk = rels[start : start + CHUNK]
            for rel, raw in zip(chunk, self.redis.hmget(key, chunk), strict=True):
                if raw is None:
                    continue
                outcome = registry.FileOutcome.decode(raw)
                _, size, mtime_ns = self.remaining[rel]
                if outcome.is_final_for(size, mtime_ns):
                    del self.remaining[rel]
                    self.progress.outcomes[outcome.outcome] += 1
                    settled += 1
        self.progress.done += settled
        return settled

    def drop_changed(self) -> int:
        """Stop following files that are gone or were rewritten (no outcome will come)."""
        gone = []
        for rel, (_, size, mtime_ns) in self.remaining.items():
            st = lstat(str(self.folder.path / rel))
            if st is None or st.version != (size, mtime_ns):
                gone.append(rel)
        for rel in gone:
            del self.remaining[rel]
        self.progress.changed += len(gone)
        return len(gone)


def follow(
    follower: Follower,
    *,
    on_progress: Callable[[Progress], None],
    on_stall: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 0.5,
    recheck_s: float = 5.0,
    stall_s: float = 30.0,
    timeout_s: float | None = None,
) -> Progress:
    """Poll until every file settled; `on_stall(seconds)` each `stall_s` without progress."""
    started = last_change = clock()
    hinted_at = started
    while True:
        now = clock()
        stale = now - last_change >= recheck_s
        if follower.poll() or (stale and follower.drop_changed()):
            last_change = hinted_at = now
        on_progress(follower.progress)
        if follower.progress.finished:
            return follower.progress
        if now - hinted_at >= stall_s:
            on_stall(now - last_change)
            hinted_at = now
        if timeout_s is not None and now - started >= timeout_s:
            raise CommandError(
                f"gave up waiting after {timeout_s:g} s with "
                f"{len(follower.remaining)} files unsettled; they stay queued"
            )
        sleep(poll_s)


class ProgressPrinter:
    """One updating line on a terminal; elsewhere (logs, CI) a line every `every_s`."""

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        tty: bool,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.tty = tty
        self.every_s = every_s
        self.clock = clock
        self._last: float | None = None
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        """Show the progress now if it is time to (always on a terminal, and at the end)."""
        now = self.clock()
        line = progress_line(progress, now)
        if self.tty:
            self.write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif progress.finished or self._last is None or now - self._last >= self.every_s:
            self.write(line + "\n")
            self._last = now

    def close(self) -> None:
        """End the updating line."""
        if self.tty and self._width:
            self.write("\n")


def summary_lines(progress: Progress, failed_dir: Path | None) -> list[str]:
    """The outcome of the followed files, and what to do about set-aside ones."""
    kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(progress.outcomes.items()))
    lines = [f"done: {progress.done} of {progress.total} files have a final outcome ({kinds})"]
    if progress.changed:
        lines.append(
            f"{progress.changed} changed or vanished after queueing; the watcher takes them"
        )
    if progress.outcomes.get("set_aside"):
        lines.append(
            f"set-aside files are in {failed_dir} with a .why.txt note; fix the cause, then "
            "`mediapost retry-failed`"
        )
    return lines


def stall_hint(snap: Snapshot, seconds: float) -> str:
    """Why nothing moves, as far as Redis tells."""
    pauses = [a.pause.reason for a in snap.accounts if a.pause is not None]
    if pauses:
        return f"no progress for {seconds:.0f} s: uploads are paused: {pauses[0]}"
    if any(a.rate_window_ms for a in snap.accounts):
        return f"no progress for {seconds:.0f} s: the account is in a rate window (code 4)"
    return (
        f"no progress for {seconds:.0f} s ({snap.waiting} waiting, {snap.in_flight} in flight): "
        "is a worker running (`mediapost worker`)? See `mediapost status`"
    )
