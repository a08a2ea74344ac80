"""What the benchmark reads around each phase: CPU per component, peak memory, Redis counters."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis as redis_lib

from bench.harness import cpu_seconds, peak_rss_mb, reset_peak_rss

Pids = Callable[[], list[int]]
_MONITOR_LINE = re.compile(rb'^\+\d+\.\d+ \[\d+ (\S+)\] "([^"]+)"')


@dataclass
class Components:
    """The processes of a run by component name: watcher, worker, redis, emulator."""

    groups: dict[str, Pids]

    def cpu(self) -> dict[str, float]:
        """utime + stime of every component now (seconds)."""
        return {name: cpu_seconds(pids()) for name, pids in self.groups.items()}

    def reset_peaks(self) -> None:
        """Start a new VmHWM window for every process."""
        for pids in self.groups.values():
            for pid in pids():
                reset_peak_rss(pid)

    def peaks_mb(self) -> dict[str, float]:
        """VmHWM per component (the largest process of the group, in MB)."""
        return {
            name: max((peak_rss_mb(pid) for pid in pids()), default=0.0)
            for name, pids in self.groups.items()
        }


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each component used between two readings."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


def command_calls(client: redis_lib.Redis) -> int:
    """Commands the server executed so far (INFO commandstats, our own INFO/CONFIG left out)."""
    stats = client.info("commandstats")
    ours = ("cmdstat_info", "cmdstat_config")
    return sum(int(v["calls"]) for k, v in stats.items() if not k.startswith(ours))


class Monitor:
    """Counts commands by origin (a client, or `lua` inside a script) with MONITOR, on a socket.

    MONITOR slows Redis down, so it runs only in its own untimed accounting pass.
    """

    def __init__(self, host: str, port: int) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._sock = socket.create_connection((host, port), timeout=5)
        self._sock.sendall(b"MONITOR\r\n")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = self._sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            *lines, buffer = (buffer + data).split(b"\r\n")
            for line in lines:
                match = _MONITOR_LINE.match(line)
                if match:
                    origin = "lua" if match.group(1) == b"lua" else "client"
                    self.counts[(origin, match.group(2).decode().upper())] += 1

    def stop(self) -> Counter[tuple[str, str]]:
        """Stop reading; the counts by (origin, command)."""
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
        return self.counts


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class OtherLoad:
    """How much of the machine processes other than the benchmark's used, from now on."""

    def __init__(self, components: Components | None = None) -> None:
        self.components = components
        self.busy0, self.own0, self.wall0 = machine_busy_s(), self._ours(), time.monotonic()

    def _ours(self) -> float:
        running = sum(self.components.cpu().values()) if self.components else 0.0
        return own_cpu_s() + running

    def share(self) -> float:
        """Their CPU ÷ (wall time x cores): of this process, its waited-for children, and the
        components still running (their CPU is not in this process's children times yet)."""
        others = (machine_busy_s() - self.busy0) - (self._ours() - self.own0)
        return max(others, 0.0) / ((time.monotonic() - self.wall0) * (os.cpu_count() or 1))
