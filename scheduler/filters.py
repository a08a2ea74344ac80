"""Which names in a drop folder may become uploads: pure decisions on relative paths."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from config.settings import WatchFolder

# Names that writers use before the final rename; such files are ignored until renamed.
TEMP_PATTERNS = (
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.filepart",
    "*.tmp",
    "*.temp",
    "*~",
    "~$*",
)


class NameVerdict(StrEnum):
    """Why a relative path is, or is not, a candidate for upload."""

    CANDIDATE = "candidate"
    HIDDEN = "hidden"  # a dot-file, or under a dot-directory (.done, .failed, rsync temps)
    EXCLUDED_DIR = "excluded_dir"  # under the done or failed folder
    TEMPORARY = "temporary"
    NOT_INCLUDED = "not_included"
    IGNORED = "ignored"


def _globs(patterns: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex for a set of globs (`*` also matches `/`)."""
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), re.IGNORECASE)


def inside_dirs(folder: WatchFolder) -> tuple[str, ...]:
    """The done/failed folders that sit inside the watched tree, as relative paths."""
    rels = []
    for d in (folder.done_dir, folder.failed_dir):
        if d is None:
            continue
        resolved = Path(d).expanduser().resolve()
        if resolved != folder.path and resolved.is_relative_to(folder.path):
            rels.append(resolved.relative_to(folder.path).as_posix())
    return tuple(rels)


@dataclass(frozen=True)
class NameFilter:
    """The name rules of one watch folder, compiled once."""

    include: re.Pattern[str] | None
    temporary: re.Pattern[str] | None
    ignore: re.Pattern[str] | None
    excluded_dirs: tuple[str, ...] = ()

    @classmethod
    def for_folder(cls, folder: WatchFolder) -> NameFilter:
        """Compile the folder's include/ignore globs with the built-in temporary patterns."""
        return cls(
            include=_globs(folder.include),
            temporary=_globs(TEMP_PATTERNS),
            ignore=_globs(folder.ignore),
            excluded_dirs=inside_dirs(folder),
        )

    def skip_dir(self, reldir: str) -> bool:
        """True for directories never descended into: dot-directories, done and failed."""
        name = reldir.rsplit("/", 1)[-1]
        return name.startswith(".") or self._excluded(reldir)

    def looks_like_image(self, name: str) -> bool:
        """True if the bare name matches the include globs (used to report odd entries)."""
        return self.include is None or self.include.match(name) is not None

    def verdict(self, relpath: str) -> NameVerdict:
        """Decide on a file's relative path (POSIX separators) from its name alone."""
        parts = relpath.split("/")
        if any(p.startswith(".") for p in parts):
            return NameVerdict.HIDDEN
        if self._excluded(relpath):
            return NameVerdict.EXCLUDED_DIR
        name = parts[-1]
        if self.temporary is not None and self.temporary.match(name):
            return NameVerdict.TEMPORARY
        if self.ignore is not None and (self.ignore.match(name) or self.ignore.match(relpath)):
            return NameVerdict.IGNORED
        if not self.looks_like_image(name):
            return NameVerdict.NOT_INCLUDED
        return NameVerdict.CANDIDATE

    def _excluded(self, relpath: str) -> bool:
        return any(relpath == d or relpath.startswith(d + "/") for d in self.excluded_dirs)


def loggable(name: str) -> str:
    """A file name safe to put in a log line: control characters and newlines escaped."""
    return name if name.isprintable() else repr(name)[1:-1]
