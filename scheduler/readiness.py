"""What kind of entry is this path, and can it be handed to a worker? lstat, realpath, open."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from enum import StrEnum


class EntryType(StrEnum):
    """The file type as `lstat` sees it; only FILE may be uploaded."""

    FILE = "file"
    SYMLINK = "symlink"
    DIRECTORY = "directory"
    FIFO = "fifo"
    SOCKET = "socket"
    DEVICE = "device"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Stat:
    """The stat fields the watcher decides on (no hashing, ever)."""

    type: EntryType
    size: int
    mtime_ns: int
    ctime_ns: int

    @property
    def version(self) -> tuple[int, int]:
        """Identifies one version of the file's content: (size, mtime_ns)."""
        return (self.size, self.mtime_ns)

    @property
    def stamp(self) -> tuple[int, int, int]:
        """Changes when content or metadata (mode, owner, ACL) change: when to look again."""
        return (self.size, self.mtime_ns, self.ctime_ns)


def entry_type(mode: int) -> EntryType:
    """Map st_mode to an EntryType."""
    if stat.S_ISREG(mode):
        return EntryType.FILE
    if stat.S_ISLNK(mode):
        return EntryType.SYMLINK
    if stat.S_ISDIR(mode):
        return EntryType.DIRECTORY
    if stat.S_ISFIFO(mode):
        return EntryType.FIFO
    if stat.S_ISSOCK(mode):
        return EntryType.SOCKET
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return EntryType.DEVICE
    return EntryType.OTHER


def from_stat(st: os.stat_result) -> Stat:
    """Keep the fields we need from a stat result."""
    return Stat(entry_type(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def lstat(path: str) -> Stat | None:
    """lstat the path; None if it is gone (or a parent is no longer a directory)."""
    try:
        return from_stat(os.lstat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


def is_inside(path: str, root_real: str) -> bool:
    """True if the path, all links resolved, is under the (resolved) root."""
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip("/") + "/")


class Verdict(StrEnum):
    """The last check before enqueueing, done on an open descriptor."""

    READY = "ready"
    UNREADABLE = "unreadable"
    GONE = "gone"
    NOT_REGULAR = "not_regular"
    OUTSIDE_ROOT = "outside_root"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Check:
    """The verdict, the stat of the opened file, and a short reason for the log."""

    verdict: Verdict
    stat: Stat | None = None
    detail: str = ""


def open_check(path: str, root_real: str) -> Check:
    """Open without following links or blocking, and fstat: readable, regular, inside the root."""
    if not is_inside(path, root_real):
        return Check(Verdict.OUTSIDE_ROOT)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        if exc.errno in (errno.EACCES, errno.EPERM):
            return Check(Verdict.UNREADABLE, detail=code)
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return Check(Verdict.GONE, detail=code)
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # swapped for a symlink, or a socket
            return Check(Verdict.NOT_REGULAR, detail=code)
        return Check(Verdict.ERROR, detail=code)
    try:
        st = from_stat(os.fstat(fd))
    finally:
        os.close(fd)
    if st.type is not EntryType.FILE:
        return Check(Verdict.NOT_REGULAR, st, st.type.value)
    return Check(Verdict.READY, st)
