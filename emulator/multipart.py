"""A streaming multipart/form-data parser: bytes in, part events out, no I/O.

A pure state machine, so it can be tested without a server and driven by any reader. It scans each
chunk for the delimiter with `bytes.find` and hands body data out as memoryviews of the chunk it was
given, so a large chunk is never copied; only a few bytes that might begin a delimiter are held back
between chunks. Line breaks must be CRLF, as the MediaPost contract requires: a bare LF is reported
as an error, never guessed around, because the real service would not understand such a body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto
from urllib.parse import unquote

BARE_LF = "multipart line breaks must be CRLF (\\r\\n); the body uses a bare LF (\\n)"
MAX_HEADER_BYTES = 16 * 1024
MAX_PREAMBLE_BYTES = 64 * 1024
MAX_PARTS = 200

_BOUNDARY_CHARS = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$")


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data (the API answers error 100)."""


@dataclass(frozen=True)
class PartStart:
    """A part begins: its form field name and, for a file part, the filename and type as sent."""

    name: str
    filename: str | None
    content_type: str | None


@dataclass(frozen=True)
class PartData:
    """Some bytes of the current part; a view into the fed chunk, valid until the next feed."""

    data: memoryview


@dataclass(frozen=True)
class PartEnd:
    """The current part is complete."""


Event = PartStart | PartData | PartEnd


class _State(Enum):
    PREAMBLE = auto()
    AFTER_DELIMITER = auto()
    HEADERS = auto()
    BODY = auto()
    DONE = auto()


def boundary_from_content_type(content_type: str) -> bytes:
    """The boundary of a `multipart/form-data; boundary=...` header value, or MultipartError."""
    kind, params = _split_header_value(content_type)
    if kind.lower() != "multipart/form-data":
        raise MultipartError(f"expected multipart/form-data, got {kind or 'no content type'}")
    boundary = params.get("boundary")
    if not boundary:
        raise MultipartError("the Content-Type header has no boundary parameter")
    if not _BOUNDARY_CHARS.match(boundary) or boundary.endswith(" "):
        raise MultipartError("the multipart boundary has invalid characters or length")
    return boundary.encode("ascii")


class MultipartParser:
    """Incremental parser for one multipart/form-data body; call `feed` per chunk, then `finish`."""

    def __init__(self, boundary: bytes) -> None:
        self._delimiter = b"\r\n--" + boundary
        self._state = _State.PREAMBLE
        # The body may start directly with "--boundary": pretend a CRLF came before it.
        self._buffer = bytearray(b"\r\n")
        self._tail = b""
        self._parts = 0

    @property
    def done(self) -> bool:
        """Whether the closing delimiter has been seen."""
        return self._state is _State.DONE

    def feed(self, chunk: bytes) -> list[Event]:
        """Consume the next chunk of the body and return the events it completes."""
        events: list[Event] = []
        pos = 0
        size = len(chunk)
        while pos < size and self._state is not _State.DONE:
            if self._state is _State.BODY:
                pos = self._feed_body(chunk, pos, events)
            elif self._state is _State.HEADERS:
                pos = self._feed_headers(chunk, pos, events)
            elif self._state is _State.AFTER_DELIMITER:
                pos = self._feed_after_delimiter(chunk, pos)
            else:
                pos = self._feed_preamble(chunk, pos)
        return events

    def finish(self) -> None:
        """Signal the end of the body; raises MultipartError if it ended early."""
        if self._state is _State.DONE:
            return
        if self._state is _State.PREAMBLE and b"\n--" + self._delimiter[4:] in self._buffer:
            raise MultipartError(BARE_LF)
        raise MultipartError("the body ended before the closing multipart boundary")

    def _feed_preamble(self, chunk: bytes, pos: int) -> int:
        before = len(self._buffer)
        self._buffer += chunk[pos : pos + MAX_PREAMBLE_BYTES]
        found = self._buffer.find(self._delimiter)
        if found == -1:
            if len(self._buffer) > MAX_PREAMBLE_BYTES:
                if b"\n--" + self._delimiter[4:] in self._buffer:
                    raise MultipartError(BARE_LF)
                raise MultipartError("no multipart boundary found at the start of the body")
            return len(chunk)
        self._buffer.clear()
        self._state = _State.AFTER_DELIMITER
        return pos + found + len(self._delimiter) - before

    def _feed_after_delimiter(self, chunk: bytes, pos: int) -> int:
        need = 2 - len(self._buffer)
        self._buffer += chunk[pos : pos + need]
        taken = min(need, len(chunk) - pos)
        if self._buffer[:1] == b"\n":
            raise MultipartError(BARE_LF)
        if len(self._buffer) < 2:
            return pos + taken
        marker = bytes(self._buffer)
        self._buffer.clear()
        if marker == b"--":
            self._state = _State.DONE
        elif marker == b"\r\n":
            self._parts += 1
            if self._parts > MAX_PARTS:
                raise MultipartError(f"more than {MAX_PARTS} parts")
            self._state = _State.HEADERS
        else:
            raise MultipartError("a multipart boundary is not followed by CRLF or --")
        return pos + taken

    def _feed_headers(self, chunk: bytes, pos: int, events: list[Event]) -> int:
        before = len(self._buffer)
        self._buffer += chunk[pos : pos + MAX_HEADER_BYTES + 4]
        if self._buffer.startswith(b"\r\n"):
            end, block = 2, b""
        else:
            found = self._buffer.find(b"\r\n\r\n")
            if found == -1:
                if b"\n\n" in self._buffer or b"\n\r\n" in self._buffer:
                    raise MultipartError(BARE_LF)
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise MultipartError("the headers of a part are too long")
                return len(chunk)
            end, block = found + 4, bytes(self._buffer[:found])
        self._buffer.clear()
        events.append(_parse_part_headers(block))
        self._state = _State.BODY
        return pos + end - before

    def _feed_body(self, chunk: bytes, pos: int, events: list[Event]) -> int:
        delimiter = self._delimiter
        width = len(delimiter)
        if self._tail:
            # The previous chunk ended with a possible start of the delimiter: look across the seam.
            tail = self._tail
            seam = tail + chunk[pos : pos + width - 1]
            found = seam.find(delimiter)
            if found != -1:
                if found:
                    events.append(PartData(memoryview(tail)[:found]))
                self._tail = b""
                return self._end_part(events, pos + found + width - len(tail))
            if len(chunk) - pos < width - 1:
                # Too little new data to decide: keep the seam's possible delimiter prefix.
                keep = _delimiter_prefix_start(seam, delimiter, 0)
                if keep:
                    events.append(PartData(memoryview(seam)[:keep]))
                self._tail = seam[keep:]
                return len(chunk)
            events.append(PartData(memoryview(tail)))
            self._tail = b""
        found = chunk.find(delimiter, pos)
        view = memoryview(chunk)
        if found != -1:
            if found > pos:
                events.append(PartData(view[pos:found]))
            return self._end_part(events, found + width)
        keep = _delimiter_prefix_start(chunk, delimiter, pos)
        if keep > pos:
            events.append(PartData(view[pos:keep]))
        self._tail = chunk[keep:]
        return len(chunk)

    def _end_part(self, events: list[Event], pos: int) -> int:
        events.append(PartEnd())
        self._state = _State.AFTER_DELIMITER
        return pos


