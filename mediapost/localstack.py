"""`mediapost up`: the whole service in one terminal, for a laptop trial or a small server.

Starts (as child processes of this one) a private Redis when none answers, the emulator
unless a real endpoint is configured, a worker, the watcher, beat and Flower; prints where to
drop files; stops everything on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import click

from config.settings import Settings


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll `check()` every 100 ms until it is true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@dataclass
class LocalStack:
    """The child processes of `mediapost up`."""

    settings: Settings
    dropbox: Path
    with_flower: bool = True
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def start(self) -> None:
        """Start every part, in dependency order, and say where things are."""
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.dropbox.mkdir(parents=True, exist_ok=True)
        self._redis()
        if self.settings.uses_local_emulator:
            self._emulator()
        me = [sys.executable, "-m", "mediapost"]
        self._spawn("worker", [*me, "worker"])
        self._spawn("watcher", [*me, "watch", str(self.dropbox)])
        self._spawn("beat", [*me, "beat"])
        if self.with_flower:
            self._spawn("flower", [*me, "flower", "--port", "5555"])
        self._banner()

    def _redis(self) -> None:
        parts = urlsplit(self.settings.redis_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 6379
        if answers(host, port):
            return
        binary = shutil.which("redis-server")
        if binary is None or host not in ("127.0.0.1", "localhost"):
            raise click.ClickException(
                f"Redis does not answer at {host}:{port} and no redis-server to start here.\n"
                "  Install it (Debian/Ubuntu: sudo apt-get install redis-server) or set REDIS_URL "
                "to a Redis you run."
            )
        data = self.settings.state_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self._spawn(
            "redis",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(data.resolve()),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
            ],
        )
        if not wait_until(lambda: answers(host, port), 10):
            raise click.ClickException("the private redis-server did not start")
        click.echo(f"started a private Redis on {host}:{port} (data in {data})")

    def _emulator(self) -> None:
        parts = urlsplit(self.settings.endpoint)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        if answers(host, port):
            click.echo(f"using the emulator already running on {host}:{port}")
            return
        data = self.settings.state_dir / "emulator"
        self._spawn(
            "emulator",
            [
                sys.executable,
                "-m",
                "mediapost",
                "emulator",
                "--host",
                host,
                "--port",
                str(port),
                "--data-dir",
                str(data),
            ],
        )
        if not wait_until(lambda: answers(host, port), 15):
            raise click.ClickException("the emulator did not start; see its output above")

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.procs[name] = subprocess.Popen(argv, env=self.env, start_new_session=True)

    def _banner(self) -> None:
        base = self.settings.endpoint.removesuffix("/api.php")
        lines = [
            "",
            "MediaPost uploader is running.",
            f"  Drop photos into:   {self.dropbox.resolve()}",
            f"  Gallery (emulator): {base}/" if self.settings.uses_local_emulator else "",
            "  Flower dashboard:   http://127.0.0.1:5555/" if self.with_flower else "",
            "  Status:             mediapost status",
            "  Stop:               Ctrl-C",
            "",
        ]
        click.secho("\n".join(line for line in lines if line != ""), fg="green")

    def wait(self) -> int:
        """Block until a child dies or we are told to stop; then stop everything."""
        stopping = False

        def on_signal(signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        exit_code = 0
        while not stopping:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    click.secho(f"{name} exited with status {proc.returncode}", fg="red")
                    stopping, exit_code = True, 1
                    break
            time.sleep(0.2)
        self.stop()
        return exit_code

    def stop(self, timeout: float = 60) -> None:
        """Stop the service first (workers finish in-flight uploads), Redis last."""
        order = ["watcher", "beat", "flower", "worker", "emulator", "redis"]
        for name in order:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
        click.echo("stopped.")
