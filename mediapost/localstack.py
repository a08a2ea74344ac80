"""`mediapost up`: the whole service in one terminal, for a laptop trial or a small server.

Starts, as child processes of this one: a private Redis when none answers at REDIS_URL, the
emulator unless a real endpoint is configured, a worker, the watcher, beat, Flower and (when the
CLI has the command) the metrics exporter. It prints where to drop files once the worker is
ready, reports a child that dies, and stops everything on Ctrl-C, SIGTERM or SIGHUP: the watcher
first, the worker after its in-flight uploads, Redis last.

Each child's output goes to the terminal, every line prefixed with the process's name (as
`docker compose up` shows it: a problem appears where and when it happens), and unprefixed to
`<state dir>/logs/<name>.log`, to read or grep later (the previous run's is kept as `.log.1`).

Ports and places come from the settings and the environment: the emulator listens where
MEDIAPOST_ENDPOINT points, Flower on FLOWER_PORT (Flower's own variable; default 5555) and
the metrics exporter on MEDIAPOST_METRICS_PORT (default 9808); state and logs go under
MEDIAPOST_STATE_DIR. Flower binds 127.0.0.1 only and asks for no login unless
FLOWER_BASIC_AUTH=user:password is set (Flower reads it itself).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO
from urllib.parse import urlsplit

import click

from config.settings import Settings

FLOWER_PORT = 5555
METRICS_PORT = 9808
# The worker's warm shutdown lets running uploads finish for `worker.shutdown_grace_s`, then
# requeues them and exits (bounded by a further 10 s); we wait that long plus a margin before
# SIGKILL, which is still safe (late ack: the upload is redelivered and reconciled).
WORKER_STOP_MARGIN_S = 20.0
OTHER_STOP_S = 15.0
STOP_ORDER = ("watcher", "beat", "metrics", "flower", "worker", "emulator", "redis")
COLOURS = {"redis": "red", "emulator": "magenta", "worker": "green", "watcher": "cyan"}
TAIL_LINES = 15


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(host: str, port: int) -> bool:
    """True if a server could bind this address now (what our child is about to do)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError:
        return False
    with socket.socket(family, kind, proto) as sock:
        # Servers set SO_REUSEADDR too, so a port in TIME_WAIT counts as free, as it is for them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `check()` until it is true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def is_emulator(base_url: str) -> bool:
    """True if a MediaPost emulator answers at this base URL (its fault settings are JSON)."""
    try:
        with urllib.request.urlopen(f"{base_url}/admin/faults", timeout=2) as response:  # noqa: S310
            body = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return isinstance(body, dict) and "seed" in body


def redis_problem(url: str) -> str | None:
    """None if Redis answers PING at this URL, else what went wrong."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    except ValueError as exc:  # not a redis:// URL at all
        return str(exc)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def child_env(base: Mapping[str, str], *, terminal: bool) -> dict[str, str]:
    """The children's environment: unbuffered output, readable log lines on a terminal."""
    env = {**base, "PYTHONUNBUFFERED": "1"}
    if terminal:
        env.setdefault("MEDIAPOST_LOG_FORMAT", "console")
    return env


def env_port(name: str, default: int) -> int:
    """A port number from the environment, or a clear error naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise click.ClickException(f"{name} must be a port number (1-65535), not {raw!r}")
    return int(raw)


def describe_exit(returncode: int) -> str:
    """'exit status 1' or 'killed by SIGKILL'."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


