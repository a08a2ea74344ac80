"""The gallery page and the photo files it shows."""

from __future__ import annotations

import httpx

from emulator.server import RunningEmulator
from tests.emulator.handmade import JPEG, create_album, upload, xml


def test_gallery_shows_albums_fill_level_and_thumbnails(emu: RunningEmulator) -> None:
    """Each album appears with its name, 'n / limit' and an img per photo."""
    aid = create_album(emu.url, "Summer 2024")
    pid = xml(upload(emu.url, aid=aid, caption="beach")).findtext("pid")
    emu.admin("albums/fill", {"aid": aid, "count": 41})
    page = httpx.get(emu.base_url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Summer 2024" in page.text
    assert "42 / 60" in page.text
    assert f'<img loading="lazy" src="/thumbs/{pid}"' in page.text
    assert page.text.count("<img ") == 42


def test_gallery_escapes_captions_and_album_names(emu: RunningEmulator) -> None:
    """User data such as a caption with <script> is shown as text, never as markup."""
    aid = create_album(emu.url, "<b>bold</b> & co")
    upload(emu.url, aid=aid, caption="<script>alert(1)</script>", filename='x"><svg onload=1>.jpg')
    page = httpx.get(emu.base_url + "/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "<svg onload" not in page


def test_empty_gallery_says_so(emu: RunningEmulator) -> None:
    """A fresh emulator shows an explanatory empty state."""
    assert "No albums yet" in httpx.get(emu.base_url + "/").text


def test_photo_is_served_with_its_real_type_and_thumbnail_is_a_jpeg(emu: RunningEmulator) -> None:
    """/photos/<pid> returns the bytes as sent; /thumbs/<pid> a JPEG made with Pillow."""
    pid = xml(upload(emu.url)).findtext("pid")
    photo = httpx.get(f"{emu.base_url}/photos/{pid}")
    assert photo.content == JPEG and photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["x-content-type-options"] == "nosniff"
    thumb = httpx.get(f"{emu.base_url}/thumbs/{pid}")
    assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8\xff")
    assert httpx.get(f"{emu.base_url}/photos/999999999999999").status_code == 404


def test_placeholder_photos_are_served_as_tiles(emu: RunningEmulator) -> None:
    """Admin placeholders have no bytes; they show as a grey SVG tile."""
    aid = create_album(emu.url)
    emu.admin("albums/fill", {"aid": aid, "count": 1})
    [photo] = emu.inspect()["photos"]
    assert photo["placeholder"] is True
    tile = httpx.get(f"{emu.base_url}/thumbs/{photo['pid']}")
    assert tile.headers["content-type"] == "image/svg+xml"
