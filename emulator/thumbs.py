"""Thumbnails for the gallery, made with Pillow on first request and cached in the data dir."""

from __future__ import annotations

import uuid
from html import escape
from pathlib import Path

from PIL import Image, ImageOps

THUMB_BOX = (320, 320)


def make_thumbnail(source: Path, target: Path) -> bool:
    """Write a small JPEG of `source` to `target`; False if Pillow cannot read the image."""
    partial = target.with_suffix(f".{uuid.uuid4().hex}.tmp")  # two requests may race
    try:
        with Image.open(source) as image:
            image.draft("RGB", THUMB_BOX)  # JPEG: decode at a reduced scale, far cheaper
            small = ImageOps.exif_transpose(image)
            small.thumbnail(THUMB_BOX)
            small.convert("RGB").save(partial, "JPEG", quality=80)
        partial.replace(target)
    except Exception:  # any undecodable upload (or a decompression bomb) gets no thumbnail
        partial.unlink(missing_ok=True)
        return False
    return True


def placeholder_svg(label: str) -> bytes:
    """A grey tile for photos without viewable bytes (admin placeholders, undecodable images)."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
        '<rect width="320" height="240" fill="#d0d5dd"/>'
        '<text x="160" y="128" font-family="sans-serif" font-size="22" fill="#475467" '
        f'text-anchor="middle">{escape(label)}</text></svg>'
    ).encode()
