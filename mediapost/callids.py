"""A source of ``call_id`` values that only ever grows, even when the wall clock steps back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache

_US_PER_S = 1_000_000
_NS_PER_US = 1_000


def format_call_id(microseconds: int) -> str:
    """Unix time with six decimals, the seed's shape (``1172623588.023010``)."""
    seconds, micros = divmod(microseconds, _US_PER_S)
    return f"{seconds}.{micros:06d}"


class CallIdClock:
    """Thread-safe; each call_id is max(now, previous + 1 µs), so a 103 cannot come from us."""

    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._clock_ns = clock_ns
        self._last_us = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        """A fresh call_id, strictly above every one this clock gave before."""
        with self._lock:
            now_us = self._clock_ns() // _NS_PER_US
            self._last_us = max(now_us, self._last_us + 1)
            return format_call_id(self._last_us)

    def __repr__(self) -> str:
        return f"CallIdClock(last={format_call_id(self._last_us)})"


@cache
def process_clock() -> CallIdClock:
    """One clock per process, shared by every client that is not given its own."""
    # Created on first use, not at import; clients re-wrapped for a new session keep growing.
    return CallIdClock()