def _delimiter_prefix_start(data: bytes, delimiter: bytes, start: int) -> int:
    """Where a suffix of data[start:] that could begin the delimiter starts (len(data) if none)."""
    # The delimiter holds exactly one CR, at its start, so only the last CR can begin a prefix.
    cr = data.rfind(b"\r", max(start, len(data) - len(delimiter) + 1))
    if cr != -1 and delimiter.startswith(data[cr:]):
        return cr
    return len(data)


def _parse_part_headers(block: bytes) -> PartStart:
    if b"\n" in block.replace(b"\r\n", b""):
        raise MultipartError(BARE_LF)
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MultipartError("the headers of a part are not UTF-8") from exc
    headers: dict[str, str] = {}
    for line in text.split("\r\n") if text else []:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise MultipartError(f"malformed part header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError("a part has no Content-Disposition header")
    kind, params = _split_header_value(disposition)
    if kind.lower() != "form-data" or not params.get("name"):
        raise MultipartError("a part's Content-Disposition is not form-data with a name")
    return PartStart(
        name=params["name"],
        filename=params.get("filename"),
        content_type=headers.get("content-type") or None,
    )


def _split_header_value(value: str) -> tuple[str, dict[str, str]]:
    """Split `kind; a=b; c="d"` into the kind and its parameters (lower-case names)."""
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        eq = rest.find("=", i)
        if eq == -1:
            break
        name = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            chars: list[str] = []
            i += 1
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(rest[i])
                i += 1
            i += 1
            val = "".join(chars)
        else:
            end = rest.find(";", i)
            end = n if end == -1 else end
            val = rest[i:end].strip()
            i = end
        if name.endswith("*"):
            # RFC 6266: the extended form (filename*=UTF-8''...) wins over the plain one.
            params[name[:-1]] = _decode_extended(val)
        else:
            params.setdefault(name, val)
    return kind.strip(), params


def _decode_extended(value: str) -> str:
    """Decode an RFC 5987 value like `UTF-8''na%C3%AFve.jpg`."""
    charset, _, rest = value.partition("'")
    _, _, encoded = rest.partition("'")
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError) as exc:
        raise MultipartError("undecodable extended header parameter") from exc
