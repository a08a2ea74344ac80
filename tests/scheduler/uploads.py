"""Read what the watcher queued, straight from the Redis list that kombu publishes to."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis as redis_lib

from worker.messages import UPLOAD_QUEUE


def decode(raw: bytes | str) -> dict[str, Any]:
    """The task kwargs of one kombu message (protocol 2: body is [args, kwargs, embed])."""
    message = json.loads(raw)
    body = message["body"]
    if message["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    _args, kwargs, _embed = json.loads(body)
    return dict(kwargs)


def queued(client: redis_lib.Redis) -> list[dict[str, Any]]:
    """Every message still in the upload queue, oldest first."""
    return [decode(raw) for raw in reversed(client.lrange(UPLOAD_QUEUE, 0, -1))]


def counts(client: redis_lib.Redis) -> Counter[str]:
    """How many times each path is in the queue."""
    return Counter(m["path"] for m in queued(client))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition (every 20 ms) until it holds, or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def wait_for_queue(client: redis_lib.Redis, n: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until at least n messages are queued; returns them."""
    wait_until(lambda: client.llen(UPLOAD_QUEUE) >= n, timeout, f"{n} queued messages")
    return queued(client)


@dataclass
class Consumer:
    """Pops the queue on its own connection and stamps each message's arrival (wall clock)."""

    url: str
    arrivals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    on_message: Callable[[dict[str, Any]], None] | None = None

    def start(self) -> Consumer:
        """Begin consuming in a thread."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        client = redis_lib.Redis.from_url(self.url)
        try:
            while not self._stop.is_set():
                item = client.blpop([UPLOAD_QUEUE], timeout=0.1)
                if item is not None:
                    kwargs = decode(item[1])
                    self.arrivals.append((time.time(), kwargs))
                    if self.on_message is not None:
                        self.on_message(kwargs)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
