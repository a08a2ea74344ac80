"""Which worker pool and concurrency should be the default? Measure it.

Runs the real worker (`mediapost worker`) against the emulator (a subprocess) with 0 and 50 ms
of added latency, for several pool/concurrency pairs, on the same files, and prints photos/s,
the worker's peak memory (all its processes) and its CPU-ms per photo.

    .venv/bin/python bench/pool_choice.py [--files 400] [--size 200000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery import Celery

from bench.harness import (
    PYTHON,
    cpu_seconds,
    emulator,
    flush,
    make_files,
    peak_rss_mb,
    set_latency,
    start,
    wait_for,
)
from config.settings import WatchFolder
from worker import registry
from worker.messages import UPLOAD_QUEUE, UPLOAD_TASK, UploadRequest

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
CONFIGS = [("threads", 8), ("prefork", 2), ("prefork", 8), ("threads", 32)]


def run_one(
    url: str, workdir: Path, pool: str, concurrency: int, files: int, size: int, seed: int
) -> dict[str, float]:
    """Upload `files` new files with one worker configuration; return its figures."""
    redis = flush(REDIS_URL)
    folder = WatchFolder(path=workdir / f"drop-{seed}", album_mode="default")
    paths = make_files(folder.path, files, size, seed=seed)
    registry.publish_watch_folder(redis, folder)
    env = {
        **os.environ,
        "MEDIAPOST_ENDPOINT": url,
        "REDIS_URL": REDIS_URL,
        "MEDIAPOST_LOG_LEVEL": "INFO",
        "MEDIAPOST_LOG_FORMAT": "json",
        "MEDIAPOST_STATE_DIR": str(workdir / "state"),
        "MEDIAPOST_WORKER__POOL": pool,
        "MEDIAPOST_WORKER__CONCURRENCY": str(concurrency),
    }
    worker = start("worker", [PYTHON, "-m", "mediapost", "worker"], env, workdir / "w.log")
    try:
        wait_for(lambda: b"ready" in (workdir / "w.log").read_bytes(), 60, "worker ready")
        producer = Celery("bench", broker=REDIS_URL)
        producer.conf.update(task_serializer="json")
        cpu0 = cpu_seconds(worker.pids())
        t0 = time.monotonic()
        for path in paths:
            st = path.stat()
            producer.send_task(
                UPLOAD_TASK,
                kwargs=UploadRequest(folder.id, str(path), st.st_size, st.st_mtime_ns).to_kwargs(),
                queue=UPLOAD_QUEUE,
            )
        key = registry.files_key(folder.id)
        wait_for(lambda: redis.hlen(key) >= files, 600, "uploads", step=0.01)
        elapsed = time.monotonic() - t0
        pids = worker.pids()
        cpu = cpu_seconds(pids) - cpu0
        rss = sum(peak_rss_mb(p) for p in pids)
    finally:
        worker.stop()
    return {"photos_s": files / elapsed, "rss_mb": rss, "cpu_ms": cpu * 1000 / files}


def main() -> None:
    """Print one row per latency and configuration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--size", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with emulator(workdir) as (url, _emu):
            print(
                f"{'latency':>8} {'pool':>8} {'conc':>5} {'photos/s':>9} {'RSS MB':>7} "
                f"{'CPU ms/photo':>13}"
            )
            seed = 0
            for latency in (50.0, 0.0):
                set_latency(url, latency)
                for pool, concurrency in CONFIGS:
                    seed += 1
                    row = run_one(url, workdir, pool, concurrency, args.files, args.size, seed)
                    print(
                        f"{latency:>6.0f}ms {pool:>8} {concurrency:>5} "
                        f"{row['photos_s']:>9.1f} {row['rss_mb']:>7.0f} {row['cpu_ms']:>13.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
