"""Tunables of the watcher process that are not per folder (candidates for a settings section)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class WatcherOptions:
    """Timings and limits of the watcher loop; the defaults suit a local disk."""

    rescan_interval_s: float = 300.0
    # None: use the workers' visibility timeout, after which a lost message would be redelivered.
    requeue_after_s: float | None = None
    on_watch_limit: Literal["fail", "poll"] = "fail"
    supervise_interval_s: float = 1.0
    scan_batch: int = 500
    enqueue_batch: int = 500
    retry_initial_s: float = 0.5
    retry_max_s: float = 5.0
    # A close-write is awaited this long after a write was seen, then the quiet period decides.
    open_write_timeout_s: float = 300.0
    redis_timeout_s: float = 5.0
