"""Recognise an image by its first bytes, so the emulator rejects non-images like the service."""

from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 32

_HEIF_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic-sequence",
    b"hevx": "image/heic-sequence",
    b"hevm": "image/heic-sequence",
    b"hevs": "image/heic-sequence",
    b"mif1": "image/heif",
    b"msf1": "image/heif-sequence",
    b"avif": "image/avif",
    b"avis": "image/avif",
}


@dataclass(frozen=True)
class ImageType:
    """A recognised image format: the MIME type we serve it with and a file suffix."""

    mime: str
    suffix: str


def sniff_image(head: bytes) -> ImageType | None:
    """The image type of data starting with `head` (its first bytes), or None if not an image."""
    if head.startswith(b"\xff\xd8\xff"):
        return ImageType("image/jpeg", ".jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageType("image/png", ".png")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return ImageType("image/gif", ".gif")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ImageType("image/webp", ".webp")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return ImageType("image/tiff", ".tif")
    if head.startswith(b"BM") and len(head) >= 14:
        return ImageType("image/bmp", ".bmp")
    if head[4:8] == b"ftyp":
        mime = _HEIF_BRANDS.get(head[8:12])
        if mime is not None:
            return ImageType(mime, ".avif" if "avif" in mime else ".heic")
    return None
