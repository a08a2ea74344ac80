"""Uploads built by hand (seed-shaped bodies, curl) and the errors the emulator answers to them."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from emulator.server import RunningEmulator
from tests.emulator.handmade import (
    API_KEY,
    COMMUNITY,
    DEMO_UID,
    JPEG,
    SEED_BOUNDARY,
    SESSION,
    FilePart,
    create_album,
    error_code,
    multipart,
    post_multipart,
    sign,
    signed,
    upload,
    xml,
)


def seed_fields(aid: str) -> list[tuple[str, str]]:
    """The seed example's fields in its order, with our demo identities."""
    return [
        ("method", "up.photos.upload"),
        ("api_key", API_KEY),
        ("community", COMMUNITY),
        ("session_key", SESSION),
        ("call_id", "1172623588.023010"),
        ("caption", "Under the sunset"),
        ("aid", aid),
    ]


def test_seed_shaped_upload_is_stored_and_answered_like_the_seed(emu: RunningEmulator) -> None:
    """A body exactly like the seed's example (CRLF, image/jpg) gets a photos_upload_response."""
    aid = create_album(emu.url)
    body = multipart(signed(seed_fields(aid)), FilePart(JPEG, "somefilename.jpg", "image/jpg"))
    response = post_multipart(emu.url, body)
    root = xml(response)
    assert response.status_code == 200
    assert root.tag == "photos_upload_response"
    assert [child.tag for child in root] == [
        "pid", "aid", "owner", "src", "src_big", "src_small", "link", "caption",
    ]  # fmt: skip
    pid = root.findtext("pid", "")
    assert len(pid) == 15 and pid.isdigit()
    assert root.findtext("aid") == aid
    assert root.findtext("owner") == DEMO_UID
    assert root.findtext("caption") == "Under the sunset"
    assert root.findtext("src") == f"{emu.base_url}/photos/{pid}"
    assert httpx.get(f"{emu.base_url}/photos/{pid}").content == JPEG


