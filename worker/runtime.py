"""Per-process resources of a worker: Redis, the httpx client, the ledger and the pipeline.

Built lazily on first use in the process that uses them (after the prefork pool forks, or
once for the threads pool), never at import time; rebuilt if the pid changes.
"""

from __future__ import annotations

import os
import threading
import time

import structlog
from redis import Redis

from config.credentials import resolve_credentials
from config.logging import redactor
from config.settings import Settings, WatchFolder, pool_size
from mediapost.client import MediaPostClient
from mediapost.credentials import Credentials
from worker import registry
from worker.account import credentials_fingerprint
from worker.albums import DEFAULT_ALBUM, AlbumSeries, Slot
from worker.ledger import Ledger
from worker.messages import UPLOAD_QUEUE
from worker.pipeline import UploadPipeline
from worker.slots import UploadSlots

log = structlog.get_logger(__name__)

FOLDER_CACHE_S = 30.0


class Runtime:
    """Everything one worker process shares between its tasks (and threads)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = Redis.from_url(
            settings.redis_url,
            health_check_interval=30,
            socket_timeout=30,
            socket_connect_timeout=10,
        )
        self.ledger = Ledger(self.redis)
        self.albums = AlbumSeries(
            self.redis, queue=UPLOAD_QUEUE, create_ahead=settings.worker.album_create_ahead
        )
        retry = settings.retry
        threaded = settings.worker.pool == "threads"
        uploads = settings.worker.concurrency if threaded else 1
        self.http = MediaPostClient.make_http_client(
            concurrency=pool_size(settings.worker) if threaded else 1,  # a connection per thread
            timeout=settings.http_timeout_s,
            connect_timeout=settings.connect_timeout_s,
        )
        # Clients for other credentials (a new session key) share this one's connections.
        self.base_client = MediaPostClient(
            settings.endpoint,
            resolve_credentials(settings),
            http=self.http,
            response_format=settings.format,
            retry=MediaPostClient.default_retry(
                max_attempts=retry.max_attempts,
                max_total_s=retry.max_total_s,
                initial_wait_s=retry.initial_wait_s,
                max_wait_s=retry.max_wait_s,
            ),
        )
        self._clients: dict[str, MediaPostClient] = {}
        self._folders: dict[str, tuple[float, WatchFolder | None]] = {}
        self.upload_slots = UploadSlots(uploads)
        self.pipeline = UploadPipeline(
            settings,
            self.ledger,
            self.albums,
            folder_for=self.folder,
            credentials=self.credentials,
            client_for=self.client,
            upload_slots=self.upload_slots,
        )

    def credentials(self) -> Credentials:
        """The current credentials; a session key written by `mediapost auth` is picked up."""
        creds = resolve_credentials(self.settings)
        redactor().add(creds.secret_values())
        return creds

    def client(self, creds: Credentials) -> MediaPostClient:
        """A client for these credentials around the process's one httpx client."""
        key = credentials_fingerprint(creds)
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) > 4:
                self._clients.clear()
            client = self.base_client.with_credentials(creds)
            self._clients[key] = client
        return client

    def folder(self, watch_id: str) -> WatchFolder | None:
        """A watch folder's settings as its watcher published them (cached briefly)."""
        now = time.monotonic()
        cached = self._folders.get(watch_id)
        if cached is not None and now - cached[0] < FOLDER_CACHE_S:
            return cached[1]
        folder = registry.load_watch_folder(self.redis, watch_id) or self.settings.watch_folder(
            watch_id
        )
        self._folders[watch_id] = (now, folder)
        return folder

    def reconcile_albums(self) -> int:
        """Never count fewer photos in a series' current album than the server holds."""
        client = self.client(self.credentials())
        checked = 0
        for raw in self.redis.scan_iter(match=f"{registry.PREFIX}:series:*", count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            series = key.split(":", 2)[2]
            if ":" in series:
                continue  # the series' album list or creation lock
            state = self.albums.state(series)
            current = state.get("cur", "")
            aid = state.get("default_aid", "") if current == DEFAULT_ALBUM else current
            if not aid:
                continue
            found = client.get_albums(aids=[aid])
            if not found:
                log.warning("album.vanished", series=series, aid=aid)
                self.albums.forget(Slot(series, current, 0))
            elif found[0].size is not None:
                self.albums.sync(series, current, found[0].size)
            checked += 1
        log.info("albums.reconciled", series_checked=checked)
        return checked

    def close(self) -> None:
        """Release connections (worker shutdown)."""
        self.http.close()
        self.redis.close()


_settings: Settings | None = None
_runtime: Runtime | None = None
_pid = 0
_lock = threading.Lock()


def configure(settings: Settings) -> None:
    """Called once by the worker's composition root, before the pool starts."""
    global _settings
    _settings = settings


def get() -> Runtime:
    """This process's runtime, built on first use (after fork)."""
    global _runtime, _pid
    with _lock:
        if _runtime is None or _pid != os.getpid():
            if _settings is None:
                raise RuntimeError("worker.runtime.configure(settings) was not called")
            _runtime = Runtime(_settings)
            _pid = os.getpid()
        return _runtime


def stop_new_uploads() -> None:
    """The worker is stopping: tasks still waiting for an upload slot give their file back."""
    with _lock:
        if _runtime is not None and _pid == os.getpid():
            _runtime.upload_slots.close()


def shutdown() -> None:
    """Close this process's runtime, if it was built."""
    global _runtime
    with _lock:
        if _runtime is not None and _pid == os.getpid():
            _runtime.close()
        _runtime = None
