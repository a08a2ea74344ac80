"""Is this file something we may upload? Checks on the open descriptor, not on the path.

The decisions (`check_*`) are pure; :func:`open_for_upload` does the I/O in the order that
avoids time-of-check/time-of-use races: open with O_NOFOLLOW|O_NONBLOCK, then fstat the fd.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from mediapost.imagetypes import content_type_for

SNIFF_BYTES = 64
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")


class Rejected(Exception):
    """The file must not be uploaded; `reason` says why in words a person understands."""

    def __init__(self, reason: str, *, final: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final  # False: the file may become valid later (vanished, still growing)


@dataclass(frozen=True)
class FileFacts:
    """What we learnt about an opened file."""

    size: int
    mtime_ns: int
    inode: int
    content_type: str


def check_inside_root(real_path: Path, root: Path) -> None:
    """Refuse paths that resolve outside their watch folder (symlinked dirs, `..`)."""
    if not real_path.is_relative_to(root):
        raise Rejected(f"outside its watch folder {root} once symlinks are resolved")


def check_stat(st: os.stat_result, max_bytes: int) -> None:
    """Refuse what is not a regular, non-empty file within the size limit."""
    if not stat.S_ISREG(st.st_mode):
        raise Rejected("not a regular file")
    if st.st_size == 0:
        raise Rejected("empty file (0 bytes)")
    if st.st_size > max_bytes:
        raise Rejected(f"too large: {st.st_size} bytes, the limit is {max_bytes}")


def check_complete(content_type: str, tail: bytes) -> None:
    """Catch truncated JPEG and PNG files cheaply by their end markers."""
    trimmed = tail.rstrip(b"\x00")
    if content_type == "image/jpeg" and not trimmed.endswith(b"\xff\xd9"):
        raise Rejected("truncated JPEG: no end-of-image marker")
    if content_type == "image/png" and b"IEND" not in tail[-16:]:
        raise Rejected("truncated PNG: no IEND chunk")


def check_pixels(fh: BinaryIO, max_pixels: int) -> None:
    """Refuse decompression bombs by the header's pixel count, without decoding the image."""
    fh.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fh, formats=ACCEPTED_FORMATS) as img:
                width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected("decompression bomb: the pixel count is over Pillow's limit") from None
    except Exception:
        # Formats Pillow cannot read (HEIC without a plugin) are left to the server to judge.
        return
    finally:
        fh.seek(0)
    if width * height > max_pixels:
        raise Rejected(f"too many pixels: {width}x{height}, the limit is {max_pixels}")


def open_for_upload(
    path: Path, root: Path, *, max_bytes: int, max_pixels: int
) -> tuple[BinaryIO, FileFacts]:
    """Open a file that passed every check; the caller closes it."""
    try:
        real = Path(os.path.realpath(path))
        check_inside_root(real, Path(os.path.realpath(root)))
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Rejected("the file is gone", final=False) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Rejected("a symbolic link") from None
        raise Rejected(f"cannot open: {exc.strerror}") from None
    fh = os.fdopen(fd, "rb")
    try:
        st = os.fstat(fh.fileno())
        check_stat(st, max_bytes)
        if st.st_nlink > 1:
            raise Rejected("a hard link to another file (refused for safety)")
        head = fh.read(SNIFF_BYTES)
        content_type = content_type_for(head)
        if content_type is None:
            raise Rejected("not an image (its first bytes match no image format)")
        fh.seek(max(0, st.st_size - 32))
        check_complete(content_type, fh.read(32))
        check_pixels(fh, max_pixels)
        fh.seek(0)
    except OSError as exc:
        fh.close()
        raise Rejected(f"cannot read: {exc.strerror}") from None
    except BaseException:
        fh.close()
        raise
    return fh, FileFacts(st.st_size, st.st_mtime_ns, st.st_ino, content_type)
