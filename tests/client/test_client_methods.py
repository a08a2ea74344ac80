"""Each API method: its parameters, its result model, and the client's lifecycle."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

import mediapost.client
from mediapost import (
    Album,
    Community,
    Credentials,
    FileChanged,
    MalformedResponse,
    MediaPostClient,
    Photo,
    SessionExpired,
)

from .fakes import CREDENTIALS, ENDPOINT, PHOTO_XML, Server, client_for, ok

ALBUMS_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<photos_getAlbums_response list="true">\n'
    b"  <album><aid>940915667462717</aid><cover_pid>0</cover_pid><owner>219074</owner>"
    b"<name>Holidays 1</name><created>1172623588</created><modified>1172623600</modified>"
    b"<description>d</description><location></location><link>http://l</link>"
    b"<size>60</size></album>\n"
    b"  <album><aid>2</aid><size></size></album>\n"
    b"</photos_getAlbums_response>\n"
)


def _photos_json(first: int, count: int) -> bytes:
    items = ",".join(
        f'{{"pid": {n}, "aid": 7, "owner": 1, "caption": "c{n}", "created": 5}}'
        for n in range(first, first + count)
    )
    return f"[{items}]".encode()


def test_get_albums_returns_albums_with_ids_as_strings_and_size_as_int() -> None:
    """Every field of contract §4; an empty size is unknown (None)."""
    server = Server([ok(ALBUMS_XML)])
    albums = client_for(server).get_albums(aids=["940915667462717", "2"])
    assert albums == [
        Album(
            aid="940915667462717",
            cover_pid="0",
            owner="219074",
            name="Holidays 1",
            created="1172623588",
            modified="1172623600",
            description="d",
            location="",
            link="http://l",
            size=60,
        ),
        Album(aid="2", size=None),
    ]
    assert server.form()["aids"] == "940915667462717,2"
    assert "uid" not in server.form()


def test_get_albums_needs_an_owner_or_ids() -> None:
    """The API requires one of them; the client says so before calling."""
    with pytest.raises(ValueError, match="uid or aids"):
        client_for(Server([ok(ALBUMS_XML)])).get_albums()


def test_create_album_returns_the_new_album() -> None:
    """JSON numbers for ids and size come back as exact strings / ints."""
    body = b'{"aid": 940915667462718, "cover_pid": 0, "owner": 219074, "name": "A", "size": 0}'
    server = Server([ok(body)])
    album = client_for(server, response_format="JSON").create_album("A")
    assert (album.aid, album.owner, album.size) == ("940915667462718", "219074", 0)
    assert server.form()["name"] == "A"
    assert "description" not in server.form()


def test_get_photos_sends_paging_and_returns_photos() -> None:
    """pageSize/pageNumber spelled as the contract spells them."""
    server = Server([ok(_photos_json(1, 2))])
    photos = client_for(server).get_photos(pids=["1", "2"], page_size=2, page_number=3)
    assert photos == [
        Photo(pid="1", aid="7", owner="1", caption="c1", created="5"),
        Photo(pid="2", aid="7", owner="1", caption="c2", created="5"),
    ]
    form = server.form()
    assert (form["pids"], form["pageSize"], form["pageNumber"]) == ("1,2", "2", "3")


def test_iter_album_photos_pages_until_a_short_page() -> None:
    """Three pages of 2, 2 and 1: five photos, three calls."""
    server = Server([ok(_photos_json(1, 2)), ok(_photos_json(3, 2)), ok(_photos_json(5, 1))])
    photos = list(client_for(server).iter_album_photos("7", page_size=2))
    assert [p.pid for p in photos] == ["1", "2", "3", "4", "5"]
    assert [server.form(n)["pageNumber"] for n in range(3)] == ["1", "2", "3"]


def test_iter_album_photos_ends_on_an_empty_page() -> None:
    """A full last page is followed by an empty one."""
    server = Server([ok(_photos_json(1, 2)), ok(b"[]")])
    assert len(list(client_for(server).iter_album_photos("7", page_size=2))) == 2


def test_iter_album_photos_refuses_a_server_that_ignores_paging() -> None:
    """The same page twice would loop forever (and hide photos from a reconciliation)."""
    server = Server([ok(_photos_json(1, 2))])
    with pytest.raises(MalformedResponse, match="paging"):
        list(client_for(server).iter_album_photos("7", page_size=2))


def test_get_communities_returns_name_and_title() -> None:
    """The undocumented up.community.getList (contract §4 Decision)."""
    body = (
        b'<community_getList_response list="true"><community><name>mycommunity</name>'
        b"<title>My Community</title></community></community_getList_response>"
    )
    server = Server([ok(body)])
    assert client_for(server).get_communities() == [Community("mycommunity", "My Community")]
    assert server.form()["method"] == "up.community.getList"


def test_a_call_without_a_session_key_is_refused_before_sending() -> None:
    """No session configured is the same situation as an expired one (102)."""
    server = Server([ok(PHOTO_XML)])
    client = client_for(server, credentials=CREDENTIALS.with_session_key(None))
    with pytest.raises(SessionExpired):
        client.upload(io.BytesIO(b"\xff\xd8\xff"), filename="x.jpg")
    assert server.requests == []


def test_with_credentials_shares_the_connection_and_sends_the_new_session_key() -> None:
    """Workers re-wrap the process's one httpx client when the session key changes."""
    server = Server([ok(b"[]")])
    first = client_for(server)
    second = first.with_credentials(CREDENTIALS.with_session_key("new-session-0001"))
    second.get_albums(uid="1")
    assert server.form()["session_key"] == "new-session-0001"
    assert second._http is first._http
    second.close()
    assert not first._http.is_closed


