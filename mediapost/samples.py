"""Sample photos for trying the service: real, distinct JPEG and PNG files."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw


def sample_image(seed: int, *, width: int = 640, fmt: str = "JPEG") -> bytes:
    """A colourful picture that differs by seed (gradient, shapes and the number)."""
    rng = random.Random(seed)
    height = width * 3 // 4
    base = tuple(rng.randrange(256) for _ in range(3))
    img = Image.new("RGB", (width, height), base)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(20, width // 2), y0 + rng.randrange(20, height // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x0, y0, x1, y1), fill=colour)
    draw.text((10, 10), f"sample #{seed}", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, format=fmt, quality=88)
    return out.getvalue()


def write_samples(directory: Path, count: int, *, width: int = 640, start: int = 0) -> list[Path]:
    """Write `count` images (every fifth a PNG), each by rename so no watcher sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for seed in range(start, start + count):
        fmt, ext = ("PNG", "png") if seed % 5 == 4 else ("JPEG", "jpg")
        target = directory / f"sample-{seed:05}.{ext}"
        tmp = directory / f".{target.name}.part"
        tmp.write_bytes(sample_image(seed, width=width, fmt=fmt))
        tmp.rename(target)
        written.append(target)
    return written
