"""Files no uploader should upload (and awkward names it must), written for the bad-input run."""

from __future__ import annotations

import io
import os
import pwd
import random
import struct
import zlib
from pathlib import Path

from PIL import Image

from tests.images import image_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb(path: Path, side: int = 20000) -> Path:
    """A real 1-bit PNG of side×side black pixels: ~50 KB on disk, 400 Mpx decoded."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
    path.write_bytes(png + _chunk(b"IEND", b""))
    return path


def large_jpeg(path: Path, side: int = 400, seed: int = 1) -> Path:
    """A valid JPEG of noise, a few hundred KB."""
    noise = random.Random(seed).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(out, format="JPEG", quality=95)
    path.write_bytes(out.getvalue())
    return path


def truncated_jpeg(path: Path, seed: int) -> Path:
    """The first half of a valid JPEG (no end-of-image marker)."""
    data = image_bytes(seed)
    path.write_bytes(data[: len(data) // 2])
    return path


def write_atomically(path: Path, data: bytes) -> Path:
    """Write under a short temporary dot-name, then rename (names may be 255 bytes long)."""
    tmp = path.parent / f".tmp-{os.getpid()}-{random.getrandbits(32):08x}"
    tmp.write_bytes(data)
    tmp.rename(path)
    return path


def unreadable(path: Path, seed: int) -> Path:
    """A valid JPEG owned by `nobody`, mode 0600: unreadable without CAP_DAC_OVERRIDE."""
    nobody = pwd.getpwnam("nobody")
    path.write_bytes(image_bytes(seed))
    path.chmod(0o600)
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return path
