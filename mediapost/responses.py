"""A response body turned into data or an API error, whatever format it came in (contract §3).

Liberal in what it accepts: XML or JSON is told by the first non-blank byte, not by what was
asked. Strict about safety: no DTD or entity in XML, a size cap, and the ``request_args`` echo
(session key, signature) is dropped here, so it cannot travel any further.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from mediapost.errors import MalformedResponse

MAX_RESPONSE_BYTES = 4 * 1024 * 1024

Fields = dict[str, str]
Payload = str | Fields | list[Fields]

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True)
class ApiFailure:
    """The server said no: its code and its own message (not yet redacted)."""

    code: int
    message: str


def parse_response(body: bytes, *, max_bytes: int = MAX_RESPONSE_BYTES) -> Payload | ApiFailure:
    """A success's payload, or the failure the server reported; MalformedResponse if neither."""
    if len(body) > max_bytes:
        raise MalformedResponse(f"response larger than {max_bytes} bytes")
    text = body.removeprefix(_BOM).lstrip(_WHITESPACE)
    if text.startswith(b"<"):
        return _parse_xml(text)
    if text[:1] in (b"{", b"[", b'"'):
        return _parse_json(text)
    raise MalformedResponse("response is neither XML nor JSON" if text else "empty response")


# XML


def _local(tag: str) -> str:
    """The tag without an ``{namespace}`` prefix (the ancestor API declared one)."""
    return tag.rpartition("}")[2]


def _text(element: Element) -> str:
    return (element.text or "").strip()


def _fields(element: Element) -> Fields:
    return {_local(child.tag): _text(child) for child in element}


def _parse_xml(body: bytes) -> Payload | ApiFailure:
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        # The exception's text quotes the DTD; it stays out of our message.
        raise MalformedResponse("XML response with a DTD or entity declaration refused") from None
    except ParseError as exc:
        raise MalformedResponse(f"XML response does not parse ({exc.position})") from None
    if _local(root.tag) == "error_response":
        fields = _fields(root)
        return _failure(fields.get("error_code"), fields.get("error_msg", ""))
    children = list(root)
    # A list is flagged list="true"; a root whose children all have children is one too (liberal).
    if root.get("list") == "true" or (children and all(len(child) for child in children)):
        return [_fields(child) for child in children]
    if not children:
        return _text(root)  # createToken: the token is the root's bare text
    return _fields(root)


# JSON


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_fields(value: Any) -> Fields:
    if not isinstance(value, dict):
        raise MalformedResponse("JSON list item is not an object")
    return {str(key): _scalar(item) for key, item in value.items()}


def _parse_json(body: bytes) -> Payload | ApiFailure:
    try:
        # Numbers keep their literal text: a 15+ digit id must never pass through a float.
        value = json.loads(body, parse_int=str, parse_float=str)
    except (ValueError, RecursionError):
        raise MalformedResponse("JSON response does not parse") from None
    if isinstance(value, dict):
        if "error_code" in value:
            return _failure(value["error_code"], value.get("error_msg"))
        return _json_fields(value)
    if isinstance(value, list):
        return [_json_fields(item) for item in value]
    if isinstance(value, str):
        return value.strip()
    raise MalformedResponse("JSON response is not an object, a list or a string")


def _failure(code: Any, message: Any) -> ApiFailure:
    try:
        number = int(str(code).strip())
    except ValueError:
        raise MalformedResponse("error response without a numeric error_code") from None
    return ApiFailure(code=number, message=_scalar(message))
