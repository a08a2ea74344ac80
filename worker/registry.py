"""What watchers and workers share in Redis besides the queue: folders and per-file outcomes.

The watcher publishes each watch folder's settings here (so a worker started elsewhere knows
the folder's target and post-upload action), and reads the per-file index to skip, on a rescan,
files that already have a final outcome. Stat data only: no hashing on the watcher's side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.settings import WatchFolder

if TYPE_CHECKING:
    from redis import Redis

PREFIX = "mp"
FINAL_OUTCOMES = frozenset({"uploaded", "duplicate", "set_aside", "skipped"})


def as_text(value: object) -> str:
    """Redis replies as str, whatever the client's decode_responses setting."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def watch_key(watch_id: str) -> str:
    """Key of a watch folder's published settings."""
    return f"{PREFIX}:watch:{watch_id}"


def files_key(watch_id: str) -> str:
    """Hash of relative path -> the last outcome recorded for that path."""
    return f"{PREFIX}:files:{watch_id}"


def enqueued_key(watch_id: str) -> str:
    """Hash of relative path -> the version (size:mtime) last enqueued, to enqueue once."""
    return f"{PREFIX}:enqueued:{watch_id}"


@dataclass(frozen=True)
class FileOutcome:
    """The last outcome of one path: which version of the file it was about, and what happened."""

    size: int
    mtime_ns: int
    outcome: str
    digest: str = ""  # worker/digest.py

    def encode(self) -> str:
        """Compact JSON for the index."""
        return json.dumps(
            {
                "size": self.size,
                "mtime_ns": self.mtime_ns,
                "outcome": self.outcome,
                "digest": self.digest,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: str | bytes) -> FileOutcome:
        """Parse what :meth:`encode` wrote."""
        data = json.loads(raw)
        return cls(
            int(data["size"]),
            int(data["mtime_ns"]),
            str(data["outcome"]),
            str(data.get("digest", "")),
        )

    def is_final_for(self, size: int, mtime_ns: int) -> bool:
        """True if this outcome settles exactly this version of the file."""
        return self.outcome in FINAL_OUTCOMES and self.size == size and self.mtime_ns == mtime_ns


def publish_watch_folder(redis: Redis, folder: WatchFolder) -> None:
    """Make a folder's settings known to every worker (no secrets in WatchFolder)."""
    redis.set(watch_key(folder.id), folder.model_dump_json())


def load_watch_folder(redis: Redis, watch_id: str) -> WatchFolder | None:
    """The published settings of a watch folder, or None if no watcher registered it."""
    raw = redis.get(watch_key(watch_id))
    return WatchFolder.model_validate_json(raw) if raw else None


def record_outcome(redis: Redis, watch_id: str, relpath: str, outcome: FileOutcome) -> None:
    """Remember the last outcome for a path (written by the worker)."""
    redis.hset(files_key(watch_id), relpath, outcome.encode())


def unsettled(
    redis: Redis, watch_id: str, files: Sequence[tuple[str, int, int]]
) -> list[tuple[str, int, int]]:
    """Of (relpath, size, mtime_ns) entries, those without a final outcome for that version."""
    if not files:
        return []
    raws = redis.hmget(files_key(watch_id), [f[0] for f in files])
    result = []
    for entry, raw in zip(files, raws, strict=True):
        if raw is None or not FileOutcome.decode(raw).is_final_for(entry[1], entry[2]):
            result.append(entry)
    return result


def forget_paths(redis: Redis, watch_id: str, relpaths: Iterable[str]) -> None:
    """Drop index entries (e.g. for `retry-failed`)."""
    paths = list(relpaths)
    if paths:
        redis.hdel(files_key(watch_id), *paths)
        redis.hdel(enqueued_key(watch_id), *paths)
