"""Albums and photo queries: limits, ownership, the default album, getAlbums and get."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from emulator.server import RunningEmulator
from tests.emulator.handmade import (
    API_KEY,
    COMMUNITY,
    DEMO_UID,
    SESSION,
    call,
    call_json,
    create_album,
    error_code,
    signed,
    upload,
    xml,
)


def test_create_album_returns_the_contract_fields(emu: RunningEmulator) -> None:
    """createAlbum answers aid cover_pid(=0) owner name created description link size(=0)."""
    root = xml(call(emu.url, "up.photos.createAlbum", name="Trip", description="d"))
    assert root.tag == "photos_createAlbum_response"
    assert [c.tag for c in root] == [
        "aid", "cover_pid", "owner", "name", "created", "description", "link", "size",
    ]  # fmt: skip
    assert root.findtext("cover_pid") == "0" and root.findtext("size") == "0"
    assert root.findtext("owner") == DEMO_UID and root.findtext("name") == "Trip"
    aid = root.findtext("aid", "")
    assert len(aid) == 15 and aid.isdigit()


def test_create_album_without_name_gets_100(emu: RunningEmulator) -> None:
    """name is required."""
    assert error_code(call(emu.url, "up.photos.createAlbum")) == 100


def test_get_albums_by_get_query_string(emu: RunningEmulator) -> None:
    """getAlbums works as a GET with a query string, listing album elements with all fields."""
    aid = create_album(emu.url, "Trip & Co <1>")
    params = signed(
        [
            ("method", "up.photos.getAlbums"),
            ("api_key", API_KEY),
            ("community", COMMUNITY),
            ("session_key", SESSION),
            ("uid", DEMO_UID),
        ]
    )
    root = xml(httpx.get(emu.url, params=dict(params)))
    assert root.tag == "photos_getAlbums_response" and root.get("list") == "true"
    [album] = root.findall("album")
    assert [c.tag for c in album] == [
        "aid", "cover_pid", "owner", "name", "created", "modified",
        "description", "location", "link", "size",
    ]  # fmt: skip
    assert album.findtext("aid") == aid and album.findtext("name") == "Trip & Co <1>"


def test_get_albums_by_aids_in_json_and_empty_list(emu: RunningEmulator) -> None:
    """aids selects albums; JSON is an array; no match is an empty list / empty root."""
    first, second = create_album(emu.url, "A"), create_album(emu.url, "B")
    upload(emu.url, aid=second)
    albums = call_json(emu.url, "up.photos.getAlbums", aids=f"{second},{first}")
    assert {a["aid"]: a["size"] for a in albums} == {first: 0, second: 1}
    assert call_json(emu.url, "up.photos.getAlbums", aids="123456789012345") == []
    root = xml(call(emu.url, "up.photos.getAlbums", uid="100000000000999"))
    assert root.get("list") == "true" and len(root) == 0 and not (root.text or "").strip()


def test_get_albums_needs_uid_or_aids(emu: RunningEmulator) -> None:
    """One of uid and aids is required."""
    assert error_code(call(emu.url, "up.photos.getAlbums")) == 100


def test_regular_album_takes_60_photos_and_the_61st_gets_321(emu: RunningEmulator) -> None:
    """A regular album holds at most 60 photos; one more is 'Album is full'."""
    aid = create_album(emu.url)
    for i in range(60):
        assert error_code(upload(emu.url, aid=aid, caption=str(i))) is None
    full = xml(upload(emu.url, aid=aid))
    assert full.findtext("error_code") == "321"
    assert full.findtext("error_msg", "").startswith("Album is full")
    assert call_json(emu.url, "up.photos.getAlbums", aids=aid)[0]["size"] == 60


def test_unknown_aid_gets_120(emu: RunningEmulator) -> None:
    """Uploading into an album that does not exist is 'Invalid album id'."""
    assert error_code(upload(emu.url, aid="123456789012345")) == 120


def test_album_of_another_user_gets_120(emu: RunningEmulator) -> None:
    """A user cannot upload into someone else's album."""
    other = emu.admin("sessions", {"uid": "100000000000002"})["session_key"]
    aid = create_album(emu.url, "Theirs", session=other)
    assert error_code(upload(emu.url, aid=aid)) == 120


