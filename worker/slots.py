"""Upload slots: at most `concurrency` uploads in flight however many tasks a worker runs.

A threads-pool worker runs `prepare_ahead` more tasks than it has upload slots, so the next
files are hashed and claimed while the uploads run (config/settings.py `pool_size`). Once the
worker is stopping, a task still waiting for a slot gives its file back instead of starting
an upload the shutdown grace would have to wait for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SlotsClosed(Exception):
    """The worker is stopping: no new upload starts here."""


class UploadSlots:
    """A counting semaphore that can be closed to every task not yet holding a slot."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._closed = False
        self._changed = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the body; raise SlotsClosed instead of waiting once closed."""
        with self._changed:
            while self._free == 0 and not self._closed:
                self._changed.wait()
            if self._closed:
                raise SlotsClosed("the worker is stopping")
            self._free -= 1
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify()

    def close(self) -> None:
        """Refuse every later request for a slot (uploads holding one go on)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
