"""The fault suite's stack: the worker harness plus the watcher and Flower as processes, and the
invariants every scenario ends with (nothing lost, nothing twice, albums, drained, no secret)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import httpx

from config.settings import WatchFolder
from tests.images import write_image
from tests.worker.harness import (
    SECRETS,
    ChildProcess,
    Stack,
    as_text,
    wait_for,
)
from worker import registry
from worker.ledger import content_key
from worker.messages import UPLOAD_QUEUE, UPLOAD_TASK

REGULAR_LIMIT = 60
# Fast timings for every process of a scenario; a scenario overrides what it tests.
FAST_ENV = {
    "MEDIAPOST_LOG_FORMAT": "json",
    "MEDIAPOST_LOG_LEVEL": "INFO",
    "MEDIAPOST_RETRY__INITIAL_WAIT_S": "0.05",
    "MEDIAPOST_RETRY__MAX_WAIT_S": "0.5",
    "MEDIAPOST_RETRY__MAX_TOTAL_S": "5",
    "MEDIAPOST_HTTP_TIMEOUT_S": "10",
    "MEDIAPOST_WORKER__RATE_WINDOW_S": "1",
    "MEDIAPOST_WORKER__PAUSE_RETRY_S": "0.5",
}
FLOWER_USER, FLOWER_PASSWORD = "ops", "flower-pw-for-tests"


def drop_file_capabilities_argv() -> list[str]:
    """A command prefix that runs a process as root without CAP_DAC_OVERRIDE/READ_SEARCH."""
    if shutil.which("setpriv") is None:
        raise RuntimeError("setpriv (util-linux) is needed to drop file capabilities")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def hold(seconds: float) -> None:
    """Let a fault last this long (its duration, not a synchronisation)."""
    until = time.monotonic() + seconds
    wait_for(lambda: time.monotonic() >= until, seconds + 1, f"{seconds}s of fault")


def sha256_file(path: Path) -> str:
    """The content hash of a file, as the emulator reports it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ledger_digest(path: Path) -> str:
    """The content digest of a file, as the worker's ledger keys it (BLAKE3)."""
    return blake3.blake3(path.read_bytes()).hexdigest()


@dataclass
class Row:
    """One line of the end-of-run table."""

    scenario: str
    files: int = 0
    uploaded: int = 0
    duplicates: int = 0
    set_aside: int = 0
    drain_s: float | None = None
    bound_s: float | None = None
    result: str = "?"


Process = ChildProcess  # watcher and Flower processes


