"""One observer per watch folder, kept alive: a dead observer is restarted, and never runs blind."""

from __future__ import annotations

import errno
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Literal

import structlog
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from config.settings import WatchFolder
from scheduler.handlers import EVENT_FILTER, LimitAlarm, QueueingHandler

log = structlog.get_logger(__name__)

Mode = Literal["native", "polling"]
ObserverFactory = Callable[[Mode, float], BaseObserver]

# watchdog logs these (and keeps going) when a watch cannot be added to a running tree.
_WATCHDOG_LIMIT_MESSAGES = frozenset(
    {"Unable to watch %r: %s", "Unable to rebuild recursive inotify watches below %r"}
)


class WatchLimitError(RuntimeError):
    """An inotify limit was hit at start; the message says which sysctl to raise."""


def make_observer(mode: Mode, poll_interval_s: float) -> BaseObserver:
    """inotify with unpaired moves reported as moves on Linux; polling for network shares."""
    if mode == "polling":
        return PollingObserver(timeout=poll_interval_s)
    if sys.platform.startswith("linux"):
        from watchdog.observers.inotify import InotifyObserver

        return InotifyObserver(generate_full_events=True)
    from watchdog.observers import Observer

    return Observer()


def _sysctl(name: str) -> str:
    try:
        return Path(f"/proc/sys/fs/inotify/{name}").read_text().strip()
    except OSError:
        return "unknown"


def limit_advice(exc: OSError, path: Path) -> str:
    """Say which inotify limit was hit and how to raise it."""
    if exc.errno == errno.EMFILE:
        setting, example, need = "max_user_instances", 512, "one per watch folder"
    else:
        setting, example = "max_user_watches", 524288
        dirs = sum(1 for _ in os.walk(path))  # only on this failure path
        need = f"this folder alone needs {dirs}, one per directory"
    return (
        f"inotify limit reached while watching {path} ({exc.strerror}; {need}). Raise "
        f"fs.inotify.{setting} (now {_sysctl(setting)}), e.g. "
        f"`sysctl -w fs.inotify.{setting}={example}` and persist it in /etc/sysctl.d/; "
        f'or set observer = "polling" for this folder.'
    )


def healthy(observer: BaseObserver) -> bool:
    """The observer thread, every emitter thread, and the inotify reader thread are alive."""
    if not observer.is_alive():
        return False
    emitters = list(observer.emitters)
    if not emitters or not all(e.is_alive() for e in emitters):
        return False
    # watchdog 7: one reader thread per InotifyObserver; if it dies, emitters wait forever.
    reader = getattr(observer, "_inotify_fd", None)
    return reader is None or bool(reader.is_alive())


@dataclass
class _Slot:
    folder: WatchFolder
    mode: Mode
    observer: BaseObserver | None = None
    failures: int = 0
    retry_at: float = 0.0


class _LimitAlarmHandler(logging.Handler):
    """Turns watchdog's 'Unable to watch' warnings into alarms for the loop."""

    def __init__(self, queue: SimpleQueue[object]) -> None:
        super().__init__(level=logging.WARNING)
        self._queue = queue

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg in _WATCHDOG_LIMIT_MESSAGES and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            path = args[0]
            if isinstance(path, (str, bytes)):
                self._queue.put(LimitAlarm(os.fsdecode(path)))


class Supervisor:
    """Starts, checks and restarts the observers; restarts are followed by a rescan."""

    def __init__(
        self,
        folders: Sequence[WatchFolder],
        queue: SimpleQueue[object],
        *,
        on_watch_limit: Literal["fail", "poll"] = "fail",
        make: ObserverFactory = make_observer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue = queue
        self._slots = {f.id: _Slot(f, f.observer) for f in folders}
        self._on_watch_limit = on_watch_limit
        self._make = make
        self._clock = clock
        self._alarm = _LimitAlarmHandler(queue)

    def start(self) -> None:
        """Start every observer; raise WatchLimitError (or fall back to polling) on limits."""
        logging.getLogger("watchdog.observers.inotify").addHandler(self._alarm)
        for slot in self._slots.values():
            self._start(slot, fallback=self._on_watch_limit == "poll")

    def close_events(self, watch_id: str) -> bool:
        """Whether this folder's observer reports close-after-write (inotify only)."""
        return self._slots[watch_id].mode == "native" and sys.platform.startswith("linux")

    def observer(self, watch_id: str) -> BaseObserver | None:
        """The running observer of a folder (tests use it to inject failures)."""
        return self._slots[watch_id].observer

    def check(self, now: float) -> list[str]:
        """Restart dead observers; returns the ids of folders to rescan."""
        restarted = []
        for wid, slot in self._slots.items():
            if slot.observer is not None and healthy(slot.observer):
                continue
            if now < slot.retry_at:
                continue
            if slot.observer is not None:
                log.error("watch.observer_died", watch_id=wid, mode=slot.mode)
                self._dispose(slot)
            try:
                self._start(slot, fallback=True)
            except OSError as exc:
                slot.failures += 1
                slot.retry_at = now + min(30.0, 2.0 ** (slot.failures - 1))
                log.warning(
                    "watch.restart_failed",
                    watch_id=wid,
                    error=exc.strerror or str(exc),
                    retry_in_s=round(slot.retry_at - now, 1),
                )
                continue
            slot.failures = 0
            log.info("watch.observer_restarted", watch_id=wid, mode=slot.mode)
            restarted.append(wid)
        return restarted

    def degrade(self, path: str) -> str | None:
        """A watch could not be added at runtime: switch that folder to polling; its id."""
        for wid, slot in self._slots.items():
            root = str(slot.folder.path)
            if slot.mode == "native" and (path == root or path.startswith(root + "/")):
                err = OSError(errno.ENOSPC, "no inotify watch left for a new directory")
                log.error(
                    "watch.inotify_limit",
                    watch_id=wid,
                    advice=limit_advice(err, slot.folder.path),
                    action="switching this folder to polling",
                )
                self._dispose(slot)
                slot.mode = "polling"
                try:
                    self._start(slot, fallback=False)
                except OSError:
                    log.exception("watch.restart_failed", watch_id=wid)  # `check` retries
                return wid
        return None

    def stop(self) -> None:
        """Stop every observer and wait for its threads."""
        logging.getLogger("watchdog.observers.inotify").removeHandler(self._alarm)
        for slot in self._slots.values():
            self._dispose(slot)

    def _start(self, slot: _Slot, *, fallback: bool) -> None:
        folder = slot.folder
        observer = None
        try:
            observer = self._make(slot.mode, folder.poll_interval_s)
            observer.schedule(
                QueueingHandler(folder.id, self._queue),
                str(folder.path),
                recursive=folder.recursive,
                event_filter=EVENT_FILTER,
            )
            observer.start()
        except OSError as exc:
            if observer is not None:
                _stop_quietly(observer)
            if slot.mode != "native" or exc.errno not in (errno.ENOSPC, errno.EMFILE):
                raise
            advice = limit_advice(exc, folder.path)
            if not fallback:
                raise WatchLimitError(advice) from exc
            log.warning("watch.fallback_polling", watch_id=folder.id, advice=advice)
            slot.mode = "polling"
            self._start(slot, fallback=False)
            return
        slot.observer = observer

    def _dispose(self, slot: _Slot) -> None:
        if slot.observer is not None:
            _stop_quietly(slot.observer)
            slot.observer = None


def _stop_quietly(observer: BaseObserver) -> None:
    """Stop an observer that may be dead or half-started."""
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=5)
    except Exception:
        log.exception("watch.observer_stop_failed")