def test_an_owned_http_client_is_closed_with_the_client() -> None:
    """Context manager use closes what the client made itself."""
    with MediaPostClient(ENDPOINT, CREDENTIALS) as client:
        http = client._http
    assert http.is_closed


def test_a_shared_http_client_is_left_open() -> None:
    """The process owns the shared client, not its wrappers."""
    http = httpx.Client()
    with MediaPostClient(ENDPOINT, CREDENTIALS, http=http):
        pass
    assert not http.is_closed
    http.close()


def test_timeouts_default_to_the_shared_clients_and_can_be_overridden() -> None:
    """Whoever configured the shared client chose its timeouts, unless told otherwise."""
    seen: list[dict[str, float]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok(b"[]")

    http = httpx.Client(transport=httpx.MockTransport(record), timeout=httpx.Timeout(7, connect=2))
    MediaPostClient(ENDPOINT, CREDENTIALS, http=http).get_communities()
    MediaPostClient(
        ENDPOINT, CREDENTIALS, http=http, timeout=30, connect_timeout=3
    ).get_communities()
    assert seen[0] == {"connect": 2, "read": 7, "write": 7, "pool": 7}
    assert seen[1] == {"connect": 3, "read": 30, "write": 30, "pool": 3}


def test_make_http_client_bounds_the_pool_to_the_concurrency() -> None:
    """One connection per concurrent call; no redirects for a POST that carries a session."""
    http = MediaPostClient.make_http_client(concurrency=3, timeout=20, connect_timeout=4)
    try:
        assert http.timeout == httpx.Timeout(20, connect=4, pool=4)
        assert not http.follow_redirects
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == 3
    finally:
        http.close()


def test_unknown_response_format_is_refused() -> None:
    """Only XML and JSON exist (case-insensitive)."""
    with pytest.raises(ValueError, match="response_format"):
        MediaPostClient(ENDPOINT, CREDENTIALS, http=httpx.Client(), response_format="yaml")


def test_create_token_accepts_a_json_string() -> None:
    """Liberal: the token as a JSON string."""
    server = Server([ok(b'"tok-9"')])
    assert client_for(server, response_format="JSON").create_token() == "tok-9"
    assert "expires" not in server.form()


def test_credentials_carry_no_session_for_create_token() -> None:
    """createToken works for an application that has no session yet."""
    creds = Credentials(api_key="k", secret="s", session_key=None, community="c")
    server = Server([ok(b"<auth_createToken_response>t</auth_createToken_response>")])
    assert client_for(server, credentials=creds).create_token(60) == "t"
    assert server.form()["expires"] == "60"


def test_a_file_that_changed_size_since_fstat_is_set_aside_unsent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short read stops the body before its end, so nothing was stored; not retried."""
    path = tmp_path / "x.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    monkeypatch.setattr(mediapost.client, "_file_size", lambda fh: 10_000)
    server = Server([ok(PHOTO_XML)])
    with pytest.raises(FileChanged, match="shrank"):
        client_for(server).upload(path, filename="x.jpg")
    assert server.requests == []  # MockTransport reads the body before answering


def test_default_retry_takes_the_settings_names() -> None:
    """The worker's settings (max_total_s, initial_wait_s, max_wait_s) map one to one."""
    policy = MediaPostClient.default_retry(
        max_attempts=6, max_total_s=60.0, initial_wait_s=0.5, max_wait_s=15.0
    )
    assert (policy.max_attempts, policy.budget, policy.initial_wait, policy.max_wait) == (
        6,
        60.0,
        0.5,
        15.0,
    )
