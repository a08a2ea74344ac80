"""Celery's consumer with its task events sent in batches at most once a second.

A worker buffers task events (received, started, succeeded) and asks its event loop to flush
them "soon": under a burst they leave in batches, but when files trickle in each event is its
own PUBLISH, two or three per upload, the largest part of the Redis commands a file costs
(bench/throughput.py). Flushing at most every EVENT_FLUSH_S keeps them batched at any rate;
Flower shows a task at most that much later. Celery 5.5-5.7 call `_flush_events` from the
event loop for every buffered event; should a later Celery stop doing so, events are sent as
before, unbatched.
"""

from __future__ import annotations

import time
from typing import Any

from celery.worker.consumer import Consumer as _CeleryConsumer

EVENT_FLUSH_S = 1.0

_Base: Any = _CeleryConsumer  # Celery's classes are untyped


class Consumer(_Base):  # type: ignore[misc]
    """The default consumer, with the event flush deferred to once per EVENT_FLUSH_S."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._last_flush = 0.0
        self._flush_due = False
        super().__init__(*args, **kwargs)

    def _flush_events(self) -> None:
        """Runs in the event loop: flush now, or once the interval since the last has passed."""
        wait = self._last_flush + EVENT_FLUSH_S - time.monotonic()
        if wait <= 0 or self.hub is None:
            self._flush_now()
        elif not self._flush_due:
            self._flush_due = True
            self.hub.call_later(wait, self._flush_now)

    def _flush_now(self) -> None:
        self._flush_due = False
        self._last_flush = time.monotonic()
        super()._flush_events()

    def stop(self) -> None:
        """Send what is buffered before the event connection closes (a restart, a shutdown)."""
        self._flush_now()
        super().stop()

    def shutdown(self) -> None:
        """As `stop`: no task may stay "started" in Flower because its last event was held."""
        self._flush_now()
        super().shutdown()
