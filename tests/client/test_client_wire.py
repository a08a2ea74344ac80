"""What the client puts on the wire: the seed's multipart bytes, and signed form posts."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import httpx
import pytest

from mediapost import BadFile, CallIdClock, Credentials

from .fakes import (
    API_KEY,
    COMMUNITY,
    ENDPOINT,
    PHOTO_XML,
    SECRET,
    SESSION_KEY,
    Server,
    client_for,
    ok,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake-jpeg-bytes\xff\xd9"
SEED_CALL_ID_NS = 1172623588_023010_000


def _boundary(request: httpx.Request) -> str:
    match = re.fullmatch(r"multipart/form-data; boundary=(\S+)", request.headers["content-type"])
    assert match, request.headers["content-type"]
    return match.group(1)


def test_upload_sends_the_seed_layout_byte_for_byte() -> None:
    """Every part in the seed's order, CRLF only, the signature worked out by hand."""
    server = Server([ok(PHOTO_XML)])
    seed_credentials = Credentials(
        api_key="77a52842357422fadd912a2600e6e53c",
        secret="mysecret",
        session_key="489727d0ab2efc6e8003018c-i2LLkn8BDb2s.",
        community="mycommunity",
    )
    client = client_for(
        server, credentials=seed_credentials, call_ids=CallIdClock(lambda: SEED_CALL_ID_NS)
    )
    client.upload(
        io.BytesIO(JPEG),
        filename="somefilename.jpg",
        caption="Under the sunset",
        aid="940915667462717",
    )

    request = server.requests[0]
    b = _boundary(request).encode()
    # The sig is the hand-computed digest of test_signing's seed vector (same parameters).
    expected = (
        b"--" + b + b'\r\nContent-Disposition: form-data; name="method"\r\n\r\n'
        b"up.photos.upload\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n'
        b"77a52842357422fadd912a2600e6e53c\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="community"\r\n\r\n'
        b"mycommunity\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="session_key"\r\n\r\n'
        b"489727d0ab2efc6e8003018c-i2LLkn8BDb2s.\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="call_id"\r\n\r\n'
        b"1172623588.023010\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="caption"\r\n\r\n'
        b"Under the sunset\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="aid"\r\n\r\n'
        b"940915667462717\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="sig"\r\n\r\n'
        b"eba81bbe09d750f9d5bd5a551720a099\r\n"
        b"--" + b + b'\r\nContent-Disposition: form-data; name="data"; '
        b'filename="somefilename.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        + JPEG
        + b"\r\n--"
        + b
        + b"--\r\n"
    )
    assert request.content == expected
    assert request.method == "POST"
    assert str(request.url) == ENDPOINT
    assert request.headers["content-length"] == str(len(expected))
    assert "transfer-encoding" not in request.headers
    assert request.headers["mime-version"] == "1.0"
    outside_file = request.content.replace(JPEG, b"")
    assert b"\n" not in outside_file.replace(b"\r\n", b"")
    assert b"\r" not in outside_file.replace(b"\r\n", b"")


def test_caption_line_breaks_are_sent_and_signed_as_crlf() -> None:
    """A caption with a bare LF goes out with CRLF, and the signature covers the CRLF form."""
    server = Server([ok(PHOTO_XML)])
    creds = Credentials(api_key="k", secret="s", session_key="sk", community="c")
    client = client_for(server, credentials=creds, call_ids=CallIdClock(lambda: 10**18 + 1000))
    client.upload(io.BytesIO(JPEG), filename="x.jpg", caption="line1\nline2")
    body = server.requests[0].content
    assert b'name="caption"\r\n\r\nline1\r\nline2\r\n' in body
    signed = (
        "api_key=kcall_id=1000000000.000001caption=line1\r\nline2"
        "community=cmethod=up.photos.uploadsession_key=sks"
    )
    assert hashlib.md5(signed.encode()).hexdigest().encode() in body


def test_other_methods_post_a_signed_form_with_nothing_secret_in_the_url() -> None:
    """api_key, session_key and sig travel in the POST body only."""
    server = Server([ok(b'<photos_getAlbums_response list="true"></photos_getAlbums_response>')])
    client = client_for(server, call_ids=CallIdClock(lambda: SEED_CALL_ID_NS))
    assert client.get_albums(uid="219074") == []

    request = server.requests[0]
    assert request.method == "POST"
    assert str(request.url) == ENDPOINT
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["content-length"] == str(len(request.content))
    form = server.form()
    sig = form.pop("sig")
    assert form == {
        "method": "up.photos.getAlbums",
        "api_key": API_KEY,
        "community": COMMUNITY,
        "session_key": SESSION_KEY,
        "call_id": "1172623588.023010",
        "uid": "219074",
    }
    text = (
        f"api_key={API_KEY}call_id=1172623588.023010community={COMMUNITY}"
        f"method=up.photos.getAlbumssession_key={SESSION_KEY}uid=219074{SECRET}"
    )
    assert sig == hashlib.md5(text.encode()).hexdigest()