@dataclass
class Child:
    """One child process, its log file and the last lines it printed."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    pump: threading.Thread | None = None


@dataclass
class LocalStack:
    """The child processes of `mediapost up`."""

    settings: Settings
    dropbox: Path
    with_flower: bool = True
    flower_port: int = field(default_factory=lambda: env_port("FLOWER_PORT", FLOWER_PORT))
    metrics_port: int = field(
        default_factory=lambda: env_port("MEDIAPOST_METRICS_PORT", METRICS_PORT)
    )
    children: dict[str, Child] = field(default_factory=dict)
    env: dict[str, str] = field(
        default_factory=lambda: child_env(os.environ, terminal=sys.stdout.isatty())
    )

    def __post_init__(self) -> None:
        self.state_dir = self.settings.state_dir.resolve()
        self.log_dir = self.state_dir / "logs"
        self.redis_note = ""
        self.with_metrics = "metrics" in cli_commands()
        self.worker_stop_s = self.settings.worker.shutdown_grace_s + WORKER_STOP_MARGIN_S
        self._out = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._force = False
        self._stopped = False

    # -- starting -------------------------------------------------------------------------

    def start(self) -> None:
        """Check ports, start every part in dependency order, then say where things are."""
        self._catch_signals()
        self.dropbox.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._preflight()
            self._redis()
            if self.settings.uses_local_emulator:
                self._emulator()
            me = _me()
            node = f"up-{os.getpid()}@{socket.gethostname()}"
            self._spawn("worker", [*me, "worker", "--hostname", node])
            self._spawn("watcher", [*me, "watch", str(self.dropbox)])
            self._spawn("beat", [*me, "beat"])
            # Flower asks the workers about themselves as it starts: let it find one.
            self._await("worker", lambda: self._worker_answers(node), 60)
            if self.with_flower:
                port = str(self.flower_port)
                self._spawn("flower", [*me, "flower", "--port", port, "--address", "127.0.0.1"])
            if self.with_metrics:
                self._spawn("metrics", [*me, "metrics", "--port", str(self.metrics_port)])
            if self.with_flower:
                self._await("flower", lambda: answers("127.0.0.1", self.flower_port), 30)
            if self.with_metrics:
                self._await("metrics", lambda: answers("127.0.0.1", self.metrics_port), 30)
        except BaseException:
            self.stop(timeout=10)
            raise
        self._banner()

    def _preflight(self) -> None:
        """Refuse to start, naming the way out, when a port we need is taken."""
        problems = []
        if self.settings.uses_local_emulator:
            host, port = self._emulator_address()
            base = self.settings.endpoint.removesuffix("/api.php")
            if not port_free(host, port) and not is_emulator(base):
                problems.append(
                    f"port {port} (the emulator, from MEDIAPOST_ENDPOINT) is used by another "
                    "program: stop it, or choose a free port, e.g. "
                    f"MEDIAPOST_ENDPOINT=http://127.0.0.1:{port + 1}/api.php"
                )
        if self.with_flower and not port_free("127.0.0.1", self.flower_port):
            problems.append(
                f"port {self.flower_port} (Flower) is in use: stop what uses it, choose a "
                f"free one with FLOWER_PORT={self.flower_port + 1}, or pass --no-flower"
            )
        if self.with_metrics and not port_free("127.0.0.1", self.metrics_port):
            problems.append(
                f"port {self.metrics_port} (metrics) is in use: stop what uses it or choose "
                f"a free one with MEDIAPOST_METRICS_PORT={self.metrics_port + 1}"
            )
        if problems:
            raise click.ClickException("cannot start:\n  - " + "\n  - ".join(problems))

    def _redis(self) -> None:
        url = self.settings.redis_url
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 6379
        problem = redis_problem(url)
        if problem is None:
            self.redis_note = f"{host}:{port} (already running)"
            return
        local = parts.scheme == "redis" and host in ("127.0.0.1", "localhost")
        binary = shutil.which("redis-server")
        if answers(host, port) or not local or binary is None:
            hint = (
                "  Install it (Debian/Ubuntu: sudo apt-get install redis-server) and run "
                "`mediapost up` again: it starts a private one. Or set REDIS_URL to a Redis "
                "you run."
                if binary is None and local and not answers(host, port)
                else "  Check REDIS_URL (host, port, password, database)."
            )
            raise click.ClickException(f"no usable Redis at {host}:{port}: {problem}\n{hint}")
        data = self.state_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data)]
        # Append-only so the queue and the upload ledger survive a restart of `up`.
        argv += ["--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction"]
        self._spawn("redis", argv)
        self._await("redis", lambda: redis_problem(url) is None, 15)
        self.redis_note = f"{host}:{port} (private, data in {data})"

    def _emulator_address(self) -> tuple[str, int]:
        parts = urlsplit(self.settings.endpoint)
        return parts.hostname or "127.0.0.1", parts.port or 80

    def _emulator(self) -> None:
        host, port = self._emulator_address()
        if not port_free(host, port):  # _preflight checked that it is an emulator
            click.echo(f"using the emulator already running on {host}:{port}")
            return
        data = self.state_dir / "emulator"
        self._spawn(
            "emulator",
            [*_me(), "emulator", "--host", host, "--port", str(port), "--data-dir", str(data)],
        )
        self._await("emulator", lambda: answers(host, port), 30)

    def _worker_answers(self, node: str) -> bool:
        from celery import Celery

        app = Celery("mediapost-up", broker=self.settings.redis_url, set_as_current=False)
        try:
            return bool(app.control.ping(destination=[node], timeout=1.0))
        finally:
            app.close()

    def _await(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        """Wait until `ready()`; fail with the child's last lines if it dies or takes too long."""
        child = self.children[name]
        if wait_until(lambda: self._stopping or child.proc.poll() is not None or ready(), timeout):
            if self._stopping:
                raise click.ClickException("interrupted while starting")
            if child.proc.poll() is None:
                return
            raise click.ClickException(self._crash_text(child))
        raise click.ClickException(
            f"{name} did not become ready in {timeout:.0f} s; its output is in {child.log_path}"
        )

    def _spawn(self, name: str, argv: list[str]) -> None:
        """Start a child in its own session (Ctrl-C reaches only us) with its output pumped."""
        log_path = self.log_dir / f"{name}.log"
        if log_path.exists():
            log_path.replace(log_path.with_name(f"{name}.log.1"))
        log = log_path.open("w", encoding="utf-8")
        proc = subprocess.Popen(
            argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child = Child(name, proc, log_path)
        assert proc.stdout is not None
        child.pump = threading.Thread(
            target=self._pump, args=(child, proc.stdout, log), name=f"up-{name}", daemon=True
        )
        child.pump.start()
        self.children[name] = child

    def _pump(self, child: Child, stream: IO[bytes], log: IO[str]) -> None:
        """Copy a child's lines to its log file and, prefixed with its name, to the terminal."""
        prefix = click.style(f"{child.name:<8} |", fg=COLOURS.get(child.name, "blue"))
        terminal = True
        with log, stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                log.write(line + "\n")
                log.flush()
                child.tail.append(line)
                if terminal:
                    try:
                        with self._out:
                            click.echo(f"{prefix} {line}")
                    except OSError:  # the terminal went away: keep the log file going
                        terminal = False
        self._wake.set()

    def _banner(self) -> None:
        base = self.settings.endpoint.removesuffix("/api.php")
        flower = f"http://127.0.0.1:{self.flower_port}/"
        login = (
            "login from FLOWER_BASIC_AUTH"
            if os.environ.get("FLOWER_BASIC_AUTH")
            else "no login: it listens on 127.0.0.1 only"
        )
        lines = [
            "",
            "MediaPost uploader is running.",
            f"  Drop photos into:  {self.dropbox.resolve()}",
            f"  Try it:            {command_hint()} samples {self.dropbox} -n 100",
        ]
        if self.settings.uses_local_emulator:
            lines.append(f"  Gallery:           {base}/  (the local MediaPost emulator)")
        if self.with_flower:
            lines.append(f"  Flower:            {flower}  ({login})")
        if self.with_metrics:
            lines.append(f"  Metrics:           http://127.0.0.1:{self.metrics_port}/metrics")
        if "status" in cli_commands():
            lines.append(f"  Status:            {command_hint()} status")
        lines += [
            f"  Redis:             {self.redis_note}",
            f"  Logs:              {self.log_dir}/<process>.log",
            "  Stop:              Ctrl-C (uploads in flight finish first)",
            "",
        ]
        with self._out:
            click.secho("\n".join(lines), fg="green", bold=True)

    # -- running and stopping ---------------------------------------------------------------

    def _catch_signals(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            # Only flags here: printing could deadlock on the output lock.
            self._force = self._stopping
            self._stopping = True
            self._wake.set()

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, on_signal)

    def wait(self) -> int:
        """Block until a child dies or we are told to stop, then stop everything (1 on a crash)."""
        crashed: Child | None = None
        try:
            while not self._stopping and crashed is None:
                # Woken by a signal or a child's end of output; the timeout catches a child
                # whose output another process still holds open.
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                crashed = self._exited()
            if crashed is not None:
                if crashed.pump is not None:
                    crashed.pump.join(timeout=2)  # its last lines, before the report
                with self._out:
                    click.secho(self._crash_text(crashed) + "\nstopping the others.", fg="red")
        finally:
            self.stop()
        return 0 if crashed is None else 1

    def _exited(self) -> Child | None:
        return next((c for c in self.children.values() if c.proc.poll() is not None), None)

    def _crash_text(self, child: Child) -> str:
        lines = "\n".join(f"    {line}" for line in child.tail)
        return (
            f"{child.name} stopped unexpectedly ({describe_exit(child.proc.returncode or 0)}). "
            f"Its last lines:\n{lines}\n  Full output: {child.log_path}"
        )

    def stop(self, timeout: float | None = None) -> None:
        """Stop in order (watcher first, Redis last); Ctrl-C again kills what is left."""
        self._stopping = True
        if self._stopped:
            return
        self._stopped = True
        for name in sorted(self.children, key=STOP_ORDER.index):
            grace = self.worker_stop_s if name == "worker" else OTHER_STOP_S
            self._stop_child(self.children[name], grace if timeout is None else min(grace, timeout))
        for child in self.children.values():
            if child.pump is not None:
                child.pump.join(timeout=5)
        if self.children:
            self._say("stopped.")

    def _stop_child(self, child: Child, grace: float) -> None:
        """SIGTERM (a warm shutdown for the worker), then SIGKILL to its group past `grace`."""
        proc = child.proc
        if proc.poll() is not None:
            return
        if child.name == "worker":
            self._say("stopping the worker: uploads in flight finish first (Ctrl-C: now)")
        proc.send_signal(signal.SIGTERM)
        if not wait_until(lambda: proc.poll() is not None or self._force, grace):
            self._say(f"{child.name} did not stop within {grace:.0f} s: killing it")
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def _say(self, message: str) -> None:
        with self._out:
            click.secho(message, fg="yellow")


def _me() -> list[str]:
    return [sys.executable, "-m", "mediapost"]


def command_hint() -> str:
    """How to type `mediapost` in this shell: the name if on PATH, else .venv/bin/mediapost."""
    script = Path(sys.executable).with_name("mediapost")
    found = shutil.which("mediapost")
    if found is not None and Path(found).resolve() == script.resolve():
        return "mediapost"
    with contextlib.suppress(ValueError):
        return str(script.relative_to(Path.cwd()))
    return str(script)


def cli_commands() -> set[str]:
    """The `mediapost` subcommands this installation has (other parts start only if present)."""
    from mediapost.cli import main

    return set(main.commands)
