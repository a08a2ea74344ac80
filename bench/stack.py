"""The service under test as subprocesses (one worker, one watcher) and what their logs say."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import PYTHON, JsonLog, Proc, iso_to_unix, start, tree_pids, wait_for

WATCH_ID = "bench"  # the watched drop folder
DIRECT_ID = "direct"  # the folder whose tasks the benchmark enqueues itself (no watcher)
PROBLEMS = ("warning", "error", "critical")
SURPRISES = ("photo.duplicate", "file.set_aside", "file.gone", "file.changed_since_queued")


class Events:
    """Upload and enqueue times, by (watch id, relative path), read from the service's logs."""

    def __init__(self, worker_log: Path, watcher_log: Path) -> None:
        self._worker = JsonLog(worker_log)
        self._watcher = JsonLog(watcher_log)
        self.uploaded: dict[tuple[str, str], list[float]] = {}  # a path may be uploaded again
        self.enqueued: dict[tuple[str, str], float] = {}
        self.problems: list[dict[str, Any]] = []

    def poll(self) -> None:
        """Read what both logs gained since the last call."""
        for event in self._worker.read_new():
            if event.get("event") == "photo.uploaded":
                key = (str(event["watch_id"]), str(event["file"]))
                self.uploaded.setdefault(key, []).append(iso_to_unix(event["timestamp"]))
            elif event.get("level") in PROBLEMS or event.get("event") in SURPRISES:
                self.problems.append(event)
        for event in self._watcher.read_new():
            if event.get("event") == "watch.enqueued":
                key = (str(event["watch_id"]), str(event["file"]))
                self.enqueued.setdefault(key, iso_to_unix(event["timestamp"]))
            elif event.get("level") in PROBLEMS:
                self.problems.append(event)
        for log in (self._worker, self._watcher):
            self.problems += [{"event": "log.unparseable", "line": ln[:300]} for ln in log.broken]
            log.broken.clear()

    def upload_time(self, watch_id: str, name: str, since: float) -> float | None:
        """When this file was uploaded at or after `since` (Unix seconds), if it was."""
        return next((t for t in self.uploaded.get((watch_id, name), ()) if t >= since), None)

    def wait_uploaded(
        self, watch_id: str, names: list[str], since: float, timeout: float
    ) -> list[float]:
        """Upload times (after `since`) of these files, once all are logged (bounded wait)."""
        found: dict[str, float] = {}

        def all_in() -> bool:
            self.poll()
            for name in names:
                if name not in found and (t := self.upload_time(watch_id, name, since)):
                    found[name] = t
            return len(found) == len(names)

        try:
            wait_for(all_in, timeout, f"{len(names)} uploads in {watch_id}", step=0.02)
        except TimeoutError:
            raise TimeoutError(
                f"{len(names) - len(found)} of {len(names)} uploads missing; "
                f"last problems: {self.problems[-3:]}"
            ) from None
        return [found[name] for name in names]


@dataclass
class Service:
    """The worker and the watcher of one benchmark run, sharing a config file."""

    worker: Proc
    watcher: Proc
    drop: Path
    direct: Path
    events: Events
    procs: list[Proc] = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        """The worker's process tree (one process for the threads pool)."""
        return tree_pids(self.worker.popen.pid)

    def watcher_pids(self) -> list[int]:
        """The watcher process."""
        return tree_pids(self.watcher.popen.pid)

    def stop(self) -> None:
        """SIGTERM both, watcher first (so nothing new is queued)."""
        self.watcher.stop()
        self.worker.stop()


def write_config(workdir: Path, drop: Path) -> Path:
    """The TOML config both processes read: one watched folder with default options."""
    config = workdir / "mediapost.toml"
    config.write_text(f'[[watch]]\npath = "{drop}"\nid = "{WATCH_ID}"\n')
    return config


def service_env(workdir: Path, endpoint: str, redis_url: str, concurrency: int) -> dict[str, str]:
    """Environment of the service's processes: JSON logs at INFO, as in production."""
    return {
        **os.environ,
        "MEDIAPOST_CONFIG": str(write_config(workdir, workdir / "drop")),
        "MEDIAPOST_ENDPOINT": endpoint,
        "REDIS_URL": redis_url,
        "MEDIAPOST_LOG_LEVEL": "INFO",
        "MEDIAPOST_LOG_FORMAT": "json",
        "MEDIAPOST_STATE_DIR": str(workdir / "state"),
        "MEDIAPOST_WORKER__POOL": "threads",
        "MEDIAPOST_WORKER__CONCURRENCY": str(concurrency),
    }


def start_service(workdir: Path, endpoint: str, redis_url: str, concurrency: int) -> Service:
    """Start the worker, then the watcher; return once both are ready."""
    drop, direct = workdir / "drop", workdir / "direct"
    drop.mkdir()
    direct.mkdir()
    env = service_env(workdir, endpoint, redis_url, concurrency)
    worker_log, watcher_log = workdir / "worker.log", workdir / "watcher.log"
    worker = start("worker", [PYTHON, "-m", "mediapost", "worker"], env, worker_log)
    watcher = start("watcher", [PYTHON, "-m", "mediapost", "watch"], env, watcher_log)
    service = Service(worker, watcher, drop, direct, Events(worker_log, watcher_log))
    try:
        wait_for(lambda: b" ready" in worker_log.read_bytes(), 60, "the worker", step=0.1)
        wait_for(lambda: b"watch.rescan_done" in watcher_log.read_bytes(), 60, "the watcher")
    except TimeoutError:
        service.stop()
        raise
    time.sleep(0.5)  # let the worker's start-up reconcile task pass before anything is timed
    service.events.poll()
    return service
