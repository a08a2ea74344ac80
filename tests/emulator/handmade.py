"""Requests built by hand from the contract, so the emulator is checked without any client code."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import httpx
from defusedxml import ElementTree
from PIL import Image

API_KEY = "demo-key"
SECRET = "demo-secret"
SESSION = "demo-session"
COMMUNITY = "demo"
DEMO_UID = "100000000000001"
SEED_BOUNDARY = "SoMeTeXtWeWiLlNeVeRsEe"

Params = Sequence[tuple[str, str]]


def _jpeg(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(out, "JPEG")
    return out.getvalue()


JPEG = _jpeg((200, 40, 40))
OTHER_JPEG = _jpeg((40, 40, 200))


def sign(params: Params, secret: str = SECRET) -> str:
    """The contract's rule: name=value of all but sig/apiSig/data, sorted by name, + secret, MD5."""
    kept = sorted((p for p in params if p[0] not in ("sig", "apiSig", "data")), key=lambda p: p[0])
    text = "".join(f"{name}={value}" for name, value in kept) + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def signed(params: Params, secret: str = SECRET, sig_name: str = "sig") -> list[tuple[str, str]]:
    """The params with their signature appended."""
    return [*params, (sig_name, sign(params, secret))]


@dataclass
class FilePart:
    """The `data` part of an upload as the test wants it sent."""

    content: bytes
    filename: str | None = "photo.jpg"
    content_type: str | None = "image/jpeg"
    name: str = "data"


def multipart(
    fields: Params,
    file: FilePart | None = None,
    boundary: str = SEED_BOUNDARY,
    newline: bytes = b"\r\n",
) -> bytes:
    """A multipart/form-data body shaped like the seed document's example."""
    nl = newline
    out = bytearray()
    for name, value in fields:
        out += b"--" + boundary.encode() + nl
        out += f'Content-Disposition: form-data; name="{name}"'.encode() + nl + nl
        out += value.encode() + nl
    if file is not None:
        out += b"--" + boundary.encode() + nl
        disposition = f'Content-Disposition: form-data; name="{file.name}"'
        if file.filename is not None:
            disposition += f'; filename="{file.filename}"'
        out += disposition.encode() + nl
        if file.content_type is not None:
            out += f"Content-Type: {file.content_type}".encode() + nl
        out += nl + file.content + nl
    out += b"--" + boundary.encode() + b"--" + nl
    return bytes(out)


def post_multipart(
    url: str, body: bytes, boundary: str = SEED_BOUNDARY, timeout: float = 30
) -> httpx.Response:
    """POST a hand-built multipart body with the seed's headers."""
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "MIME-version": "1.0"}
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


def upload(
    url: str,
    content: bytes = JPEG,
    *,
    filename: str = "photo.jpg",
    caption: str | None = None,
    aid: str | None = None,
    session: str = SESSION,
    fmt: str | None = None,
    extra: Params = (),
    timeout: float = 30,
) -> httpx.Response:
    """Upload one image the way the seed shows, signed correctly."""
    fields = [
        ("method", "up.photos.upload"),
        ("api_key", API_KEY),
        ("community", COMMUNITY),
        ("session_key", session),
    ]
    if caption is not None:
        fields.append(("caption", caption))
    if aid is not None:
        fields.append(("aid", aid))
    if fmt is not None:
        fields.append(("format", fmt))
    fields += extra
    body = multipart(signed(fields), FilePart(content, filename))
    return post_multipart(url, body, timeout=timeout)


def call(url: str, method: str, *, session: str | None = SESSION, **params: str) -> httpx.Response:
    """Call a non-upload method as a signed urlencoded POST (the contract's Decision)."""
    fields = [("method", method), ("api_key", API_KEY), ("community", COMMUNITY)]
    if session is not None:
        fields.append(("session_key", session))
    fields += list(params.items())
    return httpx.post(url, data=dict(signed(fields)), timeout=30)


def call_json(url: str, method: str, **params: str) -> Any:
    """Call a method asking for JSON and decode the answer."""
    return json.loads(call(url, method, format="json", **params).content)


def xml(response: httpx.Response) -> Element:
    """Parse an XML answer safely."""
    root: Element = ElementTree.fromstring(response.content)
    return root


def error_code(response: httpx.Response) -> int | None:
    """The error code of an XML or JSON answer, None for a success."""
    if response.content.lstrip().startswith(b"{"):
        body = response.json()
        return int(body["error_code"]) if isinstance(body, dict) and "error_code" in body else None
    root = xml(response)
    return int(root.findtext("error_code", "")) if root.tag == "error_response" else None


def create_album(url: str, name: str = "Holiday", session: str = SESSION) -> str:
    """Create an album and return its aid."""
    root = xml(call(url, "up.photos.createAlbum", session=session, name=name))
    assert root.tag == "photos_createAlbum_response", root.tag
    return root.findtext("aid", "")
