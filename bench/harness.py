"""Pieces shared by the benchmarks: processes to start, files to make, resources to read."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis as redis_lib

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> None:
    """Bounded poll."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(step)


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (children that exited are not counted)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def peak_rss_mb(pid: int) -> float:
    """VmHWM of one process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Proc:
    """A started child process."""

    name: str
    popen: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        """The process and its children (prefork pool)."""
        return tree_pids(self.popen.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, argv: list[str], env: dict[str, str], log: Path) -> Proc:
    """Start a child with its output in a log file."""
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return Proc(name, popen)


@contextmanager
def emulator(
    workdir: Path, latency_ms: float = 0.0, extra: Sequence[str] = ()
) -> Iterator[tuple[str, Proc]]:
    """The emulator as a subprocess (so its CPU can be read apart); yields its API URL."""
    port = free_port()
    proc = start(
        "emulator",
        [
            PYTHON,
            "-m",
            "emulator",
            "--port",
            str(port),
            "--data-dir",
            str(workdir / "emu"),
            "--latency-ms",
            str(latency_ms),
            *extra,
        ],
        dict(os.environ),
        workdir / "emulator.log",
    )
    url = f"http://127.0.0.1:{port}/api.php"
    wait_for(lambda: _answers(port), 20, "the emulator")
    try:
        yield url, proc
    finally:
        proc.stop()


def set_latency(url: str, latency_ms: float) -> None:
    """Change the emulator's added latency at runtime."""
    admin = url.removesuffix("/api.php") + "/admin/faults"
    httpx.post(admin, json={"latency_ms": latency_ms}, timeout=10).raise_for_status()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def flush(redis_url: str) -> redis_lib.Redis:
    """An emptied benchmark database."""
    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    return client


def fake_jpeg(body: bytes, tag: int, size: int) -> bytes:
    """`size` bytes that pass as a JPEG (header and end marker), made distinct by `tag`."""
    return b"\xff\xd8\xff\xe0" + tag.to_bytes(8, "big") + body[: max(size - 14, 0)] + b"\xff\xd9"


def make_files(directory: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """`count` distinct JPEG-shaped files of `size` bytes (valid header and end marker)."""
    directory.mkdir(parents=True, exist_ok=True)
    body = os.urandom(max(size - 8, 0))
    files = []
    for i in range(count):
        path = directory / f"f{seed}-{i:06}.jpg"
        with path.open("wb") as fh:  # the same bytes as fake_jpeg, without building them
            fh.write(b"\xff\xd8\xff\xe0" + (seed * 1_000_000 + i).to_bytes(8, "big"))
            fh.write(memoryview(body)[: max(size - 14, 0)])
            fh.write(b"\xff\xd9")
        files.append(path)
    return files


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@contextmanager
def redis_server(workdir: Path, db: int = 11) -> Iterator[tuple[str, Proc]]:
    """A private redis-server without persistence, so its commands and CPU are ours alone."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    argv += ["no", "--dir", str(workdir)]
    proc = start("redis", argv, dict(os.environ), workdir / "redis.log")
    wait_for(lambda: _answers(port), 20, "redis-server")
    try:
        yield f"redis://127.0.0.1:{port}/{db}", proc
    finally:
        proc.stop()


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (clear_refs 5), so the next peak is this phase's own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def iso_to_unix(stamp: str) -> float:
    """A structlog ISO timestamp (UTC, `Z` or offset) as Unix seconds."""
    return datetime.fromisoformat(stamp).timestamp()


class JsonLog:
    """A JSON-lines log file read as it grows (the service's structlog output)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._rest = b""
        # Lines that begin like JSON but do not parse: two lines glued together, say; a
        # benchmark must say so rather than count the events in them as missing.
        self.broken: list[bytes] = []

    def read_new(self) -> list[dict[str, Any]]:
        """The complete JSON lines written since the last call (other lines are skipped)."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        events = []
        for line in lines:
            if line.startswith(b"{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    self.broken.append(line)
        return events
