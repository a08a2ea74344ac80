"""The multipart layout (pure) and the streamed body that carries the file between head and tail."""

from __future__ import annotations

import io

import pytest

from mediapost.errors import FileChanged
from mediapost.form import (
    layout,
    new_boundary,
    normalize_newlines,
    ordered_fields,
    quote_header_value,
)
from mediapost.streaming import MAX_CHUNK, MIN_CHUNK, StreamedBody

SEED_FIELDS = [
    ("method", "up.photos.upload"),
    ("api_key", "77a52842357422fadd912a2600e6e53c"),
    ("community", "mycommunity"),
    ("session_key", "489727d0ab2efc6e8003018c-i2LLkn8BDb2s."),
    ("call_id", "1172623588.023010"),
    ("caption", "Under the sunset"),
    ("aid", "940915667462717"),
    ("sig", "dfa724b8a5cd97d9df4baf2b60d3484c"),
]


def test_layout_reproduces_the_seed_example_byte_for_byte() -> None:
    """The seed's parts and order, CRLF everywhere, the file part last with its own type."""
    parts = layout(
        SEED_FIELDS,
        filename="somefilename.jpg",
        content_type="image/jpeg",
        boundary="SoMeTeXtWeWiLlNeVeRsEe",
    )
    expected_head = (
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="method"\r\n\r\nup.photos.upload\r\n'
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="api_key"\r\n\r\n'
        b"77a52842357422fadd912a2600e6e53c\r\n"
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="community"\r\n\r\nmycommunity\r\n'
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="session_key"\r\n\r\n'
        b"489727d0ab2efc6e8003018c-i2LLkn8BDb2s.\r\n"
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="call_id"\r\n\r\n1172623588.023010\r\n'
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="caption"\r\n\r\nUnder the sunset\r\n'
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="aid"\r\n\r\n940915667462717\r\n'
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="sig"\r\n\r\n'
        b"dfa724b8a5cd97d9df4baf2b60d3484c\r\n"
        b"--SoMeTeXtWeWiLlNeVeRsEe\r\n"
        b'Content-Disposition: form-data; name="data"; filename="somefilename.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n"
    )
    assert parts.head == expected_head
    assert parts.tail == b"\r\n--SoMeTeXtWeWiLlNeVeRsEe--\r\n"
    assert parts.content_type == "multipart/form-data; boundary=SoMeTeXtWeWiLlNeVeRsEe"
    assert parts.content_length(1000) == len(expected_head) + 1000 + len(parts.tail)


def test_fields_follow_the_seed_order_with_extra_arguments_before_sig() -> None:
    """``format`` goes just before ``sig``; omitted optional arguments get no part; data none."""
    params = {
        "sig": "S",
        "format": "JSON",
        "call_id": "C",
        "method": "M",
        "data": "never a field",
        "community": "X",
        "api_key": "K",
        "session_key": "SK",
    }
    assert [name for name, _ in ordered_fields(params)] == [
        "method",
        "api_key",
        "community",
        "session_key",
        "call_id",
        "format",
        "sig",
    ]


def test_filename_quotes_and_line_breaks_are_escaped_like_browsers_and_utf8_kept() -> None:
    """``"``, CR and LF become %22, %0D, %0A; é and 日 stay UTF-8."""
    assert quote_header_value('a"b\r\nc.jpg') == "a%22b%0D%0Ac.jpg"
    parts = layout([], filename='caf\u00e9 "\u65e5"\n.jpg', content_type="image/png", boundary="B")
    assert (
        b'name="data"; filename="caf\xc3\xa9 %22\xe6\x97\xa5%22%0A.jpg"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    ) in parts.head


def test_boundary_is_redrawn_when_it_occurs_in_a_value() -> None:
    """A drawn boundary found inside any value is never used."""
    draws = iter(["aaaa", "bbbb"])
    boundary = new_boundary(["caption with MediaPostaaaa inside"], token=lambda: next(draws))
    assert boundary == "MediaPostbbbb"


def test_boundaries_are_random() -> None:
    """Two layouts do not share a boundary."""
    assert new_boundary([]) != new_boundary([])


def test_a_content_type_with_a_line_break_is_refused() -> None:
    """A caller's content type cannot inject a header into the image part."""
    with pytest.raises(ValueError, match="media type"):
        layout([], filename="x", content_type="image/jpeg\r\nX-Evil: 1", boundary="B")


def test_line_breaks_in_values_are_normalized_to_crlf() -> None:
    """LF, CR and CRLF all become CRLF, as browsers send textarea values."""
    assert normalize_newlines("a\nb\rc\r\nd") == "a\r\nb\r\nc\r\nd"


# The streamed body


def test_body_streams_head_file_tail_in_chunks_of_at_most_one_mebibyte() -> None:
    """No chunk exceeds 1 MiB and the bytes add up to the declared length."""
    data = bytes(range(256)) * 12_000  # ~3 MB
    body = StreamedBody(b"HEAD", io.BytesIO(data), len(data), b"TAIL", chunk_size=MAX_CHUNK)
    chunks = list(body)
    assert max(len(chunk) for chunk in chunks) <= MAX_CHUNK
    assert b"".join(chunks) == b"HEAD" + data + b"TAIL"
    assert sum(map(len, chunks)) == body.length


def test_every_pass_rewinds_the_file_and_sends_it_whole() -> None:
    """A retry re-sends from byte 0 even if the file position moved."""
    file = io.BytesIO(b"0123456789")
    body = StreamedBody(b"<", file, 10, b">", chunk_size=MIN_CHUNK)
    first = b"".join(body)
    file.seek(7)
    assert b"".join(body) == first == b"<0123456789>"


def test_body_is_complete_only_after_the_last_chunk_was_taken() -> None:
    """``complete`` says whether the server can have had the whole request."""
    body = StreamedBody(b"h", io.BytesIO(b"x" * 10), 10, b"t", chunk_size=MIN_CHUNK)
    chunks = iter(body)
    next(chunks)
    next(chunks)
    next(chunks)
    assert not body.complete  # the tail was handed out, but not yet written
    assert list(chunks) == []
    assert body.complete


def test_a_file_that_shrinks_mid_send_stops_the_body() -> None:
    """Fewer bytes than declared raise FileChanged before the tail goes out."""
    body = StreamedBody(b"h", io.BytesIO(b"short"), 10, b"t", chunk_size=MIN_CHUNK)
    with pytest.raises(FileChanged, match="shrank"):
        list(body)
    assert not body.complete


def test_a_file_that_grows_mid_send_stops_the_body() -> None:
    """More bytes than declared raise FileChanged before the tail goes out."""
    body = StreamedBody(b"h", io.BytesIO(b"longer than ten"), 10, b"t", chunk_size=MIN_CHUNK)
    with pytest.raises(FileChanged, match="grew"):
        list(body)


@pytest.mark.parametrize("size", [MIN_CHUNK - 1, MAX_CHUNK + 1])
def test_chunk_size_must_stay_within_256_kib_and_1_mib(size: int) -> None:
    """Smaller chunks waste syscalls; bigger ones grow memory."""
    with pytest.raises(ValueError, match="chunk_size"):
        StreamedBody(b"", io.BytesIO(), 0, chunk_size=size)
