"""What happens to a file after its outcome is recorded: keep, move to done, delete, or set
aside in the failed folder with a sidecar that says why. Moves are renames on one filesystem."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import structlog

from config.settings import WatchFolder

log = structlog.get_logger(__name__)

SIDECAR_SUFFIX = ".why.txt"
NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs, …)
COPY_ROOM = len(" (99)")  # what `free_name` may add


def fit_name(target: Path, room: int) -> Path:
    """The target, or, if its name leaves less than `room` bytes below NAME_MAX, a shortened
    name that keeps the extension and a tag of the full name (so it stays unique)."""
    name = target.name
    limit = NAME_MAX - room
    if len(name.encode()) <= limit:
        return target
    suffix = target.suffix if len(target.suffix.encode()) <= 16 else ""
    tag = "~" + hashlib.sha1(name.encode(errors="surrogateescape")).hexdigest()[:10]
    budget = limit - len(tag) - len(suffix.encode())
    stem = name.removesuffix(suffix).encode(errors="surrogateescape")[:budget]
    return target.with_name(stem.decode(errors="ignore") + tag + suffix)


def free_name(target: Path) -> Path:
    """The target, or `name (2).ext`, `name (3).ext`, … if it is taken."""
    candidate, n = target, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
    return candidate


def relocate(path: Path, root: Path, dest_root: Path) -> Path:
    """Rename a file into `dest_root`, keeping its path relative to the watch root."""
    relative = path.relative_to(root)
    target = free_name(dest_root / relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    path.rename(target)
    return target


def after_upload(path: Path, folder: WatchFolder) -> Path | None:
    """Apply the folder's post-upload action; only called once the ledger holds the pid."""
    if folder.after_upload == "keep":
        return path
    try:
        if folder.after_upload == "delete":
            path.unlink()
            return None
        assert folder.done_dir is not None
        return relocate(path, folder.path, folder.done_dir)
    except FileNotFoundError:
        return None
    except OSError as exc:
        # The upload is recorded; failing to tidy up must not make it look failed.
        log.warning("file.post_upload_failed", file=str(path), error=exc.strerror)
        return path


def set_aside(path: Path, folder: WatchFolder, reason: str) -> Path | None:
    """Move a file we will not upload to the failed folder, next to a note saying why."""
    assert folder.failed_dir is not None
    note = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {path.name!r}: {reason}\n"
    try:
        relative = path.relative_to(folder.path)
    except ValueError:
        relative = Path(path.name)
    try:
        # A 255-byte name leaves no room for its sidecar: shorten it (the note keeps the name).
        target = free_name(fit_name(folder.failed_dir / relative, len(SIDECAR_SUFFIX) + COPY_ROOM))
        target.parent.mkdir(parents=True, exist_ok=True)
        # The note first: a crash between the two leaves a note, never a silent move.
        Path(str(target) + SIDECAR_SUFFIX).write_text(note, encoding="utf-8")
        path.rename(target)
        return target
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("file.set_aside_failed", file=str(path), reason=reason, error=exc.strerror)
        return None