@dataclass
class FaultStack(Stack):
    """Redis + emulator + workers + watcher (+ Flower), with the suite's invariants."""

    row: Row = field(default_factory=lambda: Row("?"))
    watchers: list[Process] = field(default_factory=list)
    flowers: list[Process] = field(default_factory=list)
    secrets: set[str] = field(default_factory=lambda: set(SECRETS))
    # watch id -> relpath -> sha256 of every file that must end uploaded or duplicate
    expected: dict[str, dict[str, str]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # sha256 -> the ledger's digest
    # watch id -> relpaths that must be set aside
    expected_aside: dict[str, set[str]] = field(default_factory=dict)
    folders: dict[str, WatchFolder] = field(default_factory=dict)
    skipped: set[Path] = field(default_factory=set)  # never queued (links, FIFOs, empty)
    fault_ended_at: float | None = None
    first_drop_at: float | None = None

    # Processes

    def watch_folder(self, name: str, **options: Any) -> WatchFolder:
        """A drop folder for the watcher (published by the watcher itself when it starts)."""
        options.setdefault("quiet_period_s", 0.3)
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return WatchFolder(path=path, **options)

    def write_config(self, folders: Iterable[WatchFolder], rescan_s: float) -> Path:
        """A TOML config with the watch folders and the watcher's timings."""
        lines = ["[watcher]", f"rescan_interval_s = {rescan_s}", ""]
        for f in folders:
            lines += [
                "[[watch]]",
                f"path = {json.dumps(str(f.path))}",
                f"id = {json.dumps(f.id)}",
                f"quiet_period_s = {f.quiet_period_s}",
                f"after_upload = {json.dumps(f.after_upload)}",
                f"album_mode = {json.dumps(f.album_mode)}",
                "",
            ]
        path = self.root / "mediapost.toml"
        path.write_text("\n".join(lines))
        return path

    def start_watcher(self, *folders: WatchFolder, rescan_s: float = 60.0, **env: str) -> Process:
        """`mediapost watch` on these folders; waits for the end of its start-up scan."""
        config = self.write_config(folders, rescan_s)
        n = len(self.watchers)
        log_path = self.root / f"watcher-{n}.log"
        full_env = {**os.environ, **self.env, **env, "MEDIAPOST_CONFIG": str(config)}
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mediapost", "watch"],
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        watcher = Process(proc, log_path)
        self.watchers.append(watcher)
        wait_for(
            lambda: not watcher.alive() or self._rescans(watcher) >= len(folders),
            30,
            "the watcher's start-up scan",
        )
        assert watcher.alive(), log_path.read_text()
        return watcher

    @staticmethod
    def _rescans(watcher: Process) -> int:
        return sum(1 for e in watcher.lines() if e.get("event") == "watch.rescan_done")

    def start_flower(self, port: int) -> Process:
        """`mediapost flower` with basic auth, on this port; waits until it answers."""
        log_path = self.root / "flower.log"
        env = {
            **os.environ,
            **self.env,
            "FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{FLOWER_PASSWORD}",
            "FLOWER_PERSISTENT": "False",
        }
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mediapost", "flower", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        flower = Process(proc, log_path)
        self.flowers.append(flower)

        def answers() -> bool:
            assert flower.alive(), log_path.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_for(answers, 60, "Flower to answer", step=0.2)
        return flower

    def stop(self) -> None:
        """Stop every process this stack started."""
        for p in [*self.watchers, *self.flowers]:
            p.stop()
        super().stop()

    # Files

    def drop_images(
        self, folder: WatchFolder, count: int, seed: int, prefix: str = "img", suffix: str = "jpg"
    ) -> list[Path]:
        """`count` distinct small images, each written atomically, all expected to upload."""
        paths = [
            write_image(folder.path / f"{prefix}{i:04}.{suffix}", seed=seed + i)
            for i in range(count)
        ]
        self.expect(folder, paths)
        return paths

    def expect(self, folder: WatchFolder, paths: Iterable[Path]) -> None:
        """These files must end uploaded (or as a duplicate of an upload)."""
        if self.first_drop_at is None:
            self.first_drop_at = time.monotonic()
        self.folders[folder.id] = folder
        mine = self.expected.setdefault(folder.id, {})
        for p in paths:
            sha = mine[str(p.relative_to(folder.path))] = sha256_file(p)
            self.digests[sha] = ledger_digest(p)

    def expect_set_aside(self, folder: WatchFolder, paths: Iterable[Path]) -> None:
        """These files must end set aside (moved to .failed/ with a .why.txt)."""
        self.folders[folder.id] = folder
        mine = self.expected_aside.setdefault(folder.id, set())
        mine.update(str(p.relative_to(folder.path)) for p in paths)

    def expect_skipped(self, paths: Iterable[Path]) -> None:
        """These entries must never be queued (the scenario checks the watcher's reasons)."""
        self.skipped.update(paths)

    # Progress

    def settled(self) -> int:
        """How many expected files have a final outcome for the version on disk now."""
        done = 0
        for wid, folder in self.folders.items():
            raw = self.redis.hgetall(registry.files_key(wid))
            wanted = set(self.expected.get(wid, {})) | self.expected_aside.get(wid, set())
            for rel in wanted:
                value = raw.get(rel)
                if value is None:
                    continue
                outcome = registry.FileOutcome.decode(value)
                try:
                    st = (folder.path / rel).stat()
                except FileNotFoundError:  # moved aside (or away): any final outcome
                    done += outcome.outcome in registry.FINAL_OUTCOMES
                    continue
                done += outcome.is_final_for(st.st_size, st.st_mtime_ns)
        return done

    def total_expected(self) -> int:
        """How many files the scenario dropped that must reach an outcome."""
        return sum(len(v) for v in self.expected.values()) + sum(
            len(v) for v in self.expected_aside.values()
        )

    def live_claims(self) -> list[str]:
        """Content records still claimed under a lease that has not run out."""
        now_ms = time.time() * 1000
        stuck = []
        for key in self.redis.scan_iter(match="mp:content:*", count=1000):
            state, lease = self.redis.hmget(key, "state", "lease_until")
            if state == "claimed" and float(lease or 0) > now_ms:
                stuck.append(key)
        return stuck

    def drained(self) -> bool:
        """Everything settled, nothing queued or unacknowledged, no live claim."""
        return (
            self.settled() >= self.total_expected()
            and self.redis.llen(UPLOAD_QUEUE) == 0
            and self.redis.hlen("unacked") == 0
            and not self.live_claims()
        )

    def fault_over(self) -> None:
        """Mark the end of the fault: time to drain is measured from here."""
        self.fault_ended_at = time.monotonic()

    def wait_drained(self, bound_s: float) -> float:
        """Wait until drained; fail past `bound_s` seconds after the fault ended.

        Without a fault that ends (bad input, load), the clock starts at the first drop.
        """
        if self.fault_ended_at is None:
            self.fault_ended_at = self.first_drop_at or time.monotonic()
        self.row.bound_s = bound_s
        remaining = bound_s - (time.monotonic() - self.fault_ended_at)
        try:
            wait_for(self.drained, max(remaining, 0.1), "the stack to drain", step=0.1)
        except AssertionError:
            raise AssertionError(
                f"not drained within {bound_s}s: settled {self.settled()}/"
                f"{self.total_expected()}, queued {self.redis.llen(UPLOAD_QUEUE)}, "
                f"unacked {self.redis.hlen('unacked')}, live claims {self.live_claims()[:3]}"
            ) from None
        took = time.monotonic() - self.fault_ended_at
        self.row.drain_s = took
        print(f"[{self.row.scenario}] drained in {took:.1f}s (bound {bound_s}s)")
        return took

    def api_calls(self) -> int:
        """How many API calls (any method) the emulator has answered so far."""
        return sum(self.inspect()["counters"]["requests"].values())

    def our_photos(self) -> list[dict[str, Any]]:
        """Photos our service uploaded (not the admin's placeholders)."""
        return [p for p in self.inspect()["photos"] if not p["placeholder"]]

    # Invariants

    def check_invariants(self, *, placeholders: int = 0, extra_albums: int = 0) -> None:
        """Nothing lost, nothing twice, albums within limits, drained, no secret anywhere.

        `placeholders`: photos others put into our albums (they count towards the limit);
        `extra_albums`: albums the scenario itself makes necessary beyond ceil(N/60).
        """
        snapshot = self.inspect()
        photos = [p for p in snapshot["photos"] if not p["placeholder"]]
        by_sha = Counter(p["sha256"] for p in photos)
        self._check_nothing_lost(photos)
        twice = {sha: n for sha, n in by_sha.items() if n > 1}
        assert not twice, f"contents stored more than once: {twice}"
        wanted = {sha for files in self.expected.values() for sha in files.values()}
        stray = set(by_sha) - wanted
        assert not stray, f"{len(stray)} photos at the server that no eligible file explains"
        self._check_albums(snapshot["albums"], len(wanted) + placeholders, extra_albums)
        self._check_set_aside()
        assert self.redis.llen(UPLOAD_QUEUE) == 0, "messages left in the queue"
        assert self.redis.hlen("unacked") == 0, "unacknowledged messages left"
        assert not self.live_claims(), "claims left under a live lease"
        self.check_no_secrets()
        self.row.files = self.total_expected() + len(self.skipped)
        lines = [e for w in self.watchers for e in w.lines()]
        queued = {e.get("file") for e in lines if e.get("event") == "watch.enqueued"}
        assert not {p.name for p in self.skipped} & queued, "a skipped entry was queued"

    def _check_nothing_lost(self, photos: list[dict[str, Any]]) -> None:
        stored = {p["pid"]: p for p in photos}
        uploaded = duplicates = 0
        for wid, files in self.expected.items():
            outcomes = {
                as_text(k): registry.FileOutcome.decode(as_text(v))
                for k, v in self.redis.hgetall(registry.files_key(wid)).items()
            }
            for rel, sha in files.items():
                got = outcomes.get(rel)
                assert got is not None, f"{wid}/{rel!r}: no outcome (lost)"
                assert got.outcome in ("uploaded", "duplicate"), f"{wid}/{rel!r}: {got.outcome}"
                digest = self.digests[sha]
                assert got.digest == digest, f"{wid}/{rel!r}: recorded for another content"
                uploaded += got.outcome == "uploaded"
                duplicates += got.outcome == "duplicate"
                record = {
                    as_text(k): as_text(v)
                    for k, v in self.redis.hgetall(content_key(digest)).items()
                }
                assert record.get("state") == "uploaded", f"{rel!r}: ledger {record}"
                assert record.get("pid") and record.get("aid") and record.get("owner"), record
                photo = stored.get(record["pid"])
                assert photo is not None, f"{rel!r}: pid {record['pid']} is not at the server"
                assert photo["sha256"] == sha and photo["aid"] == record["aid"], (rel, photo)
        self.row.uploaded, self.row.duplicates = uploaded, duplicates

    def _check_albums(self, albums: list[dict[str, Any]], contents: int, extra: int) -> None:
        for album in albums:
            assert album["size"] <= album["limit"], f"album over its limit: {album}"
        created = [a for a in albums if not a["is_default"]]
        needed = math.ceil(contents / REGULAR_LIMIT) + extra
        assert len(created) <= needed, (
            f"{len(created)} albums created for {contents} photos (at most {needed}): "
            + ", ".join(f"{a['name']}={a['size']}" for a in created)
        )

    def _check_set_aside(self) -> None:
        aside = 0
        for wid, rels in self.expected_aside.items():
            raw = self.redis.hgetall(registry.files_key(wid))
            for rel in rels:
                assert rel in raw, f"{rel!r}: no outcome"
                assert registry.FileOutcome.decode(raw[rel]).outcome == "set_aside", raw[rel]
                aside += 1
        self.row.set_aside = aside

    # Secrets

    def log_files(self) -> list[Path]:
        """Every log file the scenario's processes wrote."""
        return sorted(self.root.rglob("*.log"))

    def check_no_secrets(self) -> None:
        """No secret in any log file, in any Redis key or value, or in a task's arguments."""
        for path in self.log_files():
            data = path.read_bytes()
            for secret in self.secrets:
                assert secret.encode() not in data, f"{secret!r} leaked into {path.name}"
        for where, text in self.redis_texts():
            for secret in self.secrets:
                assert secret not in text, f"{secret!r} leaked into Redis: {where}"

    def redis_texts(self) -> Iterator[tuple[str, str]]:
        """Every key and value in the database, kombu message bodies decoded."""
        for key, text in self.redis_values():
            yield key, text
            yield key, decode_message(text)

    def task_kwargs_seen(self) -> list[dict[str, Any]]:
        """The kwargs of every upload message in the queue or unacknowledged right now."""
        raws = [
            as_text(raw)
            for raw in [*self.redis.lrange(UPLOAD_QUEUE, 0, -1), *self.redis.hvals("unacked")]
        ]
        found = []
        for raw in raws:
            message = _message(raw)
            if message is not None and message.get("headers", {}).get("task") == UPLOAD_TASK:
                found.append(message_kwargs(raw))
        return found


def _message(raw: str) -> dict[str, Any] | None:
    """A kombu message from the queue (a JSON object) or the unacked hash ([message, …])."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if isinstance(message, list) and message:
        message = message[0]
    if not isinstance(message, dict) or "body" not in message:
        return None
    return message


def _body(message: dict[str, Any]) -> str:
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        return base64.b64decode(body).decode(errors="replace")
    return str(body)


def decode_message(raw: str) -> str:
    """Headers and decoded body of a kombu message, or '' if the value is not one."""
    message = _message(raw)
    if message is None:
        return ""
    return json.dumps(message.get("headers", {})) + _body(message)


def message_kwargs(raw: str) -> dict[str, Any]:
    """The kwargs of one upload message (protocol 2 body: [args, kwargs, embed])."""
    message = _message(raw)
    if message is None:
        raise ValueError("not a kombu message")
    _args, kwargs, _embed = json.loads(_body(message))
    return dict(kwargs)