def test_form_values_are_url_encoded_on_the_wire_but_signed_raw() -> None:
    """``&``, ``=``, spaces and UTF-8 survive the form encoding; the sig is over raw text."""
    server = Server(
        [ok(b"<photos_createAlbum_response><aid>7</aid></photos_createAlbum_response>")]
    )
    client = client_for(server, call_ids=CallIdClock(lambda: SEED_CALL_ID_NS))
    client.create_album("Caf\u00e9 & co = 1", description="a b")
    assert b"name=Caf%C3%A9+%26+co+%3D+1" in server.requests[0].content
    form = server.form()
    text = (
        f"api_key={API_KEY}call_id=1172623588.023010community={COMMUNITY}description=a b"
        f"method=up.photos.createAlbumname=Caf\u00e9 & co = 1session_key={SESSION_KEY}{SECRET}"
    )
    assert form["sig"] == hashlib.md5(text.encode()).hexdigest()


def test_json_format_is_asked_for_and_signed() -> None:
    """``format=JSON`` is a parameter like the others, before ``sig`` in a multipart body."""
    server = Server([ok(b'{"pid": "1", "aid": "2", "owner": "3"}')])
    client = client_for(server, response_format="json")
    client.upload(io.BytesIO(JPEG), filename="x.jpg")
    body = server.requests[0].content
    assert body.index(b'name="format"\r\n\r\nJSON') < body.index(b'name="sig"')


def test_xml_format_is_the_default_and_not_sent() -> None:
    """The server's default needs no parameter."""
    server = Server([ok(b"<r><aid>7</aid></r>")])
    client_for(server).create_album("a")
    assert "format" not in server.form()


def test_create_token_uses_the_auth_spelling_and_no_session() -> None:
    """``apiKey`` and ``apiSig``, no ``session_key``, the token from the root's text."""
    server = Server([ok(b"<auth_createToken_response>tok123</auth_createToken_response>")])
    client = client_for(server, call_ids=CallIdClock(lambda: SEED_CALL_ID_NS))
    assert client.create_token(expires_minutes=0) == "tok123"
    form = server.form()
    assert set(form) == {"method", "apiKey", "community", "call_id", "expires", "apiSig"}
    text = (
        f"apiKey={API_KEY}call_id=1172623588.023010community={COMMUNITY}expires=0"
        f"method=up.auth.createToken{SECRET}"
    )
    assert form["apiSig"] == hashlib.md5(text.encode()).hexdigest()


def test_get_session_sends_the_token_without_a_session_key() -> None:
    """The exchange is signed with api_key/sig; the session comes back with its key hidden."""
    body = (
        b"<auth_getSession_response><session_key>NEWKEY-123456</session_key>"
        b"<uid>219074</uid><expires>0</expires></auth_getSession_response>"
    )
    server = Server([ok(body)])
    session = client_for(server).get_session("tok123")
    assert (session.session_key, session.uid, session.expires) == ("NEWKEY-123456", "219074", 0)
    form = server.form()
    assert form["auth_token"] == "tok123"
    assert "session_key" not in form
    assert "NEWKEY-123456" not in repr(session)
    assert "NEWKEY-123456" not in str(session)


def test_upload_sniffs_the_type_from_a_path_and_reads_its_size_from_fstat(tmp_path: Path) -> None:
    """A PNG named .jpg goes out as image/png; the file is opened and closed by the client."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    path = tmp_path / "wrong-name.jpg"
    path.write_bytes(png)
    server = Server([ok(PHOTO_XML)])
    result = client_for(server).upload(path, filename="wrong-name.jpg")
    assert result.photo.pid == "940915697041656"
    assert result.attempts == 1
    content = server.requests[0].content
    assert b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--" in content


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7 not an image"])
def test_empty_or_non_image_file_is_refused_before_sending(data: bytes) -> None:
    """BadFile, and nothing reaches the server."""
    server = Server([ok(PHOTO_XML)])
    with pytest.raises(BadFile):
        client_for(server).upload(io.BytesIO(data), filename="x.jpg")
    assert server.requests == []


def test_an_explicit_content_type_is_trusted() -> None:
    """The caller's validated type is sent as is (no sniffing)."""
    server = Server([ok(PHOTO_XML)])
    client_for(server).upload(io.BytesIO(b"raw"), filename="x.heic", content_type="image/heic")
    assert b"Content-Type: image/heic\r\n\r\nraw\r\n" in server.requests[0].content
