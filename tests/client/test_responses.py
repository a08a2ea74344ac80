"""Response bodies: XML or JSON whatever was asked, errors told by shape, unsafe XML refused."""

from __future__ import annotations

import pytest

from mediapost.errors import MalformedResponse
from mediapost.responses import ApiFailure, parse_response

from .fakes import PHOTO_XML, SESSION_KEY, error_xml


def test_xml_object_becomes_a_dict_of_child_texts() -> None:
    """The seed's upload answer, ids as the exact strings sent."""
    assert parse_response(PHOTO_XML) == {
        "pid": "940915697041656",
        "aid": "940915667462717",
        "owner": "219074",
        "src": "http://media.test/s.jpg",
        "src_big": "http://media.test/n.jpg",
        "src_small": "http://media.test/t.jpg",
        "link": "http://media.test/p",
        "caption": "Under the sunset",
    }


def test_json_object_becomes_a_dict_of_strings() -> None:
    """Numbers, booleans and nulls come back as text."""
    body = b'{"aid": "1", "size": 0, "cover_pid": 0, "visible": true, "location": null}'
    assert parse_response(body) == {
        "aid": "1",
        "size": "0",
        "cover_pid": "0",
        "visible": "true",
        "location": "",
    }


def test_long_ids_stay_exact_strings_in_json_numbers() -> None:
    """A 19-digit id sent as a JSON number keeps every digit (no float on the way)."""
    body = b'{"pid": 9409156970416561234, "aid": 940915667462717, "owner": 2.5e3}'
    assert parse_response(body) == {
        "pid": "9409156970416561234",
        "aid": "940915667462717",
        "owner": "2.5e3",
    }


def test_xml_list_becomes_a_list_of_dicts() -> None:
    """``list="true"`` with one child per item."""
    body = (
        b'<photos_getAlbums_response list="true">'
        b"<album><aid>1</aid><size>60</size></album>"
        b"<album><aid>2</aid><size>3</size></album>"
        b"</photos_getAlbums_response>"
    )
    assert parse_response(body) == [{"aid": "1", "size": "60"}, {"aid": "2", "size": "3"}]


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?>\n<photos_get_response list="true"></photos_get_response>\n',
        b'<photos_get_response list="true"/>',
        b"[]",
        b"  \n []",
    ],
)
def test_empty_lists_parse_as_empty(body: bytes) -> None:
    """An empty root with the list flag, or ``[]``."""
    assert parse_response(body) == []


def test_json_array_becomes_a_list_of_dicts() -> None:
    """An array of objects, values as text."""
    body = b'[{"name": "mycommunity", "title": "My"}, {"name": "b", "title": "B"}]'
    assert parse_response(body) == [
        {"name": "mycommunity", "title": "My"},
        {"name": "b", "title": "B"},
    ]


def test_xml_list_without_the_flag_is_still_read_as_a_list() -> None:
    """Liberal: a root whose children all have children is a list of items."""
    body = b"<photos_get_response><photo><pid>1</pid></photo></photos_get_response>"
    assert parse_response(body) == [{"pid": "1"}]


def test_token_is_the_root_text_in_xml_and_a_string_in_json() -> None:
    """createToken returns its token bare."""
    xml = (
        b"<?xml version='1.0'?>\n"
        b"<auth_createToken_response>\n  3e4a22bb\n</auth_createToken_response>"
    )
    assert parse_response(xml) == "3e4a22bb"
    assert parse_response(b'"3e4a22bb"') == "3e4a22bb"


def test_namespaced_xml_is_read_by_local_names() -> None:
    """The ancestor API declared an xmlns; tags are read without it."""
    body = (
        b'<photos_upload_response xmlns="http://api.example/1.0/">'
        b"<pid>1</pid><aid>2</aid><owner>3</owner></photos_upload_response>"
    )
    assert parse_response(body) == {"pid": "1", "aid": "2", "owner": "3"}


def test_format_is_detected_by_the_body_not_by_what_was_asked() -> None:
    """A leading BOM and blank lines do not hide the first byte."""
    assert parse_response(b'\xef\xbb\xbf\r\n  {"pid": "1"}') == {"pid": "1"}
    assert parse_response(b"\n\n<r><pid>1</pid></r>") == {"pid": "1"}


def test_xml_error_response_gives_code_and_message_and_drops_request_args() -> None:
    """The echoed session key goes nowhere: the failure holds only code and message."""
    body = error_xml(
        2,
        "The service is not available at this time.",
        {"method": "up.photos.upload", "session_key": SESSION_KEY, "sig": "abcdef"},
    )
    failure = parse_response(body)
    assert failure == ApiFailure(code=2, message="The service is not available at this time.")
    assert SESSION_KEY not in repr(failure)


def test_json_error_response_gives_code_and_message() -> None:
    """An object with ``error_code`` is an error, whatever else it holds."""
    body = (
        b'{"error_code": 102, "error_msg": "Session key invalid", '
        b'"request_args": [{"key": "session_key", "value": "' + SESSION_KEY.encode() + b'"}]}'
    )
    failure = parse_response(body)
    assert failure == ApiFailure(code=102, message="Session key invalid")
    assert SESSION_KEY not in repr(failure)


def test_billion_laughs_is_refused_before_expansion() -> None:
    """A DTD with entities is a MalformedResponse, and the message does not quote it."""
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
        b"<photos_upload_response><pid>&lol3;</pid></photos_upload_response>"
    )
    with pytest.raises(MalformedResponse, match="DTD") as caught:
        parse_response(body)
    assert "lol" not in str(caught.value)


def test_external_entity_is_refused() -> None:
    """An XXE reading a local file never resolves."""
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<r><pid>&x;</pid></r>"
    )
    with pytest.raises(MalformedResponse):
        parse_response(body)


def test_oversized_body_is_refused() -> None:
    """Past the cap the body is not parsed at all."""
    body = b"<r><pid>" + b"1" * 200 + b"</pid></r>"
    with pytest.raises(MalformedResponse, match="larger than 100 bytes"):
        parse_response(body, max_bytes=100)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \r\n",
        b"<html><body>502 Bad Gateway",
        b"Internal Server Error",
        b'{"pid": ',
        b"42",
        b'[{"pid": "1"}, "x"]',
        b"<error_response><error_code>two</error_code></error_response>",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_garbage_is_a_malformed_response(body: bytes) -> None:
    """Empty, truncated, HTML, bare numbers and nonsense error codes."""
    with pytest.raises(MalformedResponse):
        parse_response(body)
