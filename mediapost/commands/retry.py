"""`mediapost retry-failed`: move set-aside files back into their folder, to be queued again.

A file the workers set aside sits in the folder's failed dir with a `NAME.why.txt` note.
Retrying moves it back to its place (same relative path), drops the note, and forgets its
entries in the per-file and enqueued indexes, so the watcher (or a backfill) sees a new file.
Its mtime survives the rename, so the version is the same one the index had forgotten.
An upload that was set aside because its outcome stayed in doubt also loses its recorded
intent: the operator who retries it has checked the gallery, so it is uploaded again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings, WatchFolder
from mediapost.commands.connections import CommandError
from worker import registry
from worker.disposal import SIDECAR_SUFFIX, free_name
from worker.ledger import Ledger

if TYPE_CHECKING:
    from redis import Redis


@dataclass(frozen=True)
class Returned:
    """One file moved back: where it is now and why it had been set aside."""

    watch_id: str
    relpath: str
    reason: str


@dataclass
class RetryReport:
    """What one retry did."""

    returned: list[Returned] = field(default_factory=list)
    intents_forgotten: int = 0
    notes_removed: int = 0  # notes whose file was no longer there
    problems: list[str] = field(default_factory=list)


def folders_to_retry(
    settings: Settings, redis: Redis, watch_id: str | None = None
) -> list[WatchFolder]:
    """Every folder known from the config or published by a watcher (or just the one asked)."""
    folders = {w.id: w for w in settings.watch}
    for raw in redis.scan_iter(match=registry.watch_key("*"), count=1000):
        wid = registry.as_text(raw).split(":", 2)[2]
        if wid not in folders:
            published = registry.load_watch_folder(redis, wid)
            if published is not None:
                folders[wid] = published
    if watch_id is None:
        return [folders[k] for k in sorted(folders)]
    if watch_id not in folders:
        known = ", ".join(sorted(folders)) or "none"
        raise CommandError(f"no watch folder with id {watch_id!r} (known: {known})")
    return [folders[watch_id]]


def retry_folder(redis: Redis, folder: WatchFolder, report: RetryReport) -> None:
    """Move every set-aside file of one folder back and forget its index entries."""
    failed = Path(folder.failed_dir or folder.path / ".failed")
    if not failed.is_dir():
        return
    ledger = Ledger(redis)
    for dirpath, _dirs, names in os.walk(failed, topdown=False):
        here = Path(dirpath)
        for name in sorted(names):
            path = here / name
            if name.endswith(SIDECAR_SUFFIX):
                if not Path(str(path).removesuffix(SIDECAR_SUFFIX)).exists():
                    path.unlink(missing_ok=True)  # its file was moved back or never arrived
                    report.notes_removed += 1
                continue
            if path.is_symlink() or not path.is_file():
                report.problems.append(f"{path}: not a regular file, left in place")
                continue
            _return(redis, ledger, folder, failed, path, report)
        if here != failed and not any(here.iterdir()):
            here.rmdir()


def _return(
    redis: Redis,
    ledger: Ledger,
    folder: WatchFolder,
    failed: Path,
    path: Path,
    report: RetryReport,
) -> None:
    old_rel = path.relative_to(failed).as_posix()
    note = Path(str(path) + SIDECAR_SUFFIX)
    reason = _reason(note)
    target = free_name(folder.path / old_rel)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    except OSError as exc:
        report.problems.append(f"{path}: cannot move back ({exc.strerror})")
        return
    note.unlink(missing_ok=True)
    new_rel = target.relative_to(folder.path).as_posix()
    raw = redis.hget(registry.files_key(folder.id), old_rel)
    if raw is not None:
        digest = registry.FileOutcome.decode(raw).digest
        if digest and ledger.forget_intent(digest):
            report.intents_forgotten += 1
    registry.forget_paths(redis, folder.id, sorted({old_rel, new_rel}))
    report.returned.append(Returned(folder.id, new_rel, reason))


def _reason(note: Path) -> str:
    """The note's reason, without its timestamp and file name."""
    try:
        text = note.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "(no note)"
    _, sep, rest = text.partition(": ")
    return rest if sep else text
