"""Wire the emulator into an aiohttp app and run it: blocking (`serve`) or in a thread for tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import shutil
import signal
import tempfile
import threading
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from emulator import admin, gallery, heap, login
from emulator.config import EmulatorConfig
from emulator.endpoint import api_endpoint
from emulator.state import STATE_KEY, EmulatorState

# How much of a request body aiohttp buffers before it stops reading the socket. Its 64 KiB
# default pauses and resumes reading many times per upload; with 1 MiB, 8 threads uploading
# 25 MB files cost the emulator ~12 % less CPU (3 alternating runs each: 18.8 -> 16.6 ms per
# upload) for at most ~2 MiB held per upload. One connection of 4 MiB uploads: no change.
READ_BUFSIZE = 1 << 20
API_PATH = "/api.php"


def create_app(config: EmulatorConfig) -> web.Application:
    """The emulator as an aiohttp app (with no data dir given, a temp one, removed at cleanup)."""
    owned_dir = config.data_dir is None
    if config.data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="mediapost-emulator-"))
    else:
        data_dir = Path(config.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    app = web.Application()
    app[STATE_KEY] = EmulatorState(config, data_dir)
    app.router.add_get(API_PATH, api_endpoint, allow_head=False)
    app.router.add_post(API_PATH, api_endpoint)
    app.router.add_get("/healthz", _healthz)
    admin.add_routes(app)
    gallery.add_routes(app)
    login.add_routes(app)
    if owned_dir:

        async def remove_data_dir(_: web.Application) -> None:
            shutil.rmtree(data_dir, ignore_errors=True)

        app.on_cleanup.append(remove_data_dir)
    return app


def serve(config: EmulatorConfig) -> None:
    """Run the emulator until SIGINT or SIGTERM; prints one line with its URL."""
    heap.keep_freed_buffers()
    _run(_serve(config))


def _run(main: Coroutine[Any, Any, None]) -> None:
    """On uvloop where it is installed: under 8 concurrent 25 MB uploads the emulator then
    needs ~25 % less CPU per upload than on asyncio's own loop (3 alternating runs each:
    18.8 -> 14.0 ms), which keeps it from being what limits a benchmark's baseline."""
    try:
        import uvloop
    except ImportError:  # not on every platform; asyncio's loop does the same, slower
        asyncio.run(main)
        return
    uvloop.run(main)


async def _serve(config: EmulatorConfig) -> None:
    app = create_app(config)
    runner, port = await _start(app, config)
    base_url = _base_url(config.host, port)
    data_dir = app[STATE_KEY].data_dir
    print(
        f"MediaPost emulator: {base_url}{API_PATH}  (gallery {base_url}/, data {data_dir})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def _start(app: web.Application, config: EmulatorConfig) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(
        app, access_log=None, shutdown_timeout=config.shutdown_timeout_s, read_bufsize=READ_BUFSIZE
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = int(runner.addresses[0][1])
    return runner, port


async def _healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def _base_url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass
class _Started:
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    port: int
    state: EmulatorState


class RunningEmulator:
    """An emulator serving from a background thread; stop it (or leave the `with`) when done."""

    def __init__(self, thread: threading.Thread, started: _Started, host: str) -> None:
        self._thread = thread
        self._started = started
        self.port = started.port
        self.base_url = _base_url(host, started.port)
        self.url = self.base_url + API_PATH
        self.state = started.state
        self.config = started.state.config
        self.data_dir = started.state.data_dir

    def stop(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._started.loop.call_soon_threadsafe(self._started.stop.set)
        self._thread.join(timeout=30)

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """Call an admin endpoint (GET without payload, POST JSON with one) and return its JSON."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - our own http:// URL
            f"{self.base_url}/admin/{path.lstrip('/')}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="GET" if payload is None else "POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def inspect(self) -> dict[str, Any]:
        """The /admin/inspect snapshot: albums, photos, sessions, counters, faults."""
        result: dict[str, Any] = self.admin("inspect")
        return result

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_in_thread(config: EmulatorConfig) -> RunningEmulator:
    """Start the emulator in a daemon thread (any free port if `port=0`); return once it serves."""
    started: queue.Queue[_Started | BaseException] = queue.Queue(maxsize=1)
    thread = threading.Thread(
        target=lambda: asyncio.run(_serve_in_thread(config, started)),
        name="mediapost-emulator",
        daemon=True,
    )
    thread.start()
    item = started.get(timeout=60)
    if isinstance(item, BaseException):
        thread.join()
        raise item
    return RunningEmulator(thread, item, config.host)


async def _serve_in_thread(
    config: EmulatorConfig, started: queue.Queue[_Started | BaseException]
) -> None:
    try:
        app = create_app(config)
        runner, port = await _start(app, config)
    except BaseException as exc:
        started.put(exc)
        return
    stop = asyncio.Event()
    started.put(_Started(asyncio.get_running_loop(), stop, port, app[STATE_KEY]))
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
