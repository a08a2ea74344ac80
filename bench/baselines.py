"""The baselines the service is compared with, run against the same emulator in the same run.

* raw limit: `MediaPostClient.upload` (the service's own multipart shape and streaming) over ONE
  shared httpx client from N threads, N = the service's concurrency: no queue, no hash, no Redis;
* naive floor: `bench/naive_floor.py` in its own process (poll every second, `httpx.post` per file);
* Celery path: upload tasks published straight to the queue (no watcher) for the real worker.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery

from bench.harness import PYTHON, ROOT
from bench.stack import DIRECT_ID, Events
from config.settings import DEMO_API_KEY, DEMO_COMMUNITY, DEMO_SECRET, DEMO_SESSION_KEY
from mediapost.client import MediaPostClient
from mediapost.credentials import Credentials
from worker.messages import UPLOAD_QUEUE, UPLOAD_TASK, UploadRequest

PER_ALBUM = 60
NAIVE_POLL_S = 1.0  # bench/naive_floor.py lists its folder once a second
DEMO = Credentials(
    api_key=DEMO_API_KEY, secret=DEMO_SECRET, session_key=DEMO_SESSION_KEY, community=DEMO_COMMUNITY
)


@dataclass
class Run:
    """One timed phase: photos and bytes moved between two wall-clock instants."""

    photos: int
    nbytes: int
    start: float
    end: float
    cpu_s: dict[str, float] = field(default_factory=dict)  # component -> CPU seconds used

    @property
    def wall(self) -> float:
        """Seconds from the first drop (or send) to the last upload."""
        return max(self.end - self.start, 1e-9)

    @property
    def photos_s(self) -> float:
        """Photos per second."""
        return self.photos / self.wall

    @property
    def mb_s(self) -> float:
        """Megabytes (10^6) per second."""
        return self.nbytes / 1e6 / self.wall


def make_albums(client: MediaPostClient, photos: int, tag: str) -> list[str]:
    """Enough albums for `photos` uploads, made before any clock starts."""
    return [client.create_album(f"{tag} {i}").aid for i in range(math.ceil(photos / PER_ALBUM))]


def raw_limit(endpoint: str, files: list[Path], concurrency: int) -> Run:
    """The ceiling of this client + emulator pair: N threads, one reused httpx client."""
    http = MediaPostClient.make_http_client(concurrency=concurrency)
    client = MediaPostClient(endpoint, DEMO, http=http)
    aids = make_albums(client, len(files), "raw")

    def one(i: int) -> None:
        path = files[i]
        client.upload(path, filename=path.name, content_type="image/jpeg", aid=aids[i // PER_ALBUM])

    try:
        with ThreadPoolExecutor(concurrency) as pool:
            cpu0, start = time.process_time(), time.time()
            list(pool.map(one, range(len(files))))
            end, cpu = time.time(), time.process_time() - cpu0
    finally:
        http.close()
    return Run(len(files), sum(p.stat().st_size for p in files), start, end, {"client": cpu})


def naive_floor(endpoint: str, files: list[Path], folder: Path, timeout: float) -> Run:
    """Start the naive poller, drop the files into its folder (hard links), wait for it."""
    folder.mkdir(parents=True, exist_ok=True)
    client = MediaPostClient(endpoint, DEMO)
    try:
        aids = make_albums(client, len(files), "naive")
    finally:
        client.close()
    argv = [PYTHON, str(ROOT / "bench" / "naive_floor.py"), str(folder), "--endpoint", endpoint]
    argv += ["--aids", ",".join(aids), "--count", str(len(files))]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the naive floor did not start")
        # Its polls are 1 s apart: drop half-way, the average wait for a file dropped any time.
        time.sleep(NAIVE_POLL_S / 2)
        start = time.time()
        for path in files:
            # A link appears atomically, like a rename; the original stays for the next phases.
            os.link(path, folder / path.name)
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder)  # the worker refuses hard-linked files: unlink before it runs
    if proc.returncode != 0:
        raise RuntimeError(f"the naive floor failed ({proc.returncode})")
    times = [json.loads(line)["t"] for line in out.splitlines() if line.startswith("{")]
    return Run(len(times), sum(p.stat().st_size for p in files), start, max(times))


class DirectEnqueue:
    """Publishes upload tasks by name, as the watcher does, for files the watcher never sees."""

    def __init__(self, redis_url: str, folder: Path) -> None:
        self.folder = folder
        self.app = Celery("bench-direct", broker=redis_url, set_as_current=False)
        self.app.conf.update(task_serializer="json", task_ignore_result=True)

    def run(self, events: Events, files: list[Path], timeout: float) -> Run:
        """Send one task per file (timed from the first send) and wait for every upload."""
        requests = []
        for path in files:
            st = path.stat()
            requests.append(UploadRequest(DIRECT_ID, str(path), st.st_size, st.st_mtime_ns))
        start = time.time()
        for request in requests:
            self.app.send_task(UPLOAD_TASK, kwargs=request.to_kwargs(), queue=UPLOAD_QUEUE)
        times = events.wait_uploaded(DIRECT_ID, [p.name for p in files], start, timeout)
        return Run(len(files), sum(r.size for r in requests), start, max(times))

    def close(self) -> None:
        """Release the producer's connections."""
        self.app.close()
