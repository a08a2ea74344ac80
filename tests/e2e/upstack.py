"""`mediapost up` as a real subprocess: start it, read its output, find and stop its children."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from mediapost.localstack import wait_until

BANNER = "MediaPost uploader is running."


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


poll = wait_until  # the same bounded poll the local stack uses


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of the processes whose environment has NAME=VALUE (how we find `up`'s children)."""
    wanted = f"{name}={value}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ:
            pids.append(int(entry.name))
    return pids


def cmdline(pid: int) -> list[str]:
    """A process's argv, or [] once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


class UpProcess:
    """One `mediapost up` run in `root` (its state dir marks every process it starts)."""

    def __init__(self, root: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.state_dir = root / "state"
        self.dropbox = root / "dropbox"
        self.env = {**env, "MEDIAPOST_STATE_DIR": str(self.state_dir)}
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mediapost", "up", "--dropbox", str(self.dropbox), *args],
            cwd=root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything `up` printed so far (its own lines and its children's, prefixed)."""
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> bool:
        """Wait until a line containing `text` is printed; False if `up` ends or time runs out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def banner_value(self, label: str) -> str:
        """The value after `label:` in the banner, e.g. banner_value('Gallery')."""
        for line in self.lines:
            if line.strip().startswith(f"{label}:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError(f"no {label!r} line in the banner:\n{self.output}")

    def children(self) -> list[int]:
        """Pids of the processes `up` started that are still alive."""
        mark = ("MEDIAPOST_STATE_DIR", str(self.state_dir))
        return [pid for pid in processes_with_env(*mark) if pid != self.proc.pid]

    def child(self, subcommand: str) -> int:
        """The pid of the child running `mediapost SUBCOMMAND`."""
        for pid in self.children():
            argv = cmdline(pid)
            if argv[1:4] == ["-m", "mediapost", subcommand]:
                return pid
        raise AssertionError(f"no `mediapost {subcommand}` child:\n{self.output}")

    def interrupt(self, timeout: float) -> int:
        """Ctrl-C (SIGINT) and wait for `up` to exit; returns its exit status."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def kill_everything(self) -> None:
        """Cleanup after a failed test: SIGKILL `up` and every child it left, by pid."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._reader.join(5)
