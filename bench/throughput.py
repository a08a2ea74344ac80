"""Throughput, latency and cost of the whole service next to its baselines, in one run (issue 7).

Starts, as subprocesses, a private redis-server (no persistence: every command and CPU tick in
it is the service's), the emulator (`--discard-bytes --no-hash`: it parses and counts every byte
but stores and hashes none), one worker (threads pool, concurrency N) and the watcher. For
200 KB, 4 MB and 25 MB files, at 0 and 50 ms of added emulator latency, it runs on the same
files: (2) the naive floor once, then R rounds of (1) the raw limit, (3) the Celery path and the
full service (files renamed into the watched folder), in rotating order; rates are medians of
the rounds. Then a trickle (4 MB, 5/s, written and closed in the folder) for latency, and an
untimed MONITOR pass that splits Redis commands into those clients send and those run in Lua.

    .venv/bin/python bench/throughput.py [--quick] [--big] [--concurrency 8] [--json PATH]

Full: 600 x 200 KB, 300 x 4 MB, 96 x 25 MB per latency, 3 rounds, naive floor on the first
200 / 100 / 96 (~5 min). --quick: 200 / 60 / 24, 1 round, naive 60 / 30 / 24 (~1 min).
--big adds 3 x 200 MB through the service, to see a worker's memory against file size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import fields, is_dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baselines import DirectEnqueue
from bench.harness import emulator, redis_server
from bench.meters import Components, OtherLoad
from bench.report import Results, size_label, table, targets
from bench.scenarios import (
    Bench,
    Cell,
    big_files,
    median_rate,
    redis_accounting,
    run_cell,
    trickle,
)
from bench.stack import DIRECT_ID, start_service
from config.settings import WatchFolder
from worker import registry

SIZES = (200_000, 4_000_000, 25_000_000)
# size: (files, naive floor files); rounds
FULL = {200_000: (600, 200), 4_000_000: (300, 100), 25_000_000: (96, 96)}
QUICK = {200_000: (200, 60), 4_000_000: (60, 30), 25_000_000: (24, 24)}
FULL_ROUNDS, QUICK_ROUNDS = 3, 1
LATENCIES = (0.0, 50.0)
TRICKLE_SIZE, TRICKLE_RATE = 4_000_000, 5.0
EMULATOR_FLAGS = ("--discard-bytes", "--no-hash")


def machine() -> str:
    """CPU model, cores, load average: what the figures were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} × {model}, Python {platform.python_version()}, load {load}"


def run(args: argparse.Namespace, workdir: Path) -> Results:
    """Start the processes, run every scenario, stop everything; return the figures."""
    counts = QUICK if args.quick else FULL
    rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    with (
        redis_server(workdir) as (redis_url, redis_proc),
        emulator(workdir, 0.0, EMULATOR_FLAGS) as (endpoint, emu),
    ):
        service = start_service(workdir, endpoint, redis_url, args.concurrency)
        direct = DirectEnqueue(redis_url, service.direct)
        components = Components(
            {
                "watcher": service.watcher_pids,
                "worker": service.worker_pids,
                "redis": lambda: [redis_proc.popen.pid],
                "emulator": lambda: [emu.popen.pid],
            }
        )
        bench = Bench(workdir, endpoint, redis_url, service, components, direct, args.concurrency)
        client = bench.redis()
        registry.publish_watch_folder(client, WatchFolder(path=service.direct, id=DIRECT_ID))
        client.close()
        try:
            cells = []
            for latency in LATENCIES:
                for size in SIZES:
                    count, naive = counts[size]
                    cells.append(run_cell(bench, size, latency, count, naive, rounds))
                    _progress(cells[-1])
            seconds = 5.0 if args.quick else 12.0
            trickles = [
                trickle(bench, latency, TRICKLE_SIZE, TRICKLE_RATE, seconds, watch=latency == 0)
                for latency in LATENCIES
            ]
            uploads = 50 if args.quick else 100
            accounting = redis_accounting(bench, SIZES[0], uploads)
            big = big_files(bench, 200_000_000, 3) if args.big else None
            problems = service.events.problems
        finally:
            direct.close()
            service.stop()
    if problems:
        print(f"warnings in the service's logs: {len(problems)}; first: {problems[0]}")
    quiet = WatchFolder(path=workdir).quiet_period_s
    return Results(cells, trickles, accounting, uploads, big, args.concurrency, quiet)


def _progress(cell: Cell) -> None:
    """One line per finished cell on stderr, so a long run shows it is alive."""
    print(
        f"  {size_label(cell.size)} @ {cell.latency_ms:g} ms: service "
        f"{median_rate(cell.service):.1f}/s, raw {median_rate(cell.raw):.1f}/s",
        file=sys.stderr,
        flush=True,
    )


def _jsonable(value: object) -> object:
    """The results as JSON values: MONITOR counts are keyed by (origin, command) tuples."""
    if is_dataclass(value) and not isinstance(value, type):  # not asdict: it breaks Counters
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {" ".join(k) if isinstance(k, tuple) else k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def main() -> None:
    """Run, then print the table and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer files, 1 round (~1 min)")
    parser.add_argument("--big", action="store_true", help="also upload 3 x 200 MB files")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads = raw threads")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    began, before, others = time.monotonic(), machine(), OtherLoad()
    workdir = Path(tempfile.mkdtemp(prefix="mediapost-throughput-"))
    try:
        results = run(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    counts = QUICK if args.quick else FULL
    rounds = QUICK_ROUNDS if args.quick else FULL_ROUNDS
    print(f"\nbench/throughput.py{' --quick' if args.quick else ''}{' --big' if args.big else ''}")
    print(f"machine at start: {before}")
    print(f"machine at end:   {machine()}")
    print(
        f"other processes (not this benchmark's) used {others.share() * 100:.0f}% of the "
        "machine's CPU during the run"
    )
    print(
        "files per latency: "
        + ", ".join(f"{n} × {size_label(s)} (naive {k})" for s, (n, k) in counts.items())
        + f"; {rounds} round(s); worker: threads, concurrency {args.concurrency}; "
        f"emulator {' '.join(EMULATOR_FLAGS)}; run time {time.monotonic() - began:.0f} s\n"
    )
    print(table(results))
    print()
    for line in targets(results):
        print(f"- {line}")
    if args.json:
        args.json.write_text(json.dumps(_jsonable(results), indent=1))


if __name__ == "__main__":
    main()
