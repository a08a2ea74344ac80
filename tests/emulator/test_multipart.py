"""The streaming multipart parser, fed in every possible way a socket could split a body."""

from __future__ import annotations

import os

import pytest

from emulator.multipart import (
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    boundary_from_content_type,
)
from tests.emulator.handmade import SEED_BOUNDARY, FilePart, multipart

Parsed = list[tuple[str, str | None, str | None, bytes]]


def parse(body: bytes, chunk_sizes: list[int], boundary: str = SEED_BOUNDARY) -> Parsed:
    """Feed `body` in chunks of the given sizes (cycled) and collect the parts."""
    parser = MultipartParser(boundary.encode())
    parts: Parsed = []
    current = bytearray()
    start: PartStart | None = None
    pos, i = 0, 0
    while pos < len(body):
        size = chunk_sizes[i % len(chunk_sizes)]
        for event in parser.feed(body[pos : pos + size]):
            if isinstance(event, PartStart):
                start, current = event, bytearray()
            elif isinstance(event, PartData):
                current += event.data
            elif isinstance(event, PartEnd):
                assert start is not None
                parts.append((start.name, start.filename, start.content_type, bytes(current)))
        pos += size
        i += 1
    parser.finish()
    return parts


# Data that looks like the delimiter, part of it, or CR/LF runs: the hard cases for a scanner.
TRICKY = (
    b"\r\n--SoMeTeXtWeWiLlNeVeRsE\r\r\n-\r\n--"
    + os.urandom(3000)
    + b"\r\n--SoMeTeXtWeWiLlNeVeRsEf\r"
)
BODY = multipart([("method", "up.photos.upload"), ("caption", "")], FilePart(TRICKY, "a.jpg"))
EXPECTED: Parsed = [
    ("method", None, None, b"up.photos.upload"),
    ("caption", None, None, b""),
    ("data", "a.jpg", "image/jpeg", TRICKY),
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 23, 24, 25, 64, 1000, 4096, len(BODY)])
def test_every_chunking_of_a_body_gives_the_same_parts(size: int) -> None:
    """Splitting the body anywhere, even inside the delimiter, does not change the result."""
    assert parse(BODY, [size]) == EXPECTED


def test_every_single_split_point_gives_the_same_parts() -> None:
    """Two chunks, split at each byte offset in turn."""
    for cut in range(1, len(BODY)):
        assert parse(BODY, [cut, len(BODY)]) == EXPECTED, cut


def test_data_is_handed_out_without_copying_large_chunks() -> None:
    """File data arrives as views into the fed chunk, not copies."""
    parser = MultipartParser(b"b")
    chunk = b"--b\r\nContent-Disposition: form-data; name=data; filename=x\r\n\r\n" + b"x" * 10000
    events = parser.feed(chunk)
    data = [e for e in events if isinstance(e, PartData)]
    assert data and all(e.data.obj is chunk for e in data)


def test_preamble_and_epilogue_are_ignored() -> None:
    """Text before the first boundary and after the last one is not a part."""
    body = b"preamble text\r\n" + multipart([("a", "1")]) + b"epilogue"
    assert parse(body, [5]) == [("a", None, None, b"1")]


def test_bare_lf_body_is_an_error_naming_crlf() -> None:
    """A body with \\n line breaks is refused with a message about CRLF."""
    with pytest.raises(MultipartError, match="CRLF"):
        parse(multipart([("a", "1")], newline=b"\n"), [10])


def test_bare_lf_inside_part_headers_is_an_error() -> None:
    """Headers separated by a bare LF are refused even when the delimiters use CRLF."""
    body = b'--b\r\nContent-Disposition: form-data; name="a"\n\n1\r\n--b--\r\n'
    with pytest.raises(MultipartError, match="CRLF"):
        parse(body, [100], boundary="b")


def test_truncated_body_is_an_error() -> None:
    """A body that stops before the closing delimiter is incomplete."""
    with pytest.raises(MultipartError, match="ended before"):
        parse(BODY[:-30], [100])


def test_part_without_content_disposition_is_an_error() -> None:
    """Every part needs a form-data Content-Disposition with a name."""
    body = b"--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--\r\n"
    with pytest.raises(MultipartError, match="Content-Disposition"):
        parse(body, [100], boundary="b")


def test_quoted_and_extended_filenames_are_decoded() -> None:
    """filename="..." with escapes, and RFC 5987 filename*=UTF-8'' win as browsers send them."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="data"; filename="a \\"q\\".jpg"\r\n\r\n'
        b"x\r\n--b\r\nContent-Disposition: form-data; name=data2; filename=plain.jpg; "
        b"filename*=UTF-8''na%C3%AFve.jpg\r\n\r\ny\r\n--b--\r\n"
    )
    names = [(p[0], p[1]) for p in parse(body, [9], boundary="b")]
    assert names == [("data", 'a "q".jpg'), ("data2", "naïve.jpg")]


def test_boundary_is_read_from_the_content_type_header() -> None:
    """Quoted or not, the boundary parameter is found; other types are refused."""
    assert boundary_from_content_type("multipart/form-data; boundary=abc") == b"abc"
    assert boundary_from_content_type('Multipart/Form-Data; charset=x; boundary="a b"') == b"a b"
    with pytest.raises(MultipartError):
        boundary_from_content_type("multipart/form-data")
    with pytest.raises(MultipartError):
        boundary_from_content_type("application/json")
