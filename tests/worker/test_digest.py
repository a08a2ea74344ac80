"""The content digest: BLAKE3 of the whole file, whatever the read position, and its marker."""

from __future__ import annotations

import io

from worker.digest import CHUNK, content_digest, photo_marker

# BLAKE3 of b"abc", from the reference implementation's test vectors.
ABC = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
# BLAKE3 of the empty input.
EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def test_digest_is_blake3_of_the_bytes() -> None:
    assert content_digest(io.BytesIO(b"abc")) == ABC
    assert content_digest(io.BytesIO(b"")) == EMPTY


def test_digest_reads_the_whole_file_from_any_position_and_rewinds() -> None:
    data = bytes(range(256)) * (CHUNK // 128 + 3)  # more than two chunks, not a multiple
    fh = io.BytesIO(data)
    fh.seek(1234)
    first = content_digest(fh)
    assert fh.tell() == 0
    assert content_digest(fh) == first
    assert first != content_digest(io.BytesIO(data[:-1]))


def test_marker_is_the_first_sixteen_hex_digits() -> None:
    assert photo_marker(ABC) == "[mp:6437b3ac38465133]"