def test_inspect_shows_the_stored_photo_with_its_sha256(emu: RunningEmulator) -> None:
    """The inspection endpoint lists the photo with size, hash, filename and type as sent."""
    pid = xml(upload(emu.url, caption="c1", filename="a b.jpg")).findtext("pid")
    snapshot = emu.inspect()
    [photo] = snapshot["photos"]
    assert photo["pid"] == pid
    assert photo["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert photo["size"] == len(JPEG)
    assert photo["filename"] == "a b.jpg"
    assert photo["content_type"] == "image/jpeg"
    assert photo["caption"] == "c1"
    assert photo["pending"] is False
    assert snapshot["counters"]["requests"] == {"up.photos.upload": 1}
    [album] = snapshot["albums"]
    assert album["is_default"] is True and album["size"] == 1 and album["limit"] == 1000


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_multipart_upload_is_accepted_and_stored_intact(
    emu: RunningEmulator, tmp_path: Path
) -> None:
    """curl -F builds its own CRLF multipart (1.5 MB, Expect: 100-continue); bytes arrive intact."""
    image = tmp_path / "big.jpg"
    content = b"\xff\xd8\xff\xe0" + os.urandom(1_500_000) + b"\r\n--" + SEED_BOUNDARY.encode()
    image.write_bytes(content)
    fields = [
        ("method", "up.photos.upload"),
        ("api_key", API_KEY),
        ("community", COMMUNITY),
        ("session_key", SESSION),
        ("caption", "from curl"),
        ("format", "JSON"),
    ]
    args = ["curl", "-sS", "--max-time", "30"]
    for name, value in signed(fields):
        args += ["--form-string", f"{name}={value}"]
    args += ["-F", f"data=@{image};type=image/jpeg", emu.url]
    result = subprocess.run(args, capture_output=True, check=True, timeout=60)
    body = httpx.Response(200, content=result.stdout).json()
    assert body["caption"] == "from curl"
    [photo] = emu.inspect()["photos"]
    assert photo["pid"] == body["pid"]
    assert photo["sha256"] == hashlib.sha256(content).hexdigest()
    assert photo["filename"] == "big.jpg"


def test_chunked_upload_split_anywhere_is_stored_intact(emu: RunningEmulator) -> None:
    """Transfer-Encoding: chunked, HTTP chunks of 1 B to 64 KiB cutting through delimiters."""
    aid = create_album(emu.url)
    almost_a_delimiter = b"\r\n--" + SEED_BOUNDARY[:-1].encode()
    content = b"\xff\xd8\xff\xe0" + os.urandom(300_000) + almost_a_delimiter
    body = multipart(signed(seed_fields(aid)), FilePart(content))
    sizes = [1, 3, 17, 65536, 2, 40]
    pieces: list[bytes] = []
    at = 0
    while at < len(body):
        size = sizes[len(pieces) % len(sizes)]
        pieces.append(body[at : at + size])
        at += size
    headers = {"Content-Type": f"multipart/form-data; boundary={SEED_BOUNDARY}"}
    # An iterator makes httpx send each piece as its own HTTP chunk, with no Content-Length.
    response = httpx.post(emu.url, content=iter(pieces), headers=headers, timeout=30)
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert xml(response).findtext("aid") == aid
    [photo] = emu.inspect()["photos"]
    assert photo["sha256"] == hashlib.sha256(content).hexdigest()
    assert photo["size"] == len(content)


def test_bare_lf_body_is_rejected_with_100_and_a_clear_message(emu: RunningEmulator) -> None:
    """The seed's body with \\n instead of \\r\\n is refused: the contract requires CRLF."""
    aid = create_album(emu.url)
    body = multipart(signed(seed_fields(aid)), FilePart(JPEG), newline=b"\n")
    root = xml(post_multipart(emu.url, body))
    assert root.tag == "error_response"
    assert root.findtext("error_code") == "100"
    assert "CRLF" in root.findtext("error_msg", "")
    assert emu.inspect()["photos"] == []


def test_bare_lf_before_a_delimiter_is_rejected_with_100(emu: RunningEmulator) -> None:
    """CRLF headers but a bare LF before the next boundary is still a malformed body."""
    body = multipart(signed(seed_fields(create_album(emu.url))), FilePart(JPEG))
    broken = body.replace(b"up.photos.upload\r\n--", b"up.photos.upload\n--", 1)
    root = xml(post_multipart(emu.url, broken))
    assert root.findtext("error_code") == "100"
    assert "CRLF" in root.findtext("error_msg", "")


def test_wrong_signature_gets_104(emu: RunningEmulator) -> None:
    """A signature made with another secret is refused."""
    fields = seed_fields(create_album(emu.url))
    body = multipart(signed(fields, secret="not-the-secret"), FilePart(JPEG))
    assert error_code(post_multipart(emu.url, body)) == 104


def test_signature_covers_the_caption(emu: RunningEmulator) -> None:
    """Changing a signed field after signing breaks the signature."""
    fields = signed(seed_fields(create_album(emu.url)))
    tampered = [(k, "Over the sunset" if k == "caption" else v) for k, v in fields]
    assert error_code(post_multipart(emu.url, multipart(tampered, FilePart(JPEG)))) == 104


def test_unknown_api_key_gets_101(emu: RunningEmulator) -> None:
    """An api key no application has is refused before the signature is checked."""
    fields = [(k, "nope" if k == "api_key" else v) for k, v in seed_fields("1")]
    assert error_code(post_multipart(emu.url, multipart(signed(fields), FilePart(JPEG)))) == 101


def test_bad_session_key_gets_102(emu: RunningEmulator) -> None:
    """An unknown session key is refused with 102 and nothing is stored."""
    assert error_code(upload(emu.url, session="not-a-session")) == 102
    assert emu.inspect()["photos"] == []


def test_apikey_and_apisig_spellings_are_accepted(emu: RunningEmulator) -> None:
    """The alternative spellings of the auth guide work for uploads too."""
    fields = [
        ("method", "up.photos.upload"),
        ("apiKey", API_KEY),
        ("community", COMMUNITY),
        ("session_key", SESSION),
    ]
    body = multipart(signed(fields, sig_name="apiSig"), FilePart(JPEG))
    assert xml(post_multipart(emu.url, body)).tag == "photos_upload_response"


def test_upload_answers_json_when_asked(emu: RunningEmulator) -> None:
    """format=json (any case) gives a JSON object with the same fields."""
    body = upload(emu.url, fmt="Json", caption="j").json()
    assert set(body) == {"pid", "aid", "owner", "src", "src_big", "src_small", "link", "caption"}
    assert body["caption"] == "j"


def test_error_echoes_request_args_but_never_the_image(emu: RunningEmulator) -> None:
    """request_args lists every parameter as sent (session and sig included), without `data`."""
    root = xml(upload(emu.url, session="expired-key"))
    args = {arg.findtext("key"): arg.findtext("value") for arg in root.iterfind("request_args/arg")}
    assert root.find("request_args").get("list") == "true"  # type: ignore[union-attr]
    assert args["session_key"] == "expired-key"
    assert args["method"] == "up.photos.upload"
    assert "sig" in args
    assert "data" not in args


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        (None, "no data part"),
        (FilePart(JPEG, filename=None), "no filename"),
        (FilePart(JPEG, content_type=None), "no content type"),
        (FilePart(b""), "empty"),
        (FilePart(b"just some text, not an image"), "not an image"),
    ],
)
def test_missing_or_invalid_image_gets_324(
    emu: RunningEmulator, part: FilePart | None, reason: str
) -> None:
    """The data part must be a named, typed, non-empty image."""
    fields = [
        ("method", "up.photos.upload"),
        ("api_key", API_KEY),
        ("community", COMMUNITY),
        ("session_key", SESSION),
    ]
    response = post_multipart(emu.url, multipart(signed(fields), part))
    assert error_code(response) == 324, reason


def test_upload_without_multipart_is_refused_with_100(emu: RunningEmulator) -> None:
    """up.photos.upload must be multipart; a urlencoded one cannot carry the image."""
    fields = [
        ("method", "up.photos.upload"),
        ("api_key", API_KEY),
        ("community", COMMUNITY),
        ("session_key", SESSION),
    ]
    assert error_code(httpx.post(emu.url, data=dict(signed(fields)))) == 100


def test_large_text_field_is_refused_with_100(emu: RunningEmulator) -> None:
    """Fields other than `data` are capped, so a misnamed file part cannot fill memory."""
    response = upload(emu.url, caption="x" * (70 * 1024))
    assert error_code(response) == 100


def test_signature_rule_matches_the_contract_example() -> None:
    """The test helper itself follows §2: sorted names, raw values, secret appended, MD5."""
    params = [("method", "up.photos.get"), ("aid", "1"), ("caption", "a b&c")]
    expected = hashlib.md5(b"aid=1caption=a b&cmethod=up.photos.getdemo-secret").hexdigest()
    assert sign(params) == expected
