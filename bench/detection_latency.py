"""Detection latency of the watcher: file closed (or renamed) -> upload task in the Redis queue.

Runs the real watcher in a subprocess (own GIL, real inotify, real Celery producer) against a
dedicated Redis database, writes files at a steady rate, and pops the queue with BLPOP to stamp
each message's arrival. Scenarios:

  close-write        write + close in the folder (IN_CLOSE_WRITE)
  rename-in-place    write name.jpg.part in the folder, rename to name.jpg
  moved-in           write outside the tree, rename into the folder
  quiet-period       hard link into the folder (a create, no close): the stability rule;
                     the quiet period is subtracted from the latency
  +moves-to-.done    close-write while every queued file is renamed into <root>/.done
  +moves-out         close-write while every queued file is renamed out of the tree

    .venv/bin/python bench/detection_latency.py [--files 500] [--redis-url redis://…/14]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis as redis_lib

from worker.messages import UPLOAD_QUEUE

PAYLOAD = os.urandom(100 * 1024)


def serve(args: argparse.Namespace) -> None:
    """Child process: the watcher, logging JSON at INFO on stdout (as in production)."""
    import logging

    import structlog

    from config.settings import Settings, WatchFolder
    from scheduler.main import run_watcher
    from scheduler.options import WatcherOptions

    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    folder = WatchFolder(path=Path(args.serve), id="bench", quiet_period_s=args.quiet)
    settings = Settings(redis_url=args.redis_url, watch=[folder])
    run_watcher(settings, None, options=WatcherOptions(rescan_interval_s=3600))


class Consumer:
    """BLPOP the upload queue, stamp arrivals by path, optionally act on each file."""

    def __init__(self, url: str) -> None:
        self.client = redis_lib.Redis.from_url(url)
        self.arrived: dict[str, float] = {}
        self.after: Callable[[str], None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self.client.blpop([UPLOAD_QUEUE], timeout=0.2)
            if item is None:
                continue
            now = time.time()
            message = json.loads(item[1])
            _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            self.arrived.setdefault(kwargs["path"], now)
            if self.after is not None:
                self.after(kwargs["path"])

    def stop(self) -> None:
        """Stop consuming."""
        self._stop.set()
        self._thread.join(5)


def wait_all(consumer: Consumer, paths: list[str], timeout: float) -> None:
    """Wait (bounded) until every path has arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p in consumer.arrived for p in paths):
            return
        time.sleep(0.05)


def run_scenario(
    name: str,
    root: Path,
    scratch: Path,
    consumer: Consumer,
    n: int,
    interval_s: float,
    quiet_s: float,
) -> dict[str, Any]:
    """Drop n files one per interval; latency = arrival - closed (- quiet for that rule)."""
    tag = name.replace("+", "").replace(".", "")
    closed: dict[str, float] = {}
    scratch.mkdir(parents=True, exist_ok=True)
    subtract = quiet_s if name == "quiet-period" else 0.0
    next_at = time.monotonic()
    for i in range(n):
        final = root / f"{tag}-{i:04}.jpg"
        if name == "rename-in-place":
            part = root / f"{tag}-{i:04}.jpg.part"
            part.write_bytes(PAYLOAD)
            part.rename(final)
        elif name == "moved-in":
            src = scratch / final.name
            src.write_bytes(PAYLOAD)
            src.rename(final)
        elif name == "quiet-period":
            src = scratch / final.name
            src.write_bytes(PAYLOAD)
            os.link(src, final)
        else:
            final.write_bytes(PAYLOAD)
        closed[str(final)] = time.time()
        next_at += interval_s
        time.sleep(max(0.0, next_at - time.monotonic()))  # pacing the writer, not syncing
    wait_all(consumer, list(closed), timeout=30 + quiet_s)
    arrived = consumer.arrived
    lat = sorted((arrived[p] - t - subtract) * 1000 for p, t in closed.items() if p in arrived)
    return {"scenario": name, "n": len(lat), "missing": n - len(lat), "lat_ms": lat}


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def commandstats(client: redis_lib.Redis) -> dict[str, int]:
    """Server-wide call counters of the commands the watcher uses."""
    stats = client.info("commandstats")
    return {
        k.removeprefix("cmdstat_"): int(v["calls"])
        for k, v in stats.items()
        if k.removeprefix("cmdstat_") in {"hmget", "hset", "lpush", "hget"}
    }


