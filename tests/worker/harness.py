"""A real stack for worker tests: the emulator over HTTP, Redis, and `mediapost worker`
subprocesses whose JSON log lines we read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis as redis_lib
from celery import Celery

from config.settings import WatchFolder
from worker import registry
from worker.messages import UPLOAD_QUEUE, UPLOAD_TASK, UploadRequest

SECRETS = ("demo-secret", "demo-session")


def as_text(value: object) -> str:
    """A reply of the tests' Redis clients (decode_responses=True): text, typed as such."""
    assert isinstance(value, str), f"expected text from Redis, got {type(value).__name__}"
    return value


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    """Bounded poll: return as soon as the predicate holds, fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def json_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a log file (other lines skipped)."""
    if not path.exists():
        return
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


@dataclass
class ChildProcess:
    """A `mediapost` subprocess (worker, watcher, Flower) and its log file."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Signal it (warm shutdown by default) and wait; SIGKILL if it does not go."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def lines(self) -> list[dict[str, Any]]:
        """Its JSON log lines so far."""
        return list(json_lines(self.log_path))


@dataclass
class WorkerProcess(ChildProcess):
    """One `mediapost worker` process and its log file."""

    def children(self) -> list[int]:
        """Pids of the pool's child processes (prefork)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []


@dataclass
class Stack:
    """The parts a worker test drives."""

    root: Path
    redis_url: str
    emulator_url: str
    redis: redis_lib.Redis
    env: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)
    _producer: Celery | None = None

    @property
    def admin(self) -> str:
        """Base URL of the emulator's admin endpoints."""
        return self.emulator_url.removesuffix("/api.php") + "/admin"

    def start_worker(
        self,
        concurrency: int = 4,
        pool: str = "threads",
        *,
        argv_prefix: tuple[str, ...] = (),
        environ: Mapping[str, str] | None = None,
        **env: str,
    ) -> WorkerProcess:
        """Start a worker subprocess (behind `argv_prefix`, if any) and wait until it is ready.

        Its environment adds `environ` (a shared set of settings) and then `env` to the stack's.
        """
        n = len(self.workers)
        log_path = self.root / f"worker-{n}.log"
        full_env = {
            **os.environ,
            **self.env,
            **(environ or {}),
            **env,
            "MEDIAPOST_WORKER__CONCURRENCY": str(concurrency),
            "MEDIAPOST_WORKER__POOL": pool,
        }
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    *argv_prefix,
                    *(sys.executable, "-m", "mediapost", "worker", "-n", f"w{n}-{os.getpid()}@%h"),
                ],
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        worker = WorkerProcess(proc, log_path)
        self.workers.append(worker)
        wait_for(
            lambda: proc.poll() is not None or b" ready" in log_path.read_bytes(),
            60,
            "the worker to be ready",
        )
        assert proc.poll() is None, log_path.read_text()
        return worker

    def folder(self, name: str, **options: Any) -> WatchFolder:
        """A watch folder under the test's root, published for the workers."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        folder = WatchFolder(path=path, **options)
        registry.publish_watch_folder(self.redis, folder)
        return folder

    def producer(self) -> Celery:
        """A producer-only Celery app, like the watcher's."""
        if self._producer is None:
            self._producer = Celery("test-producer", broker=self.redis_url)
            self._producer.conf.update(task_serializer="json", accept_content=["json"])
        return self._producer

    def enqueue(
        self, folder: WatchFolder, paths: Iterable[Path], countdown: float | None = None
    ) -> int:
        """Queue upload tasks by name, as the watcher does (or as a retry, with a countdown)."""
        n = 0
        for path in paths:
            st = path.stat()
            request = UploadRequest(folder.id, str(path), st.st_size, st.st_mtime_ns)
            self.producer().send_task(
                UPLOAD_TASK, kwargs=request.to_kwargs(), queue=UPLOAD_QUEUE, countdown=countdown
            )
            n += 1
        return n

    def outcomes(self, folder: WatchFolder) -> dict[str, registry.FileOutcome]:
        """The per-file outcomes the workers recorded."""
        raw = self.redis.hgetall(registry.files_key(folder.id))
        return {as_text(k): registry.FileOutcome.decode(as_text(v)) for k, v in raw.items()}

    def redis_values(self) -> Iterator[tuple[str, str]]:
        """Every text in the database as (key, text): the key itself, then each text it holds
        (a hash's fields and values alike)."""
        for key in map(as_text, self.redis.scan_iter(count=1000)):
            yield key, key
            kind = self.redis.type(key)
            values: Iterable[object]
            if kind == "string":
                values = [self.redis.get(key) or ""]
            elif kind == "hash":
                values = [x for kv in self.redis.hgetall(key).items() for x in kv]
            elif kind == "list":
                values = self.redis.lrange(key, 0, -1)
            elif kind == "set":
                values = self.redis.smembers(key)
            elif kind == "zset":
                values = self.redis.zrange(key, 0, -1)
            else:
                values = []
            for value in values:
                yield key, as_text(value)

    def wait_settled(self, folder: WatchFolder, count: int, timeout: float = 120) -> None:
        """Wait until `count` files of the folder have a final outcome."""
        wait_for(
            lambda: len(self.outcomes(folder)) >= count,
            timeout,
            f"{count} outcomes in {folder.id} (have {len(self.outcomes(folder))})",
            step=0.1,
        )

    def inspect(self) -> dict[str, Any]:
        """The emulator's inspection endpoint."""
        response = httpx.get(f"{self.admin}/inspect", timeout=10)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def post_admin(self, path: str, payload: dict[str, Any]) -> Any:
        """POST JSON to an emulator admin endpoint."""
        response = httpx.post(f"{self.admin}/{path}", json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON log line of every worker so far."""
        return [line for worker in self.workers for line in worker.lines()]

    def events(self, name: str) -> list[dict[str, Any]]:
        """Log lines with this event name."""
        return [line for line in self.log_lines() if line.get("event") == name]

    def queue_empty(self) -> bool:
        """No message waiting or unacknowledged."""
        return self.redis.llen(UPLOAD_QUEUE) == 0 and self.redis.hlen("unacked") == 0

    def stop(self) -> None:
        """Stop every worker."""
        for worker in self.workers:
            worker.stop()
