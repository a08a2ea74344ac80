"""The scenarios of bench/throughput.py: a size x latency cell, the trickle, Redis, big files.

A cell writes its files once, into the benchmark's own (published, unwatched) folder. The raw
limit and the Celery path read them there; the service gets them by `rename()` into the watched
folder under a new name, and they are moved back afterwards. Between repetitions the ledger's
content records are dropped, so the same bytes go through the whole upload path again instead
of being recognised as duplicates (and the run does not write gigabytes per repetition).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis as redis_lib

from bench.baselines import DirectEnqueue, Run, naive_floor, raw_limit
from bench.harness import fake_jpeg, make_files, set_latency
from bench.meters import Components, Monitor, OtherLoad, command_calls, cpu_delta
from bench.stack import WATCH_ID, Service
from worker.ledger import content_key

# watchdog holds every event for 0.5 s behind a move out of the tree (files given back).
MOVE_OUT_STALL_S = 1.0


@dataclass
class Bench:
    """Everything a scenario needs: the processes, where files go, the run's knobs."""

    workdir: Path
    endpoint: str
    redis_url: str
    service: Service
    components: Components
    direct: DirectEnqueue
    concurrency: int
    timeout_s: float = 600.0
    seed: int = 0

    def next_seed(self) -> int:
        """A fresh seed, so a new set of files has contents never uploaded before."""
        self.seed += 1
        return self.seed

    def redis(self) -> redis_lib.Redis:
        """A client of the benchmark's Redis (never used inside a timed phase)."""
        return redis_lib.Redis.from_url(self.redis_url)

    def forget_contents(self) -> None:
        """Drop the ledger's content records, so known bytes count as new ones again."""
        client = self.redis()
        keys = list(client.scan_iter(match=content_key("*"), count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
        client.close()


@dataclass
class Cell:
    """One image size at one API latency: repetitions of the service and its baselines."""

    size: int
    latency_ms: float
    count: int
    service: list[Run] = field(default_factory=list)
    raw: list[Run] = field(default_factory=list)
    direct: list[Run] = field(default_factory=list)
    naive: Run | None = None
    redis_calls: int = 0  # commands executed during the service phases
    peaks_mb: dict[str, float] = field(default_factory=dict)
    other_load: float = 0.0  # CPU used by processes not the benchmark's, ÷ (wall x cores)

    def raw_ratio(self) -> float:
        """Median over rounds of service ÷ raw limit, each pair measured minutes apart at most."""
        pairs = zip(self.service, self.raw, strict=False)
        return statistics.median(s.photos_s / r.photos_s for s, r in pairs) if self.raw else 0.0


def run_cell(
    bench: Bench, size: int, latency_ms: float, count: int, naive_count: int, reps: int
) -> Cell:
    """The naive floor once, then `reps` rounds of raw limit, Celery path and service."""
    set_latency(bench.endpoint, latency_ms)
    cell = Cell(size, latency_ms, count)
    comps = bench.components
    comps.reset_peaks()
    others = OtherLoad(comps)
    files = make_files(bench.service.direct, count, size, bench.next_seed())
    cell.naive = naive_floor(
        bench.endpoint, files[:naive_count], bench.workdir / "naive", bench.timeout_s
    )
    phases = ("raw", "direct", "service")
    for rep in range(reps):
        for phase in phases[rep % 3 :] + phases[: rep % 3]:  # rotate: no phase always first
            bench.forget_contents()
            if phase == "service":
                run, calls = service_burst(bench, files, f"r{rep}")
                cell.service.append(run)
                cell.redis_calls += calls
                continue
            cpu0 = comps.cpu()
            if phase == "raw":
                run = raw_limit(bench.endpoint, files, bench.concurrency)
                cell.raw.append(run)
            else:
                run = bench.direct.run(bench.service.events, files, bench.timeout_s)
                cell.direct.append(run)
            run.cpu_s.update(cpu_delta(cpu0, comps.cpu()))
    cell.peaks_mb = comps.peaks_mb()
    cell.other_load = others.share()
    for path in files:
        path.unlink()
    return cell


def service_burst(bench: Bench, files: list[Path], tag: str) -> tuple[Run, int]:
    """Rename the files into the watched folder (new names), time it to the last upload.

    The files are moved back where they were afterwards; returns the Redis commands executed.
    """
    drop, redis, comps = bench.service.drop, bench.redis(), bench.components
    names = [f"{tag}-{p.name}" for p in files]
    nbytes = sum(p.stat().st_size for p in files)
    calls0, cpu0 = command_calls(redis), comps.cpu()
    start = time.time()
    for path, name in zip(files, names, strict=True):
        path.rename(drop / name)
    times = bench.service.events.wait_uploaded(WATCH_ID, names, start, bench.timeout_s)
    cpu, calls = cpu_delta(cpu0, comps.cpu()), command_calls(redis) - calls0
    redis.close()
    for path, name in zip(files, names, strict=True):
        (drop / name).rename(path)
    time.sleep(MOVE_OUT_STALL_S)
    return Run(len(files), nbytes, start, max(times), cpu), calls


def median_rate(runs: list[Run]) -> float:
    """The median photos/s of some repetitions."""
    return statistics.median(r.photos_s for r in runs) if runs else 0.0


@dataclass
class Trickle:
    """Latency at low load: file closed -> enqueued, and file closed -> uploaded (seconds)."""

    latency_ms: float
    rate: float
    size: int
    to_enqueued: list[float]
    to_uploaded: list[float]
    redis: Counter[tuple[str, str]] | None = None  # MONITOR counts, if it was on


def monitor(bench: Bench) -> Monitor:
    """MONITOR on the benchmark's Redis (slows Redis a little: never in a throughput phase)."""
    url = urlsplit(bench.redis_url)
    return Monitor(url.hostname or "127.0.0.1", url.port or 6379)


def trickle(
    bench: Bench, latency_ms: float, size: int, rate: float, seconds: float, *, watch: bool
) -> Trickle:
    """Write and close files in the watched folder at a steady rate; stamp each close.

    With `watch`, MONITOR counts the Redis commands (files one by one: no batching anywhere).
    """
    set_latency(bench.endpoint, latency_ms)
    seed = bench.next_seed()
    spy = monitor(bench) if watch else None
    body = os.urandom(size)
    closed: dict[str, float] = {}
    next_at = time.monotonic()
    for i in range(max(1, round(rate * seconds))):
        name = f"t{seed}-{i:05}.jpg"
        with (bench.service.drop / name).open("wb") as fh:
            fh.write(fake_jpeg(body, seed * 1_000_000 + i, size))
        closed[name] = time.time()
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.monotonic()))  # pacing the writer, not syncing
    events = bench.service.events
    first = min(closed.values())
    uploaded = events.wait_uploaded(WATCH_ID, list(closed), first, bench.timeout_s)
    to_enqueued = [events.enqueued[(WATCH_ID, n)] - t for n, t in closed.items()]
    to_uploaded = [u - t for u, t in zip(uploaded, closed.values(), strict=True)]
    counts = spy.stop() if spy else None
    for name in closed:
        (bench.service.drop / name).unlink()
    return Trickle(latency_ms, rate, size, to_enqueued, to_uploaded, counts)


def redis_accounting(bench: Bench, size: int, count: int) -> Counter[tuple[str, str]]:
    """A burst with MONITOR on: commands per upload by origin (clients, or inside Lua)."""
    set_latency(bench.endpoint, 0.0)
    files = make_files(bench.workdir / "stage", count, size, bench.next_seed())
    spy = monitor(bench)
    try:
        service_burst(bench, files, "acct")
    finally:
        counts = spy.stop()
    shutil.rmtree(bench.workdir / "stage")
    return counts


@dataclass
class Big:
    """A few very large files through the service: does a worker's memory follow file size?"""

    size: int
    run: Run
    peaks_mb: dict[str, float]
    other_load: float


def big_files(bench: Bench, size: int, count: int) -> Big:
    """Upload `count` files of `size` bytes through the whole service at 0 ms latency."""
    set_latency(bench.endpoint, 0.0)
    files = make_files(bench.workdir / "stage", count, size, bench.next_seed())
    bench.components.reset_peaks()
    others = OtherLoad(bench.components)
    run, _ = service_burst(bench, files, "big")
    peaks = bench.components.peaks_mb()
    shutil.rmtree(bench.workdir / "stage")
    return Big(size, run, peaks, others.share())
