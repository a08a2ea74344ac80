"""Observers that die are restarted and followed by a rescan; inotify limits never go unnoticed."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import redis as redis_lib
from structlog.testing import capture_logs
from watchdog.events import EventsLostEvent
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyObserver

from config.settings import WatchFolder
from scheduler.handlers import QueueingHandler
from scheduler.supervisor import Mode, WatchLimitError, make_observer
from tests.scheduler.conftest import FAST, StartWatcher
from tests.scheduler.uploads import counts, wait_for_queue, wait_until


def stop_emitters(observer: BaseObserver) -> None:
    """An emitter thread ends, as on a network-share error or the root being removed."""
    for emitter in list(observer.emitters):
        emitter.stop()
        emitter.join(5)


def stop_observer(observer: BaseObserver) -> None:
    """The dispatching observer thread ends."""
    observer.stop()
    observer.join(5)


def stop_inotify_reader(observer: BaseObserver) -> None:
    """watchdog's inotify reader thread ends; the emitters would then wait forever."""
    reader = observer._inotify_fd  # type: ignore[attr-defined]
    reader.stop()
    reader.join(5)


@pytest.mark.parametrize("kill", [stop_emitters, stop_observer, stop_inotify_reader])
def test_a_dead_observer_is_restarted_and_a_rescan_finds_what_it_missed(
    start_watcher: StartWatcher,
    folder: WatchFolder,
    drop: Path,
    redis_client: redis_lib.Redis,
    kill: Callable[[BaseObserver], None],
) -> None:
    """Files dropped while blind are queued after the restart; new drops are seen again."""
    options = replace(FAST, supervise_interval_s=0.5)
    with capture_logs() as logs:
        run = start_watcher(folder, options=options)
        observer = run.watcher.supervisor.observer(folder.id)
        assert observer is not None
        kill(observer)
        for i in range(10):
            (drop / f"blind-{i}.jpg").write_bytes(b"b")
        wait_until(lambda: run.watcher.stats.restarts >= 1, 5, "a restart")
        wait_for_queue(redis_client, 10)
        (drop / "after.jpg").write_bytes(b"a")
        wait_for_queue(redis_client, 11)
    assert len(counts(redis_client)) == 11
    events = [e["event"] for e in logs]
    assert "watch.observer_died" in events and "watch.observer_restarted" in events
    assert any(
        e["event"] == "watch.rescan_done" and e["reason"] == "observer_restarted" for e in logs
    )


class LimitedObserver(InotifyObserver):
    """An inotify observer on a host whose fs.inotify.max_user_watches is exhausted.

    Lowering the real sysctl would starve every other process of this shared host, so the
    error watchdog raises in that case (OSError ENOSPC from inotify_add_watch) is raised here.
    """

    def start(self) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def limited(mode: Mode, poll_interval_s: float) -> BaseObserver:
    """Native observers hit the limit; polling works."""
    return LimitedObserver() if mode == "native" else make_observer(mode, poll_interval_s)


def test_hitting_the_watch_limit_fails_at_start_naming_the_sysctl(
    start_watcher: StartWatcher, folder: WatchFolder
) -> None:
    """Never running blind: the default is to refuse to start, saying what to raise."""
    run = start_watcher(folder, make=limited, wait_scan=False)
    wait_until(lambda: not run.thread.is_alive(), 5, "the watcher to give up")
    [error] = run.errors
    assert isinstance(error, WatchLimitError)
    assert "fs.inotify.max_user_watches" in str(error) and "sysctl -w" in str(error)


def test_hitting_the_watch_limit_can_fall_back_to_polling(
    start_watcher: StartWatcher, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """With on_watch_limit = "poll" the folder is polled, and the log says why."""
    options = replace(FAST, on_watch_limit="poll")
    folder = WatchFolder(path=drop, quiet_period_s=0.2, poll_interval_s=0.1)
    with capture_logs() as logs:
        start_watcher(folder, options=options, make=limited)
        (drop / "a.jpg").write_bytes(b"a")
        wait_for_queue(redis_client, 1)
    [fallback] = [e for e in logs if e["event"] == "watch.fallback_polling"]
    assert "fs.inotify.max_user_watches" in fallback["advice"]


def test_a_watch_lost_at_runtime_switches_the_folder_to_polling(
    start_watcher: StartWatcher, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """watchdog only logs when a new subdirectory cannot be watched; we act on that log."""
    folder = WatchFolder(path=drop, quiet_period_s=0.2, poll_interval_s=0.1)
    with capture_logs() as logs:
        run = start_watcher(folder)
        # The record watchdog's InotifyWatchGroup._add_callback emits on ENOSPC while running.
        logging.getLogger("watchdog.observers.inotify").warning(
            "Unable to watch %r: %s", str(drop / "new").encode(), OSError(errno.ENOSPC, "full")
        )
        wait_until(lambda: not run.watcher.supervisor.close_events(folder.id), 5, "polling")
        (drop / "later.jpg").write_bytes(b"l")
        wait_for_queue(redis_client, 1)
    assert any(e["event"] == "watch.inotify_limit" for e in logs)


def test_lost_events_trigger_a_rescan(
    start_watcher: StartWatcher, folder: WatchFolder, drop: Path, redis_client: redis_lib.Redis
) -> None:
    """An IN_Q_OVERFLOW (EventsLostEvent) makes the watcher rescan the folder."""
    options = replace(FAST, supervise_interval_s=3600.0)
    with capture_logs() as logs:
        run = start_watcher(folder, options=options)
        observer = run.watcher.supervisor.observer(folder.id)
        assert observer is not None
        stop_emitters(observer)  # deaf, and not restarted within this test: events are "lost"
        (drop / "unseen.jpg").write_bytes(b"u")
        QueueingHandler(folder.id, run.watcher.events).dispatch(EventsLostEvent(str(drop)))
        wait_for_queue(redis_client, 1)
    assert list(counts(redis_client)) == [str(drop / "unseen.jpg")]
    assert [e["reason"] for e in logs if e["event"] == "watch.rescan_done"] == [
        "start",
        "events_lost",
    ]
