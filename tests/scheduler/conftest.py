"""Fixtures for the watcher: a drop folder, and a real watcher running in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.settings import Settings, WatchFolder
from scheduler.main import build_watcher
from scheduler.options import WatcherOptions
from scheduler.supervisor import ObserverFactory, make_observer
from scheduler.watcher import Watcher
from tests.scheduler.uploads import wait_until

# Short timings so that tests drain quickly; the rescan stays rare unless a test asks.
FAST = WatcherOptions(
    rescan_interval_s=60.0,
    supervise_interval_s=0.05,
    retry_initial_s=0.05,
    retry_max_s=0.3,
    redis_timeout_s=2.0,
)


@dataclass
class Running:
    """A watcher running in a thread, and what it raised."""

    watcher: Watcher
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def rescans(self) -> int:
        """How many rescans finished so far."""
        return self.watcher.stats.rescans

    def wait_rescans(self, n: int, timeout: float = 10.0) -> None:
        """Wait until n rescans in total have finished."""
        wait_until(lambda: self.rescans() >= n or not self.thread.is_alive(), timeout, "a rescan")
        assert not self.errors, self.errors

    def halt(self) -> None:
        """Stop the loop and wait for it."""
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "the watcher did not stop"


StartWatcher = Callable[..., Running]


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """An empty drop folder."""
    path = tmp_path / "drop"
    path.mkdir()
    return path


@pytest.fixture
def folder(drop: Path) -> WatchFolder:
    """The drop folder with a short quiet period."""
    return WatchFolder(path=drop, quiet_period_s=0.3)


@pytest.fixture
def start_watcher(redis_url: str, redis_client: object) -> Iterator[StartWatcher]:
    """Start a real watcher (real observers, real Redis, real Celery producer) in a thread."""
    running: list[Running] = []

    def start(
        *folders: WatchFolder,
        url: str | None = None,
        options: WatcherOptions = FAST,
        make: ObserverFactory = make_observer,
        wait_scan: bool = True,
    ) -> Running:
        settings = Settings(redis_url=url or redis_url)
        watcher, close = build_watcher(settings, list(folders), options, make=make)
        stop = threading.Event()
        run = Running(watcher, stop, threading.Thread(daemon=True))

        def target() -> None:
            try:
                watcher.run(stop)
            except BaseException as exc:
                run.errors.append(exc)
            finally:
                close()

        run.thread = threading.Thread(target=target, daemon=True, name="watcher")
        run.thread.start()
        running.append(run)
        if wait_scan:
            run.wait_rescans(len(folders))
        return run

    yield start
    for run in running:
        run.halt()
