"""The watcher loop: drain events, settle files, rescan, enqueue, keep the observers alive.

Everything that decides runs on this one thread; watchdog's threads only feed the queue.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

import structlog

from config.settings import WatchFolder
from scheduler.enqueue import UNAVAILABLE, Backoff, Candidate, Enqueuer, Sender
from scheduler.filters import NameFilter, NameVerdict, loggable
from scheduler.handlers import FsEvent, Kind, LimitAlarm
from scheduler.options import WatcherOptions
from scheduler.readiness import EntryType, Stat, Verdict, is_inside, lstat, open_check
from scheduler.scan import Found, Odd, Pruner, Scan, utf8_name
from scheduler.stability import Seen, StabilityTracker
from scheduler.supervisor import ObserverFactory, Supervisor, make_observer
from worker import registry

if TYPE_CHECKING:
    from redis import Redis

log = structlog.get_logger(__name__)

_MAX_WAIT_S = 0.25  # how long the loop sleeps at most, so a stop request is seen promptly
_DRAIN = 2000  # events handled per turn before checks, scans and the flush get their turn
_SKIP_MEMO = 10_000


@dataclass
class WatcherStats:
    """Counters for logs and tests."""

    events: int = 0
    rescans: int = 0
    restarts: int = 0
    unreadable: int = 0


@dataclass
class _Folder:
    folder: WatchFolder
    root: str
    root_real: str
    names: NameFilter
    tracker: StabilityTracker
    next_rescan: float = 0.0
    rescan_reason: str = "start"
    rescan_again: bool = False
    scan: Scan | None = None
    scan_reason: str = ""
    scan_started: float = 0.0
    scan_queued: int = 0
    batch: tuple[list[Found], list[Odd]] | None = None
    pruner: Pruner | None = None
    skipped: set[tuple[str, str]] = field(default_factory=set)
    unreadable: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.folder.id


class Watcher:
    """Wires the supervisor, the stability trackers, the rescans and the enqueuer together."""

    def __init__(
        self,
        folders: Sequence[WatchFolder],
        *,
        redis: Redis,
        send: Sender,
        options: WatcherOptions,
        requeue_after_s: float,
        make: ObserverFactory = make_observer,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.events: SimpleQueue[object] = SimpleQueue()
        self.stats = WatcherStats()
        self._redis = redis
        self._clock = clock
        self._wall = wall
        self.enqueuer = Enqueuer(
            redis,
            send,
            requeue_after_s=requeue_after_s,
            batch_size=options.enqueue_batch,
            backoff=Backoff(options.retry_initial_s, options.retry_max_s),
            wall=wall,
        )
        self.supervisor = Supervisor(
            folders, self.events, on_watch_limit=options.on_watch_limit, make=make, clock=clock
        )
        self._folders = {
            f.id: _Folder(
                folder=f,
                root=str(f.path),
                root_real=os.path.realpath(f.path),
                names=NameFilter.for_folder(f),
                tracker=StabilityTracker(
                    f.quiet_period_s,
                    close_events=False,
                    open_write_timeout_s=options.open_write_timeout_s,
                ),
            )
            for f in folders
        }
        self._next_supervise = 0.0

    def run(self, stop: threading.Event) -> None:
        """Start the observers, then loop until `stop` is set; raises WatchLimitError at start."""
        try:
            self.supervisor.start()
        except BaseException:
            self.supervisor.stop()
            raise
        try:
            now = self._clock()
            for f in self._folders.values():
                self.enqueuer.register_folder(f.folder)
                f.tracker.close_events = self.supervisor.close_events(f.id)
                f.next_rescan = now  # after the observers: nothing falls between scan and watch
            log.info("watch.started", folders=[f.root for f in self._folders.values()])
            while not stop.is_set():
                self.step()
        finally:
            self.supervisor.stop()
            if not self.enqueuer.failing:  # a last try, unless it could block on a dead Redis
                self.enqueuer.flush(self._clock())
            # Anything still pending is found again by the start-up scan of the next run.
            log.info("watch.stopped", pending=self.enqueuer.pending)

    def step(self) -> None:
        """One turn: wait for events (bounded), handle them, then the timed work."""
        now = self._clock()
        try:
            item = self.events.get(timeout=self._wait(now))
        except Empty:
            item = None
        handled = 0
        while item is not None:
            try:
                self._handle(item, self._clock())
            except Exception:  # one odd event must not stop the daemon; rescans catch up
                log.exception("watch.event_failed", item=repr(item)[:300])
            handled += 1
            if handled >= _DRAIN:
                break
            try:
                item = self.events.get_nowait()
            except Empty:
                item = None
        self.stats.events += handled
        now = self._clock()
        for f in self._folders.values():
            for rel in f.tracker.due(now):
                self._look(f, rel, Seen.CHECK, now)
            self._scan_step(f, now)
        self.enqueuer.flush(now)
        if now >= self._next_supervise:
            self._next_supervise = now + self.options.supervise_interval_s
            for wid in self.supervisor.check(now):
                self.stats.restarts += 1
                self._after_restart(self._folders[wid], "observer_restarted")

    def request_rescan(self, watch_id: str, reason: str) -> None:
        """Rescan a folder as soon as possible (again, if one is running); loop thread only."""
        f = self._folders[watch_id]
        if f.scan is not None:
            f.rescan_again = True
        f.next_rescan = 0.0
        f.rescan_reason = reason

    def _wait(self, now: float) -> float:
        wake = [now + _MAX_WAIT_S, self._next_supervise]
        for f in self._folders.values():
            if f.scan is not None or f.pruner is not None:
                wake.append(self.enqueuer.backoff.retry_at)  # in the past unless backing off
            wake.append(f.next_rescan)
            due = f.tracker.next_due()
            if due is not None:
                wake.append(due)
        if self.enqueuer.pending:
            wake.append(self.enqueuer.backoff.retry_at)
        return max(0.0, min(wake) - now)

    def _handle(self, item: object, now: float) -> None:
        if isinstance(item, LimitAlarm):
            wid = self.supervisor.degrade(item.path)
            if wid is not None:
                self._after_restart(self._folders[wid], "watch_limit")
            return
        if not isinstance(item, FsEvent):
            return
        f = self._folders.get(item.watch_id)
        if f is None:
            return
        kind = item.kind
        if kind is Kind.LOST:
            log.warning("watch.events_lost", watch_id=f.id)
            f.tracker.events_lost()
            self.request_rescan(f.id, "events_lost")
        elif kind is Kind.DELETED:
            self._gone(f, self._rel(f, item.src))
        elif kind is Kind.MOVED:
            self._gone(f, self._rel(f, item.src))
            self._look(f, self._rel(f, item.dest), Seen.MOVED_IN, now)
        elif kind in (Kind.DIR_CREATED, Kind.DIR_MOVED):
            rel = self._rel(f, item.dest or item.src)
            name = (rel or "").rsplit("/", 1)[-1]
            if rel and f.names.looks_like_image(name) and not f.names.skip_dir(rel):
                self._skip(f, Odd(rel, EntryType.DIRECTORY.value))
        elif kind is Kind.CLOSED:
            self._look(f, self._rel(f, item.src), Seen.CLOSED, now)
        elif kind is Kind.CREATED:
            # Synthetic creates are the files of a directory moved in: complete already.
            seen = Seen.MOVED_IN if item.synthetic else Seen.CREATED
            self._look(f, self._rel(f, item.src), seen, now)
        elif kind is Kind.MODIFIED:
            seen = Seen.MODIFIED if f.tracker.close_events else Seen.CHANGED
            self._look(f, self._rel(f, item.src), seen, now)
        elif kind is Kind.ATTRIB:
            self._look(f, self._rel(f, item.src), Seen.CHANGED, now)

    @staticmethod
    def _rel(f: _Folder, path: str) -> str | None:
        if path.startswith(f.root) and path[len(f.root) : len(f.root) + 1] == "/":
            return path[len(f.root) + 1 :]
        return None

    def _look(self, f: _Folder, rel: str | None, seen: Seen, now: float) -> None:
        """Stat a path an event (or a due check) named, and let the tracker decide."""
        if not rel or f.names.verdict(rel) is not NameVerdict.CANDIDATE:
            return
        if not utf8_name(rel):
            self._skip(f, Odd(rel, "undecodable_name"))
            return
        path = f"{f.root}/{rel}"
        st = lstat(path)
        if st is None:
            self._gone(f, rel)
            return
        if st.type is not EntryType.FILE:
            f.tracker.forget(rel)
            outside = None if st.type is not EntryType.SYMLINK else not is_inside(path, f.root_real)
            self._skip(f, Odd(rel, st.type.value, outside))
            return
        if self._still_unreadable(f, rel, st):
            return
        if f.tracker.observe(rel, st.version, seen, now):
            self._ready(f, rel, st, now)

    def _ready(self, f: _Folder, rel: str, st: Stat, now: float, *, scanned: bool = False) -> bool:
        """The tracker says finished: check on an open descriptor, then hand to the outbox."""
        if not scanned and self.enqueuer.sent_recently(f.id, rel, st.size, st.mtime_ns):
            return False  # an event storm on a file already sent: no open, no Redis
        path = f"{f.root}/{rel}"
        check = open_check(path, f.root_real)
        if check.verdict is Verdict.READY and check.stat is not None:
            if check.stat.version != st.version:  # written again since the stat: not settled
                f.tracker.observe(rel, check.stat.version, Seen.CHANGED, now)
                return False
            c = Candidate(f.id, rel, path, st.size, st.mtime_ns, settled_checked=scanned)
            return self.enqueuer.submit(c)
        if check.verdict is Verdict.UNREADABLE:
            f.unreadable[rel] = st.stamp
            self.stats.unreadable += 1
            log.warning("watch.unreadable", watch_id=f.id, file=loggable(rel), error=check.detail)
        elif check.verdict is Verdict.GONE:
            self._gone(f, rel)
        elif check.verdict in (Verdict.NOT_REGULAR, Verdict.OUTSIDE_ROOT):
            self._skip(f, Odd(rel, check.verdict.value))
        else:
            log.warning("watch.open_failed", watch_id=f.id, file=loggable(rel), error=check.detail)
        return False

    def _still_unreadable(self, f: _Folder, rel: str, st: Stat) -> bool:
        """Unreadable files are looked at again only once their content or metadata change."""
        stamp = f.unreadable.get(rel)
        if stamp is None:
            return False
        if stamp == st.stamp:
            return True
        del f.unreadable[rel]
        return False

    def _gone(self, f: _Folder, rel: str | None) -> None:
        if rel:
            f.tracker.forget(rel)
            self.enqueuer.discard(f.id, rel)
            f.unreadable.pop(rel, None)

    def _skip(self, f: _Folder, odd: Odd) -> None:
        """Log a skipped entry once per path and reason."""
        key = (odd.relpath, odd.reason)
        if key in f.skipped:
            return
        if len(f.skipped) >= _SKIP_MEMO:
            f.skipped.clear()
        f.skipped.add(key)
        extra = {} if odd.outside_root is None else {"target_outside_root": odd.outside_root}
        level = log.warning if odd.outside_root else log.info
        file = loggable(odd.relpath)
        level("watch.skipped", watch_id=f.id, file=file, reason=odd.reason, **extra)

    def _after_restart(self, f: _Folder, reason: str) -> None:
        f.tracker.close_events = self.supervisor.close_events(f.id)
        f.tracker.events_lost()  # closes may have happened while nobody was watching
        self.request_rescan(f.id, reason)

    def _scan_step(self, f: _Folder, now: float) -> None:
        """Advance this folder's rescan (or index pruning) by one batch."""
        if not self.enqueuer.backoff.ready(now):
            return
        if f.scan is None:
            if now >= f.next_rescan:
                f.scan = Scan(f.root, f.names, batch_size=self.options.scan_batch)
                f.scan_started, f.scan_queued, f.rescan_again = self._wall(), 0, False
                f.scan_reason = f.rescan_reason
            elif f.pruner is not None:
                self._prune_step(f, now)
            return
        if f.batch is None:
            f.batch = f.scan.next_batch()
        found, odd = f.batch
        for o in odd:
            self._skip(f, o)
        try:
            entries = [(x.relpath, x.stat.size, x.stat.mtime_ns) for x in found]
            open_ = {e[0] for e in registry.unsettled(self._redis, f.id, entries)}
        except UNAVAILABLE as exc:
            self.enqueuer.redis_failed(now, exc, "rescan")
            return
        self.enqueuer.redis_ok(now)
        f.batch = None
        wall_ns = int(self._wall() * 1e9)
        for x in found:
            if x.relpath not in open_ or self._still_unreadable(f, x.relpath, x.stat):
                continue
            age_s = (wall_ns - x.stat.mtime_ns) / 1e9
            if x.stat.size == 0:
                # Writers create first and fill later, so an empty file is never queued (a
                # worker would move it aside under its writer); said once when it stays empty.
                if age_s >= f.folder.quiet_period_s:
                    self._skip(f, Odd(x.relpath, "empty"))
                continue
            if f.tracker.observe_scan(x.relpath, x.stat.version, age_s, now):
                f.scan_queued += self._ready(f, x.relpath, x.stat, now, scanned=True)
        if f.scan.done:
            self._scan_done(f, now)

    def _scan_done(self, f: _Folder, now: float) -> None:
        assert f.scan is not None
        self.stats.rescans += 1
        log.info(
            "watch.rescan_done",
            watch_id=f.id,
            reason=f.scan_reason,
            files=f.scan.files,
            queued=f.scan_queued,
            duration_s=round(self._wall() - f.scan_started, 3),
        )
        f.pruner = Pruner(self._redis, f.id, f.root, f.scan_started)
        f.scan = None
        try:
            self.enqueuer.sweep()
        except UNAVAILABLE as exc:
            self.enqueuer.redis_failed(now, exc, "sweep")
        if f.rescan_again:
            f.next_rescan = now
        else:
            f.next_rescan = now + self.options.rescan_interval_s
            f.rescan_reason = "periodic"

    def _prune_step(self, f: _Folder, now: float) -> None:
        assert f.pruner is not None
        try:
            f.pruner.step()
        except UNAVAILABLE as exc:
            self.enqueuer.redis_failed(now, exc, "prune")
            return
        if f.pruner.done:
            if f.pruner.removed:
                log.info("watch.index_pruned", watch_id=f.id, removed=f.pruner.removed)
            f.pruner = None
