"""Queue each finished file once: an in-memory outbox, a Redis index of what was sent, retries.

Steady state per file: one HMGET (batched), the publish (one LPUSH), one HSET (batched).
While Redis is unreachable nothing is dropped: candidates wait here, retried with backoff, and
the next rescan would re-derive them anyway.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from config.settings import WatchFolder
from scheduler import inflight
from scheduler.filters import loggable
from worker import registry
from worker.messages import UPLOAD_QUEUE, UPLOAD_TASK, UploadRequest

if TYPE_CHECKING:
    from celery import Celery
    from redis import Redis
    from redis.typing import EncodableT

log = structlog.get_logger(__name__)

# Anything meaning "the broker or Redis cannot be used right now".
UNAVAILABLE: tuple[type[BaseException], ...] = (OperationalError, RedisError, OSError)

# A message can vanish inside Redis (see scheduler/inflight.py). A file a rescan finds
# unsettled this long after it was sent, while nothing is queued and no unacknowledged message
# names it, lost its message: it is sent again at once, not after `requeue_after_s`. A stray
# second message would be harmless: the ledger absorbs it.
LOST_AFTER_S = 15.0

Sender = Callable[[UploadRequest], None]


def celery_sender(app: Celery) -> Sender:
    """Publish by task name on the upload queue; no worker code is imported."""

    def send(request: UploadRequest) -> None:
        app.send_task(UPLOAD_TASK, kwargs=request.to_kwargs(), queue=UPLOAD_QUEUE)

    return send


def encode_mark(size: int, mtime_ns: int, at_unix: float) -> str:
    """The enqueued-index value: which version was sent, and when."""
    return f"{size}:{mtime_ns}:{int(at_unix)}"


def parse_mark(raw: str | bytes | None) -> tuple[int, int, int] | None:
    """Read what `encode_mark` wrote; anything else counts as absent."""
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        size, mtime_ns, at = text.split(":")
        return int(size), int(mtime_ns), int(at)
    except ValueError:
        return None


class Decision(StrEnum):
    """What to do with a candidate given its entry in the enqueued index."""

    SEND = "send"
    SKIP = "skip"  # this version was sent recently
    CHECK_SETTLED = "check_settled"  # sent long ago: send again unless its outcome is final


def decide(
    mark: tuple[int, int, int] | None,
    size: int,
    mtime_ns: int,
    now_unix: float,
    requeue_after_s: float,
) -> Decision:
    """Send new versions; resend an old send of this version only if still unsettled."""
    if mark is None or (mark[0], mark[1]) != (size, mtime_ns):
        return Decision.SEND
    if now_unix - mark[2] < requeue_after_s:
        return Decision.SKIP
    return Decision.CHECK_SETTLED


@dataclass
class Backoff:
    """Exponential backoff with jitter over one outage; `now` is a monotonic clock."""

    initial_s: float = 0.5
    max_s: float = 5.0
    failures: int = 0
    retry_at: float = 0.0
    since: float = 0.0

    def ready(self, now: float) -> bool:
        """True when Redis may be tried again."""
        return now >= self.retry_at

    def failed(self, now: float) -> bool:
        """Note a failure and schedule the next try; True for the first failure of an outage."""
        first = self.failures == 0
        if first:
            self.since = now
        self.failures += 1
        delay = min(self.max_s, self.initial_s * 2 ** (self.failures - 1))
        self.retry_at = now + delay * random.uniform(0.75, 1.0)
        return first

    def succeeded(self, now: float) -> float | None:
        """Reset; returns how long the outage lasted, or None if there was none."""
        if self.failures == 0:
            return None
        self.failures, self.retry_at = 0, 0.0
        return now - self.since


@dataclass(frozen=True, slots=True)
class Candidate:
    """A finished file to enqueue; `settled_checked` when a rescan already consulted the index."""

    watch_id: str
    relpath: str
    path: str
    size: int
    mtime_ns: int
    settled_checked: bool = False


Key = tuple[str, str]


class Enqueuer:
    """The outbox: dedups in memory, consults the enqueued index, publishes, records."""

    def __init__(
        self,
        redis: Redis,
        send: Sender,
        *,
        requeue_after_s: float,
        batch_size: int = 500,
        backoff: Backoff | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._send = send
        self.requeue_after_s = requeue_after_s
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self._wall = wall
        self._pending: dict[Key, Candidate] = {}
        self._recent: dict[Key, tuple[int, int, float]] = {}  # sent (size, mtime_ns, at_unix)
        # Sent but not yet recorded in Redis: watch id -> relpath -> mark.
        self._marks: dict[str, dict[EncodableT, EncodableT]] = {}
        self._unpublished: dict[str, WatchFolder] = {}
        self._roots: dict[str, str] = {}
        self._evicted_at = 0.0
        self.sent = 0

    @property
    def pending(self) -> int:
        """How many candidates wait to be published."""
        return len(self._pending)

    def register_folder(self, folder: WatchFolder) -> None:
        """Publish the folder's settings for the workers before any of its files is sent."""
        self._unpublished[folder.id] = folder
        self._roots[folder.id] = str(folder.path)

    def sent_recently(self, watch_id: str, relpath: str, size: int, mtime_ns: int) -> bool:
        """True if this process sent this version within the requeue window (no Redis call)."""
        recent = self._recent.get((watch_id, relpath))
        return (
            recent is not None
            and recent[:2] == (size, mtime_ns)
            and self._wall() - recent[2] < self.requeue_after_s
        )

    def submit(self, c: Candidate) -> bool:
        """Add a candidate; False if this version is already pending or was just sent.

        Rescan candidates skip the in-memory check and let the Redis index decide, so that
        entries removed there (`registry.forget_paths`, for a retry) take effect at once.
        """
        key = (c.watch_id, c.relpath)
        if not c.settled_checked and self.sent_recently(*key, c.size, c.mtime_ns):
            return False
        queued = self._pending.get(key)
        if queued is not None and (queued.size, queued.mtime_ns) == (c.size, c.mtime_ns):
            return False
        self._pending[key] = c
        return True

    def discard(self, watch_id: str, relpath: str) -> None:
        """The file went away (moved, deleted): drop it, and forget it was sent."""
        self._pending.pop((watch_id, relpath), None)
        self._recent.pop((watch_id, relpath), None)

    def redis_failed(self, now: float, exc: BaseException, during: str) -> None:
        """Note an outage (from here or from a rescan); logged once per outage."""
        if self.backoff.failed(now):
            log.warning(
                "watch.enqueue_failed",
                during=during,
                error=f"{type(exc).__name__}: {exc}",
                pending=self.pending,
            )

    def redis_ok(self, now: float) -> None:
        """Note that Redis answered; logs the end of an outage."""
        outage = self.backoff.succeeded(now)
        if outage is not None:
            log.info("watch.enqueue_recovered", outage_s=round(outage, 2), pending=self.pending)

    @property
    def failing(self) -> bool:
        """True during an outage."""
        return self.backoff.failures > 0

    def flush(self, now: float, max_batches: int = 4) -> int:
        """Publish up to a few batches unless backing off; returns how many were sent."""
        # A backlog (after an outage) drains over several turns, so events keep being served.
        if not (self._pending or self._marks or self._unpublished):
            return 0
        if not self.backoff.ready(now):
            return 0
        before = self.sent
        try:
            for wid in list(self._unpublished):
                registry.publish_watch_folder(self._redis, self._unpublished[wid])
                del self._unpublished[wid]
            self._write_marks()
            for _ in range(max_batches):
                if not self._pending:
                    break
                self._flush_batch(list(itertools.islice(self._pending.values(), self.batch_size)))
        except UNAVAILABLE as exc:
            self.redis_failed(now, exc, "enqueue")
            return self.sent - before
        self.redis_ok(now)
        if now - self._evicted_at > 60.0:
            self._evict()
            self._evicted_at = now
        return self.sent - before

    def _flush_batch(self, batch: list[Candidate]) -> None:
        marks = self._lookup(batch)
        now_unix = self._wall()
        decisions = {
            (c.watch_id, c.relpath): decide(
                marks[(c.watch_id, c.relpath)], c.size, c.mtime_ns, now_unix, self.requeue_after_s
            )
            for c in batch
        }
        settled = self._settled(
            [c for c in batch if decisions[(c.watch_id, c.relpath)] is Decision.CHECK_SETTLED]
        )
        for key in self._lost(batch, decisions, marks, now_unix):
            decisions[key] = Decision.SEND
        for c in batch:
            key = (c.watch_id, c.relpath)
            decision = decisions[key]
            if decision is Decision.SKIP or (decision is Decision.CHECK_SETTLED and key in settled):
                mark = marks[key]
                if mark is not None:
                    self._remember(key, (mark[0], mark[1], float(mark[2])))
                del self._pending[key]
                continue
            self._publish(c, now_unix)
        self._write_marks()

    def _lost(
        self,
        batch: list[Candidate],
        decisions: dict[Key, Decision],
        marks: dict[Key, tuple[int, int, int] | None],
        now_unix: float,
    ) -> list[Key]:
        """Rescanned, still unsettled files sent a while ago whose message exists nowhere."""
        stale = []
        for c in batch:
            key = (c.watch_id, c.relpath)
            mark = marks[key]
            # A rescan found its outcome missing (settled_checked), and it was sent a while ago.
            sent_at = now_unix if mark is None else mark[2]
            unsettled = c.settled_checked and decisions[key] is Decision.SKIP
            if unsettled and now_unix - sent_at >= LOST_AFTER_S:
                stale.append(c)
        if not stale:
            return []
        flight = inflight.in_flight(self._redis, self._roots)
        if flight.queued:
            return []  # its message may still wait in the queue: requeue_after_s decides
        lost = [(c.watch_id, c.relpath) for c in stale if c.path not in flight.paths]
        if lost:
            log.warning("watch.requeue_lost", files=len(lost), after_s=LOST_AFTER_S)
        return lost

    def sweep(self) -> None:
        """Drop unacknowledged entries of settled files (their acknowledgement was lost)."""
        flight = inflight.in_flight(self._redis, self._roots)
        if flight.done_tags:
            inflight.forget_acknowledged(self._redis, flight.done_tags)
            log.info("watch.lost_acks_cleared", messages=len(flight.done_tags))

    def _lookup(self, batch: list[Candidate]) -> dict[Key, tuple[int, int, int] | None]:
        by_watch: dict[str, list[str]] = {}
        for c in batch:
            by_watch.setdefault(c.watch_id, []).append(c.relpath)
        pipe = self._redis.pipeline(transaction=False)
        for wid, rels in by_watch.items():
            pipe.hmget(registry.enqueued_key(wid), rels)
        result: dict[Key, tuple[int, int, int] | None] = {}
        for (wid, rels), raws in zip(by_watch.items(), pipe.execute(), strict=True):
            for rel, raw in zip(rels, raws, strict=True):
                result[(wid, rel)] = parse_mark(raw)
        return result

    def _settled(self, stale: Iterable[Candidate]) -> set[Key]:
        """Of candidates sent long ago, those whose outcome for this version is final."""
        by_watch: dict[str, list[Candidate]] = {}
        for c in stale:
            if not c.settled_checked:
                by_watch.setdefault(c.watch_id, []).append(c)
        settled: set[Key] = set()
        for wid, items in by_watch.items():
            entries = [(c.relpath, c.size, c.mtime_ns) for c in items]
            open_ = {e[0] for e in registry.unsettled(self._redis, wid, entries)}
            settled.update((wid, c.relpath) for c in items if c.relpath not in open_)
        return settled

    def _publish(self, c: Candidate, now_unix: float) -> None:
        self._send(UploadRequest(c.watch_id, c.path, c.size, c.mtime_ns))
        key = (c.watch_id, c.relpath)
        del self._pending[key]
        self._marks.setdefault(c.watch_id, {})[c.relpath] = encode_mark(
            c.size, c.mtime_ns, now_unix
        )
        self._remember(key, (c.size, c.mtime_ns, now_unix))
        self.sent += 1
        log.info("watch.enqueued", watch_id=c.watch_id, file=loggable(c.relpath), size=c.size)

    def _write_marks(self) -> None:
        if not self._marks:
            return
        pipe = self._redis.pipeline(transaction=False)
        for wid, mapping in self._marks.items():
            pipe.hset(registry.enqueued_key(wid), mapping=mapping)
        pipe.execute()
        self._marks.clear()

    def _remember(self, key: Key, sent: tuple[int, int, float]) -> None:
        self._recent[key] = sent

    def _evict(self) -> None:
        """Forget sends older than the requeue window; the Redis index still has them."""
        horizon = self._wall() - self.requeue_after_s
        self._recent = {k: v for k, v in self._recent.items() if v[2] >= horizon}
