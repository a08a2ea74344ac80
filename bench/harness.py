"""Pieces shared by the benchmarks: processes to start, files to make, resources to read."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def start(name: str, argv: list[str], env: dict[str, str], log: Path) -> Proc:
    """Start a child with its output in a log file."""
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return Proc(name, popen)


@contextmanager
def emulator(workdir: Path, latency_ms: float = 0.0) -> Iterator[tuple[str, Proc]]:
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


def make_files(directory: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """`count` distinct JPEG-shaped files of `size` bytes (valid header and end marker)."""
    directory.mkdir(parents=True, exist_ok=True)
    body = os.urandom(max(size - 8, 0))
    files = []
    for i in range(count):
        tag = (seed * 1_000_000 + i).to_bytes(8, "big")
        path = directory / f"f{seed}-{i:06}.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0" + tag + body[: max(size - 14, 0)] + b"\xff\xd9")
        files.append(path)
    return files


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
