"""Keep a running upload's message from being handed to a second worker, however long it takes.

kombu's Redis transport gives an unacknowledged message back to the queue once its delivery is
older than the visibility timeout (an hour), on the assumption that its worker died. The
configuration guard (worker/app.py) keeps every *bounded* wait under it, but a threads-pool
worker does not enforce Celery's time limits: a 256 MB file on a slow uplink can upload for
longer, and its copy would then run beside it under the same claim token and upload it twice.
While a task runs, this heartbeat moves its delivery's timestamp in kombu's index to now; a
worker that dies stops beating and its messages come back as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import structlog

from worker.broker import UNACKED_INDEX_KEY, tags_of_tasks_here

if TYPE_CHECKING:
    from redis import Redis

log = structlog.get_logger(__name__)


def extend_visibility(redis: Redis, tags: Iterable[str], now: float) -> int:
    """Stamp these deliveries as made `now`, if still unacknowledged; how many were."""
    stamps = dict.fromkeys(tags, now)
    if not stamps:
        return 0
    changed = redis.zadd(UNACKED_INDEX_KEY, stamps, xx=True, ch=True)  # XX: never re-add
    return int(changed or 0)


class VisibilityHeartbeat:
    """A daemon thread that stamps the running tasks' deliveries every `interval_s`."""

    def __init__(
        self,
        connect: Callable[[], Redis],
        interval_s: float,
        *,
        tags: Callable[[], Iterable[str]] = tags_of_tasks_here,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connect = connect
        self.interval_s = interval_s
        self.tags = tags
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sender: Any = None, **_: Any) -> None:
        """Start beating (Celery's `worker_ready` signal)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="visibility", daemon=True)
            self._thread.start()

    def stop(self, **_: Any) -> None:
        """Stop beating (worker shutdown)."""
        self._stop.set()

    def beat(self, redis: Redis) -> int:
        """One stamp of every running delivery."""
        return extend_visibility(redis, self.tags(), self.clock())

    def _run(self) -> None:
        redis = self.connect()
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    self.beat(redis)
                except Exception as exc:  # Redis away: the next beat tries again
                    log.warning("visibility.beat_failed", error=type(exc).__name__)
        finally:
            redis.close()
