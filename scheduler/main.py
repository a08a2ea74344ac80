"""The watcher's composition root: folders from config or the command line, Redis, the producer."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import structlog
from celery import Celery
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config.settings import ConfigError, Settings, WatchFolder
from scheduler.enqueue import celery_sender
from scheduler.options import WatcherOptions
from scheduler.supervisor import ObserverFactory, make_observer
from scheduler.watcher import Watcher

log = structlog.get_logger(__name__)


def run_watcher(
    settings: Settings,
    paths: list[Path] | None,
    *,
    stop_event: threading.Event | None = None,
    options: WatcherOptions | None = None,
) -> None:
    """Watch until SIGTERM/SIGINT or `stop_event`; ConfigError or WatchLimitError at start."""
    folders = resolve_folders(settings, paths)
    stop = stop_event if stop_event is not None else threading.Event()
    if options is None:
        options = WatcherOptions(
            rescan_interval_s=settings.watcher.rescan_interval_s,
            requeue_after_s=settings.watcher.requeue_after_s,
            on_watch_limit=settings.watcher.on_watch_limit,
        )
    watcher, close = build_watcher(settings, folders, options)
    try:
        with _stop_on_signals(stop):
            watcher.run(stop)
    finally:
        close()


def resolve_folders(settings: Settings, paths: list[Path] | None) -> list[WatchFolder]:
    """The configured folders, or one per PATH (using its configuration if it has one)."""
    if paths:
        by_path = {w.path: w for w in settings.watch}
        folders = []
        for p in paths:
            resolved = p.expanduser().resolve()
            folders.append(by_path.get(resolved) or WatchFolder(path=resolved))
    else:
        folders = list(settings.watch)
    if not folders:
        raise ConfigError("watch: no folder to watch; pass PATH or add a [[watch]] table")
    ids = [f.id for f in folders]
    for f in folders:
        if not f.path.is_dir():
            raise ConfigError(f"watch: {f.path} is not a directory")
        if ids.count(f.id) > 1:
            raise ConfigError(f"watch: two folders share the id {f.id!r}; set `id` on one")
        for other in folders:
            if other is not f and f.path.is_relative_to(other.path):
                raise ConfigError(f"watch: {f.path} is inside {other.path}; watch one of them")
        _note_outside_dirs(f)
    return folders


def _note_outside_dirs(folder: WatchFolder) -> None:
    for name, d in (("done_dir", folder.done_dir), ("failed_dir", folder.failed_dir)):
        if d is not None and not Path(d).resolve().is_relative_to(folder.path):
            # A move out of an inotify tree is an unpaired IN_MOVED_FROM: watchdog then holds
            # every later event of this folder for up to 0.5 s.
            log.info("watch.dir_outside_tree", watch_id=folder.id, setting=name, path=str(d))


def producer_app(settings: Settings, options: WatcherOptions) -> Celery:
    """A Celery app that only publishes: JSON, short publish retries (our outbox retries)."""
    app = Celery("mediapost-watcher", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.worker.visibility_timeout_s,
            "socket_timeout": options.redis_timeout_s,
            "socket_connect_timeout": options.redis_timeout_s,
        },
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
    )
    return app


def build_watcher(
    settings: Settings,
    folders: list[WatchFolder],
    options: WatcherOptions,
    *,
    make: ObserverFactory = make_observer,
) -> tuple[Watcher, Callable[[], None]]:
    """Wire a watcher to Redis and the broker; the second value closes both."""
    redis = Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=options.redis_timeout_s,
        socket_connect_timeout=options.redis_timeout_s,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        health_check_interval=30,
    )
    app = producer_app(settings, options)
    requeue = options.requeue_after_s
    if requeue is None:
        requeue = float(settings.worker.visibility_timeout_s)
    watcher = Watcher(
        folders,
        redis=redis,
        send=celery_sender(app),
        options=options,
        requeue_after_s=requeue,
        make=make,
    )

    def close() -> None:
        app.close()
        redis.close()

    return watcher, close


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """On the main thread, SIGTERM and SIGINT ask the loop to stop cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("watch.stopping", signal=signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