def main() -> None:
    """Parent process: start the watcher, run the scenarios, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0, help="files per second")
    parser.add_argument("--quiet", type=float, default=0.5, help="quiet period (s)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    client = redis_lib.Redis.from_url(args.redis_url)
    if client.llen(UPLOAD_QUEUE):
        sys.exit(f"{UPLOAD_QUEUE} in {args.redis_url} is not empty; use a dedicated database")
    client.delete("mp:enqueued:bench", "mp:files:bench", "mp:watch:bench")
    base = Path(tempfile.mkdtemp(prefix="mediapost-bench-"))
    root = base / "drop"
    root.mkdir()
    (root / ".done").mkdir()
    outside = base / "outside-done"
    outside.mkdir()
    cmd = [sys.executable, __file__, "--serve", str(root), "--redis-url", args.redis_url]
    cmd += ["--quiet", str(args.quiet)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True).start()
    deadline = time.monotonic() + 30
    while not any("watch.rescan_done" in line for line in lines):
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit("the watcher did not start:\n" + "".join(lines))
        time.sleep(0.05)

    consumer = Consumer(args.redis_url)
    scenarios = [
        "close-write",
        "rename-in-place",
        "moved-in",
        "quiet-period",
        "+moves-to-.done",
        "+moves-out",
    ]
    results: list[dict[str, Any]] = []
    try:
        for name in scenarios:
            consumer.after = None
            if name == "+moves-to-.done":
                consumer.after = lambda p: os.rename(p, root / ".done" / Path(p).name)
            elif name == "+moves-out":
                consumer.after = lambda p: os.rename(p, outside / Path(p).name)
            before = commandstats(client)
            res = run_scenario(
                name,
                root,
                base / f"scratch-{len(results)}",
                consumer,
                args.files,
                1.0 / args.rate,
                args.quiet,
            )
            after = commandstats(client)
            res["redis_per_file"] = sum(after.values()) - sum(before.values())
            results.append(res)
    finally:
        consumer.stop()
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(base, ignore_errors=True)
        client.delete(UPLOAD_QUEUE, "mp:enqueued:bench", "mp:files:bench", "mp:watch:bench")
        client.delete(f"_kombu.binding.{UPLOAD_QUEUE}", f"_kombu.binding_permanent.{UPLOAD_QUEUE}")

    print(f"\ndetection latency, {args.files} files/scenario at {args.rate:g}/s, 100 KB each")
    print(f"quiet period {args.quiet} s (subtracted in quiet-period only); {args.redis_url}\n")
    head = f"{'scenario':18} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(head + f" {'redis cmds/file*':>17}")
    print("-" * len(head + " " * 18))
    for r in results:
        lat = r["lat_ms"]
        per_file = r["redis_per_file"] / max(1, r["n"])
        print(
            f"{r['scenario']:18} {r['n']:>5} {pct(lat, 0.5):8.2f} {pct(lat, 0.9):8.2f} "
            f"{pct(lat, 0.99):8.2f} {max(lat or [float('nan')]):8.2f} {per_file:17.2f}"
            + (f"  MISSING {r['missing']}" if r["missing"] else "")
        )
    print(
        "\n* HMGET/HGET/HSET/LPUSH calls per queued file, the publish (LPUSH) included;"
        "\n  server-wide counters, so other clients' traffic would count too."
    )


if __name__ == "__main__":
    main()
