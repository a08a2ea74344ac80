"""Task names and payloads shared by the watcher and the workers (no upload code here).

The watcher imports this module to enqueue by name; the payload is a reference to a file,
never its bytes and never a secret, because Flower and `celery inspect` show it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

UPLOAD_TASK = "mediapost.upload_file"
RECONCILE_TASK = "mediapost.reconcile_albums"
UPLOAD_QUEUE = "mediapost.uploads"


@dataclass(frozen=True)
class UploadRequest:
    """One file to upload: which watch folder it belongs to, where it is, and how it looked."""

    watch_id: str
    path: str
    size: int
    mtime_ns: int

    def to_kwargs(self) -> dict[str, Any]:
        """The task's keyword arguments: plain JSON values only."""
        return asdict(self)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> UploadRequest:
        """Rebuild the request, refusing anything that is not the expected shape."""
        try:
            return cls(
                watch_id=str(kwargs["watch_id"]),
                path=str(kwargs["path"]),
                size=int(kwargs["size"]),
                mtime_ns=int(kwargs["mtime_ns"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed upload request: {exc}") from None

    def dedup_token(self) -> str:
        """Identifies this version of this file, so an event storm enqueues it once."""
        return f"{self.watch_id}:{self.size}:{self.mtime_ns}:{self.path}"
