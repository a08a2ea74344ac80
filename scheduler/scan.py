"""The rescan: a stat-only walk of a folder, handed out in batches so the loop keeps serving events.

It finds what events missed (watcher down, kernel queue overflow, observer restart). No file is
opened or hashed here; the loop asks Redis which of the found versions are still unsettled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from scheduler.filters import NameFilter, NameVerdict, loggable
from scheduler.readiness import EntryType, Stat, from_stat, is_inside, lstat
from worker import registry

if TYPE_CHECKING:
    from redis import Redis

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file whose name is a candidate."""

    relpath: str
    stat: Stat


@dataclass(frozen=True, slots=True)
class Odd:
    """An entry named like an image that will not be uploaded, and why (logged once)."""

    relpath: str
    reason: str
    outside_root: bool | None = None


def utf8_name(relpath: str) -> bool:
    """False for names that are not valid UTF-8 (they cannot be Redis keys or JSON as-is)."""
    if relpath.isascii():
        return True
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Scan:
    """One walk of a folder: `next_batch()` until `done`."""

    def __init__(
        self, root: str, names: NameFilter, *, batch_size: int = 500, max_visits: int = 5000
    ) -> None:
        self.root = root
        self.root_real = os.path.realpath(root)
        self.names = names
        self.batch_size = batch_size
        self.max_visits = max_visits
        self.done = False
        self.files = 0
        self._walk = self._entries()

    def next_batch(self) -> tuple[list[Found], list[Odd]]:
        """Up to `batch_size` candidates, stopping early after `max_visits` entries."""
        found: list[Found] = []
        odd: list[Odd] = []
        for visits, item in enumerate(self._walk, 1):
            if isinstance(item, Found):
                found.append(item)
            elif isinstance(item, Odd):
                odd.append(item)
            if len(found) >= self.batch_size or visits >= self.max_visits:
                break
        else:
            self.done = True
        self.files += len(found)
        return found, odd

    def _entries(self) -> Iterator[Found | Odd | None]:
        stack = [""]
        while stack:
            reldir = stack.pop()
            try:
                it = os.scandir(f"{self.root}/{reldir}" if reldir else self.root)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                log.warning("watch.scan_dir_failed", dir=loggable(reldir), error=exc.strerror)
                continue
            with it:
                for entry in it:
                    rel = f"{reldir}/{entry.name}" if reldir else entry.name
                    yield self._classify(entry, rel, stack)

    def _classify(self, entry: os.DirEntry[str], rel: str, stack: list[str]) -> Found | Odd | None:
        try:
            if entry.is_dir(follow_symlinks=False):
                if not self.names.skip_dir(rel):
                    stack.append(rel)
                    if self.names.looks_like_image(entry.name):
                        return Odd(rel, EntryType.DIRECTORY.value)
                return None
            if self.names.verdict(rel) is not NameVerdict.CANDIDATE:
                return None
            st = from_stat(entry.stat(follow_symlinks=False))
        except OSError:
            return None  # vanished meanwhile
        if not utf8_name(rel):
            return Odd(rel, "undecodable_name")
        if st.type is EntryType.FILE:
            return Found(rel, st)
        outside = None
        if st.type is EntryType.SYMLINK:
            outside = not is_inside(entry.path, self.root_real)
        return Odd(rel, st.type.value, outside)


class Pruner:
    """Drops enqueued-index entries of files that are gone, a slice per call."""

    def __init__(self, redis: Redis, watch_id: str, root: str, before_unix: float) -> None:
        self._redis = redis
        self._key = registry.enqueued_key(watch_id)
        self._root = root
        self._before = before_unix
        self._cursor = 0
        self.done = False
        self.removed = 0

    def step(self, count: int = 1000) -> None:
        """Look at about `count` entries; entries written after the scan began are kept."""
        cursor, fields = self._redis.hscan(self._key, self._cursor, count=count)
        gone = []
        assert isinstance(fields, dict)  # with values, HSCAN answers a mapping
        for raw_rel, raw in fields.items():
            rel = raw_rel.decode() if isinstance(raw_rel, bytes) else str(raw_rel)
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            at = text.rsplit(":", 1)[-1]
            old = at.isdigit() and int(at) < self._before
            if old and lstat(f"{self._root}/{rel}") is None:
                gone.append(rel)
        if gone:
            self._redis.hdel(self._key, *gone)
            self.removed += len(gone)
        self._cursor = int(cursor)
        self.done = self._cursor == 0
