"""The multipart/form-data layout of an upload, exactly the seed's shape, as pure functions.

Each argument is its own part, in the seed's order, then the image part ``data`` last::

    --B\\r\\nContent-Disposition: form-data; name="method"\\r\\n\\r\\nup.photos.upload\\r\\n
    ...
    --B\\r\\nContent-Disposition: form-data; name="data"; filename="x.jpg"\\r\\n
    Content-Type: image/jpeg\\r\\n\\r\\n<file bytes>\\r\\n--B--\\r\\n

Only the head and the tail are built here; the file is streamed between them (``streaming``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

CRLF = b"\r\n"
FILE_FIELD = "data"
# The seed's part order; arguments it does not name (``format``…) go just before ``sig``.
FIELD_ORDER = ("method", "api_key", "community", "session_key", "call_id", "caption", "aid")
LAST_FIELD = "sig"

_NEWLINES = re.compile(r"\r\n|\r|\n")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
_QUOTED_ESCAPES = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})


def ordered_fields(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """The arguments in the seed's part order (others before ``sig``); ``data`` is not one."""
    known = [(name, params[name]) for name in FIELD_ORDER if name in params]
    others = [
        (name, value)
        for name, value in params.items()
        if name not in FIELD_ORDER and name not in (LAST_FIELD, FILE_FIELD)
    ]
    last = [(LAST_FIELD, params[LAST_FIELD])] if LAST_FIELD in params else []
    return known + others + last


def normalize_newlines(value: str) -> str:
    """Every line break as CRLF, as browsers send form values, so the body has no bare LF."""
    return _NEWLINES.sub("\r\n", value)


def quote_header_value(value: str) -> str:
    """Escape ``"``, CR and LF as browsers do (``%22``, ``%0D``, ``%0A``); UTF-8 stays as is."""
    return value.translate(_QUOTED_ESCAPES)


def new_boundary(
    values: Iterable[str], *, token: Callable[[], str] = lambda: secrets.token_hex(16)
) -> str:
    """A random boundary that occurs in none of the values (a clash is redrawn, not escaped)."""
    texts = list(values)
    while True:
        boundary = f"MediaPost{token()}"
        if not any(boundary in text for text in texts):
            return boundary


@dataclass(frozen=True)
class MultipartLayout:
    """Everything of the body except the file: send head, the file's bytes, then tail."""

    boundary: str
    head: bytes
    tail: bytes

    @property
    def content_type(self) -> str:
        """The request's Content-Type header."""
        return f"multipart/form-data; boundary={self.boundary}"

    def content_length(self, file_size: int) -> int:
        """The request's Content-Length for a file of this many bytes."""
        return len(self.head) + file_size + len(self.tail)


def _part_header(name: str, filename: str | None = None) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{quote_header_value(name)}"'
    if filename is not None:
        disposition += f'; filename="{quote_header_value(filename)}"'
    return disposition.encode("utf-8", errors="replace")


def layout(
    fields: Sequence[tuple[str, str]], *, filename: str, content_type: str, boundary: str
) -> MultipartLayout:
    """Head and tail of the multipart body, CRLF everywhere, the file part last."""
    if not _MEDIA_TYPE.match(content_type):
        raise ValueError("content_type must be a bare media type such as image/jpeg")
    delimiter = b"--" + boundary.encode("ascii") + CRLF
    head = bytearray()
    for name, value in fields:
        head += delimiter + _part_header(name) + CRLF + CRLF + value.encode("utf-8") + CRLF
    head += delimiter + _part_header(FILE_FIELD, filename) + CRLF
    head += b"Content-Type: " + content_type.encode("ascii") + CRLF + CRLF
    tail = CRLF + b"--" + boundary.encode("ascii") + b"--" + CRLF
    return MultipartLayout(boundary=boundary, head=bytes(head), tail=tail)
