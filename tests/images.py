"""Real, small, distinct JPEG and PNG files for tests (content differs by seed)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image


def image_bytes(seed: int, fmt: str = "JPEG", size: int = 16) -> bytes:
    """A tiny image whose pixels encode the seed, so every seed gives different bytes."""
    noise = random.Random(seed).randbytes(size * size * 3)
    img = Image.frombytes("RGB", (size, size), noise)
    out = io.BytesIO()
    img.save(out, format=fmt, quality=95)
    return out.getvalue()


def write_image(path: Path, seed: int) -> Path:
    """Write a JPEG (or PNG for a .png name) for this seed, atomically by rename."""
    fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(image_bytes(seed, fmt))
    tmp.rename(path)
    return path