def test_default_album_is_created_on_first_use_and_holds_1000(emu: RunningEmulator) -> None:
    """Without aid the app's default album is used (made once), and it is full at 1000 photos."""
    first = xml(upload(emu.url))
    aid = first.findtext("aid", "")
    assert xml(upload(emu.url)).findtext("aid") == aid
    filled = emu.admin("albums/fill", {"aid": aid})
    assert filled["added"] == 998 and filled["size"] == 1000 and filled["limit"] == 1000
    assert error_code(upload(emu.url)) == 321
    [album] = emu.inspect()["albums"]
    assert album["is_default"] is True and album["size"] == 1000


def test_admin_fill_fills_an_album_behind_the_clients_back(emu: RunningEmulator) -> None:
    """Placeholders count towards the limit, so the client's next upload finds the album full."""
    aid = create_album(emu.url)
    assert emu.admin("albums/fill", {"aid": aid, "count": 59})["size"] == 59
    assert error_code(upload(emu.url, aid=aid)) is None
    assert error_code(upload(emu.url, aid=aid)) == 321


def test_get_by_aid_returns_all_photos_ordered_by_pid_with_paging(emu: RunningEmulator) -> None:
    """photos.get by aid pages through the album's photos in pid order."""
    aid = create_album(emu.url)
    pids = [xml(upload(emu.url, aid=aid, caption=str(i))).findtext("pid", "") for i in range(12)]
    page1 = call_json(emu.url, "up.photos.get", aid=aid)
    page2 = call_json(emu.url, "up.photos.get", aid=aid, pageNumber="2")
    assert len(page1) == 10 and len(page2) == 2
    assert [p["pid"] for p in page1 + page2] == sorted(pids, key=int)
    big = call_json(emu.url, "up.photos.get", aid=aid, pageSize="1000")
    assert len(big) == 12
    assert set(big[0]) == {
        "pid", "aid", "owner", "src", "src_big", "src_small", "link", "caption", "created",
    }  # fmt: skip
    assert error_code(call(emu.url, "up.photos.get", aid=aid, pageSize="1001")) == 100


def test_get_xml_lists_photo_elements(emu: RunningEmulator) -> None:
    """In XML, photos.get is a list root with one <photo> per item."""
    aid = create_album(emu.url)
    upload(emu.url, aid=aid)
    root = xml(call(emu.url, "up.photos.get", aid=aid))
    assert root.tag == "photos_get_response" and root.get("list") == "true"
    assert [c.tag for c in root] == ["photo"]


def test_pending_photos_are_returned_to_their_owner_only(
    start_emulator: Callable[..., RunningEmulator],
) -> None:
    """Without photo_upload the photos are pending: the owner sees them, other users do not."""
    emu = start_emulator(photo_upload_permission=False)
    aid = create_album(emu.url)
    pid = xml(upload(emu.url, aid=aid)).findtext("pid")
    assert emu.inspect()["photos"][0]["pending"] is True
    assert [p["pid"] for p in call_json(emu.url, "up.photos.get", aid=aid)] == [pid]
    other = emu.admin("sessions", {"uid": "100000000000002"})["session_key"]
    assert call_json(emu.url, "up.photos.get", session=other, aid=aid) == []
    assert call_json(emu.url, "up.photos.getAlbums", session=other, aids=aid)[0]["size"] == 1


def test_community_get_list(emu: RunningEmulator) -> None:
    """up.community.getList lists the demo community, without a session."""
    root = xml(call(emu.url, "up.community.getList", session=None))
    assert root.tag == "community_getList_response" and root.get("list") == "true"
    [community] = root.findall("community")
    assert community.findtext("name") == "demo"
    assert community.findtext("title") == "Demo community"


def test_unknown_method_gets_112(emu: RunningEmulator) -> None:
    """A method the service does not have is 'method not found'."""
    assert error_code(call(emu.url, "up.photos.delete")) == 112


def test_unknown_community_gets_100(emu: RunningEmulator) -> None:
    """The community must be one the service hosts."""
    fields = [
        ("method", "up.photos.getAlbums"),
        ("api_key", API_KEY),
        ("community", "elsewhere"),
        ("session_key", SESSION),
        ("uid", DEMO_UID),
    ]
    assert error_code(httpx.post(emu.url, data=dict(signed(fields)))) == 100
