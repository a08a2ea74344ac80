"""Render API results and errors as XML or JSON, in the shapes of the contract (§3).

XML: `<?xml ...?>` then a root named for the method (`up.photos.upload` -> `photos_upload_response`)
holding one element per field; a list has `list="true"` and one child per item; a bare string
(createToken's token) is the root's text. JSON: an object, an array of objects, or a bare string.
Errors: `<error_response>` with `error_code`, `error_msg` and `request_args`, always HTTP 200.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

XML = "xml"
JSON = "json"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

Fields = dict[str, str | int]

# Characters XML 1.0 cannot carry at all, even escaped; a caption may contain them.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class ListResult:
    """A list result: each item's element name (`album`, `photo`, `community`) and the items."""

    item: str
    items: list[Fields]


Result = Fields | ListResult | str


def response_format(value: str | None) -> str:
    """XML unless the caller asked for JSON (case-insensitive), as the service defaults to XML."""
    return JSON if value is not None and value.strip().lower() == JSON else XML


def content_type(fmt: str) -> str:
    """The Content-Type header for a response format."""
    return "application/json; charset=utf-8" if fmt == JSON else "text/xml; charset=utf-8"


def root_name(method: str) -> str:
    """The XML root element for a method's response: no `up.` prefix, dots as underscores."""
    name = method.removeprefix("up.")
    return name.replace(".", "_") + "_response"


def render_result(method: str, result: Result, fmt: str) -> bytes:
    """The body of a successful response."""
    if fmt == JSON:
        value = result.items if isinstance(result, ListResult) else result
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    root = root_name(method)
    if isinstance(result, str):
        return f"{XML_DECLARATION}<{root}>{_text(result)}</{root}>\n".encode()
    if isinstance(result, ListResult):
        if not result.items:
            return f'{XML_DECLARATION}<{root} list="true"></{root}>\n'.encode()
        items = "".join(
            f"  <{result.item}>\n{_fields(i, 4)}  </{result.item}>\n" for i in result.items
        )
        return f'{XML_DECLARATION}<{root} list="true">\n{items}</{root}>\n'.encode()
    return f"{XML_DECLARATION}<{root}>\n{_fields(result, 2)}</{root}>\n".encode()


def render_error(code: int, message: str, args: Sequence[tuple[str, str]], fmt: str) -> bytes:
    """The body of an error response; `args` are the request's parameters, echoed as sent."""
    if fmt == JSON:
        body = {
            "error_code": code,
            "error_msg": message,
            "request_args": [{"key": k, "value": v} for k, v in args],
        }
        return json.dumps(body, ensure_ascii=False).encode("utf-8")
    arg_xml = "".join(
        f"    <arg><key>{_text(k)}</key><value>{_text(v)}</value></arg>\n" for k, v in args
    )
    return (
        f"{XML_DECLARATION}<error_response>\n"
        f"  <error_code>{code}</error_code>\n"
        f"  <error_msg>{_text(message)}</error_msg>\n"
        f'  <request_args list="true">\n{arg_xml}  </request_args>\n'
        f"</error_response>\n"
    ).encode()


def _fields(fields: Fields, indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}<{name}>{_text(str(value))}</{name}>\n" for name, value in fields.items())


def _text(value: str) -> str:
    return escape(_NOT_XML_CHAR.sub("\ufffd", value))
