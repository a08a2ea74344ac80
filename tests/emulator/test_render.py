"""Response shapes (contract §3), parsed back with defusedxml."""

from __future__ import annotations

import json

from defusedxml import ElementTree

from emulator.render import (
    JSON,
    XML,
    ListResult,
    render_error,
    render_result,
    response_format,
    root_name,
)


def test_root_names_drop_up_and_use_underscores() -> None:
    """up.photos.upload → photos_upload_response; case is kept (getAlbums)."""
    assert root_name("up.photos.upload") == "photos_upload_response"
    assert root_name("up.photos.getAlbums") == "photos_getAlbums_response"
    assert root_name("up.auth.createToken") == "auth_createToken_response"


def test_format_is_xml_unless_json_in_any_case() -> None:
    """XML is the default; JSON is chosen case-insensitively."""
    assert response_format(None) == XML
    assert response_format("xml") == XML
    assert response_format(" JSON ") == JSON


def test_object_result_in_xml_and_json() -> None:
    """A single result is one element per field / a JSON object with the same names."""
    fields: dict[str, str | int] = {"pid": "123456789012345", "caption": "a < b & c"}
    root = ElementTree.fromstring(render_result("up.photos.upload", fields, XML))
    assert root.tag == "photos_upload_response"
    assert root.findtext("caption") == "a < b & c"
    assert json.loads(render_result("up.photos.upload", fields, JSON)) == fields


def test_list_result_and_empty_list() -> None:
    """Lists carry list="true" and one child per item; empty is an empty root and []."""
    items = ListResult("album", [{"aid": "1"}, {"aid": "2"}])
    root = ElementTree.fromstring(render_result("up.photos.getAlbums", items, XML))
    assert root.get("list") == "true" and [a.findtext("aid") for a in root] == ["1", "2"]
    empty = ElementTree.fromstring(render_result("up.photos.get", ListResult("photo", []), XML))
    assert empty.get("list") == "true" and len(empty) == 0
    assert json.loads(render_result("up.photos.get", ListResult("photo", []), JSON)) == []


def test_bare_string_result_is_the_root_text() -> None:
    """createToken's token is the root's text / a bare JSON string."""
    root = ElementTree.fromstring(render_result("up.auth.createToken", "tok", XML))
    assert root.text == "tok" and len(root) == 0
    assert json.loads(render_result("up.auth.createToken", "tok", JSON)) == "tok"


def test_error_shape_in_xml_and_json() -> None:
    """error_response with code, message and request_args as key/value pairs."""
    args = [("method", "up.photos.upload"), ("caption", "<x>")]
    root = ElementTree.fromstring(render_error(2, "down", args, XML))
    assert root.tag == "error_response"
    assert root.findtext("error_code") == "2" and root.findtext("error_msg") == "down"
    request_args = root.find("request_args")
    assert request_args is not None and request_args.get("list") == "true"
    assert [(a.findtext("key"), a.findtext("value")) for a in request_args] == args
    assert json.loads(render_error(2, "down", args, JSON)) == {
        "error_code": 2,
        "error_msg": "down",
        "request_args": [{"key": k, "value": v} for k, v in args],
    }


def test_characters_xml_cannot_carry_are_replaced() -> None:
    """A control character in a caption still yields well-formed XML."""
    body = render_result("up.photos.upload", {"caption": "a\x01b"}, XML)
    assert ElementTree.fromstring(body).findtext("caption") == "a\ufffdb"
