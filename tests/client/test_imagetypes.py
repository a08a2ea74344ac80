"""The image's type is told by its magic bytes, not by its name."""

from __future__ import annotations

import pytest

from mediapost.imagetypes import content_type_for


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image/bmp"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "image/heif"),
    ],
)
def test_known_image_magic_gives_its_type(head: bytes, expected: str) -> None:
    """Each supported format is recognised from its first bytes."""
    assert content_type_for(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"%PDF-1.7\n",
        b"SIMPLE  =                    T",  # FITS
        b"8BPS\x00\x01",  # PSD
        b"BM not really a bitmap",
        b"\x00\x00\x00\x18ftypisom\x00\x00",  # an MP4
        b"<?xml version='1.0'?><svg/>",
    ],
)
def test_anything_else_is_not_an_image(head: bytes) -> None:
    """Other files, and formats we do not upload, give None."""
    assert content_type_for(head) is None
