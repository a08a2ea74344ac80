"""Request bodies handed to httpx piece by piece, that know whether they went out whole.

httpcore swallows a write error in the middle of a body and reads the response instead, so
the exception class alone cannot say whether the server got the whole request. The body can:
``complete`` turns true only after httpx asked for more past the last chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from mediapost.errors import FileChanged

KIB = 1024
MIN_CHUNK = 256 * KIB
MAX_CHUNK = 1024 * KIB
DEFAULT_CHUNK = 512 * KIB


class StreamedBody:
    """``head``, then ``size`` bytes of ``file`` from its start, then ``tail``; one pass each."""

    def __init__(
        self,
        head: bytes,
        file: BinaryIO | None = None,
        size: int = 0,
        tail: bytes = b"",
        *,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk_size must be within {MIN_CHUNK}..{MAX_CHUNK} bytes")
        if file is None and size:
            raise ValueError("a size without a file")
        self.head = head
        self.file = file
        self.size = size
        self.tail = tail
        self.chunk_size = chunk_size
        self.complete = False

    @property
    def length(self) -> int:
        """The Content-Length this body promises."""
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        self.complete = False
        if self.head:
            yield self.head
        if self.file is not None:
            yield from self._file_chunks(self.file)
        if self.tail:
            yield self.tail
        # Reached only when httpx comes back after the last chunk was written.
        self.complete = True

    def _file_chunks(self, file: BinaryIO) -> Iterator[bytes]:
        try:
            file.seek(0)  # every attempt re-sends the whole file
            remaining = self.size
            while remaining:
                chunk = file.read(min(self.chunk_size, remaining))
                if not chunk:
                    raise FileChanged(f"file shrank while being sent ({remaining} bytes short)")
                remaining -= len(chunk)
                yield chunk
            if file.read(1):
                raise FileChanged("file grew while being sent")
        except OSError as exc:
            raise FileChanged(
                f"file could not be read: {exc.strerror or type(exc).__name__}"
            ) from None
