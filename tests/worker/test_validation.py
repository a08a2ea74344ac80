"""What a worker refuses to upload, and why (real files on disk)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from tests.images import image_bytes
from worker.validation import Rejected, open_for_upload

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 10_000_000}


def check(path: Path, root: Path) -> str:
    """Open the file for upload and return its content type, or raise Rejected."""
    fh, facts = open_for_upload(path, root, **LIMITS)
    fh.close()
    return facts.content_type


def test_a_real_jpeg_and_png_are_accepted_by_their_bytes(tmp_path: Path) -> None:
    """The type comes from the first bytes, even under a misleading name."""
    (tmp_path / "photo.png").write_bytes(image_bytes(1, "JPEG"))
    (tmp_path / "image.jpg").write_bytes(image_bytes(2, "PNG"))
    assert check(tmp_path / "photo.png", tmp_path) == "image/jpeg"
    assert check(tmp_path / "image.jpg", tmp_path) == "image/png"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"hello, I am text pretending to be a photo\n", "not an image"),
        (image_bytes(3, "JPEG")[:-200], "truncated JPEG"),
        (image_bytes(4, "PNG")[:-20], "truncated PNG"),
        (b"\xff\xd8\xff" + b"\x00" * 2_000_000, "too large"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    """Empty, non-image, truncated and oversized files get a clear, final reason."""
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(Rejected, match=reason) as err:
        check(path, tmp_path)
    assert err.value.final


def test_a_decompression_bomb_is_rejected_without_decoding_it(tmp_path: Path) -> None:
    """A small file declaring a huge pixel count is refused from its header."""
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")
    path = tmp_path / "bomb.png"
    path.write_bytes(out.getvalue())
    assert path.stat().st_size < 100_000
    with pytest.raises(Rejected, match=r"pixels|bomb"):
        check(path, tmp_path)


def test_a_symlink_to_a_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    """`/etc/passwd` behind a link is never opened for upload."""
    root = tmp_path / "drop"
    root.mkdir()
    (root / "passwd.jpg").symlink_to("/etc/passwd")
    with pytest.raises(Rejected, match="outside"):
        check(root / "passwd.jpg", root)


def test_a_symlink_inside_the_root_is_refused_too(tmp_path: Path) -> None:
    """Links are refused even when they stay inside (O_NOFOLLOW), to keep one rule."""
    (tmp_path / "real.jpg").write_bytes(image_bytes(5))
    (tmp_path / "link.jpg").symlink_to(tmp_path / "real.jpg")
    with pytest.raises(Rejected, match="symbolic link"):
        check(tmp_path / "link.jpg", tmp_path)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO would block a reader; O_NONBLOCK plus fstat refuses it at once."""
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(Rejected, match="not a regular file"):
        check(tmp_path / "pipe.jpg", tmp_path)


def test_a_vanished_file_is_not_a_final_verdict(tmp_path: Path) -> None:
    """A file moved away before the worker got to it is skipped, not set aside."""
    with pytest.raises(Rejected) as err:
        check(tmp_path / "gone.jpg", tmp_path)
    assert not err.value.final
