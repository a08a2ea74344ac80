"""The API methods (contract §4), each a function of an authenticated call context.

Decision (this project): `up.photos.get` by `aid` returns every photo of the album to its owner's
own session, pending ones included, ordered by pid, paged by `pageSize` (default 10, at most
1000) and `pageNumber` (default 1). Other callers, and queries by `pids`/`uids`, see pending
photos only if they own them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator.errors import ALBUM_FULL, BAD_ALBUM, BAD_IMAGE, BAD_PARAMETER, ApiError
from emulator.intake import SpooledFile
from emulator.render import Fields, ListResult, Result
from emulator.sniff import sniff_image
from emulator.state import EmulatorState
from emulator.store import Album, Application, Photo, Session

MAX_PAGE_SIZE = 1000


@dataclass
class CallContext:
    """An authenticated call: who is calling (app, maybe session) with which parameters."""

    state: EmulatorState
    method: str
    params: dict[str, str]
    app: Application
    session: Session | None
    upload: SpooledFile | None
    now: float
    base_url: str

    @property
    def uid(self) -> str:
        """The session user's uid (only for methods that require a session)."""
        assert self.session is not None
        return self.session.uid


@dataclass(frozen=True)
class Method:
    """A method's handler and what it needs before it runs."""

    handler: Callable[[CallContext], Result]
    needs_session: bool
    needs_community: bool


def upload_photo(ctx: CallContext) -> Result:
    """up.photos.upload: store the image in the given album or the app's default album."""
    upload = _checked_image(ctx)
    album = _upload_album(ctx)
    state = ctx.state
    pid = state.store.new_id()
    kind = sniff_image(upload.head)
    final = None
    if upload.path is not None:
        final = state.photos_dir / f"{pid}{kind.suffix if kind else '.bin'}"
        upload.keep_as(final)
    photo = Photo(
        pid=pid,
        aid=album.aid,
        owner=ctx.uid,
        caption=ctx.params.get("caption", ""),
        created=int(ctx.now),
        pending=not ctx.app.photo_upload,
        size=upload.size,
        sha256=upload.sha256,
        filename=upload.filename,
        content_type=upload.content_type,
        served_type=kind.mime if kind else "application/octet-stream",
        path=final,
    )
    state.store.add_photo(album, photo)
    state.counters.photos_stored += 1
    fields = photo_fields(photo, ctx.base_url)
    del fields["created"]
    return fields


def create_album(ctx: CallContext) -> Result:
    """up.photos.createAlbum: a new empty regular album for the session user."""
    name = ctx.params.get("name", "").strip()
    if not name:
        raise ApiError(BAD_PARAMETER, "(name is required)")
    album = ctx.state.store.create_album(
        owner=ctx.uid,
        name=name,
        description=ctx.params.get("description", ""),
        location=ctx.params.get("location", ""),
        now=ctx.now,
    )
    return {
        "aid": album.aid,
        "cover_pid": album.cover_pid,
        "owner": album.owner,
        "name": album.name,
        "created": album.created,
        "description": album.description,
        "link": album_link(album, ctx.base_url),
        "size": 0,
    }


def get_albums(ctx: CallContext) -> Result:
    """up.photos.getAlbums: albums by owner `uid` and/or by `aids`."""
    uid = ctx.params.get("uid", "").strip()
    aids = _id_list(ctx.params.get("aids", ""))
    if not uid and not aids:
        raise ApiError(BAD_PARAMETER, "(uid or aids is required)")
    albums = [
        a
        for a in ctx.state.store.albums.values()
        if (not uid or a.owner == uid) and (not aids or a.aid in aids)
    ]
    return ListResult("album", [_album_fields(a, ctx.base_url) for a in albums])


def get_photos(ctx: CallContext) -> Result:
    """up.photos.get: photos by album, pids and/or owners, ordered by pid, one page at a time."""
    aid = ctx.params.get("aid", "").strip()
    pids = _id_list(ctx.params.get("pids", ""))
    uids = _id_list(ctx.params.get("uids", ""))
    if not aid and not pids and not uids:
        raise ApiError(BAD_PARAMETER, "(one of aid, pids or uids is required)")
    page_size = _int_param(ctx.params, "pageSize", 10, 1, MAX_PAGE_SIZE)
    page_number = _int_param(ctx.params, "pageNumber", 1, 1, 10**9)
    store = ctx.state.store
    if aid:
        album = store.albums.get(aid)
        if album is None:
            raise ApiError(BAD_ALBUM, f"(no album {aid})")
        photos = store.album_photos(album)
    else:
        photos = sorted(store.photos.values(), key=lambda p: int(p.pid))
    chosen = [
        p
        for p in photos
        if (not pids or p.pid in pids)
        and (not uids or p.owner in uids)
        and (not p.pending or p.owner == ctx.uid)
    ]
    start = (page_number - 1) * page_size
    page = chosen[start : start + page_size]
    return ListResult("photo", [photo_fields(p, ctx.base_url) for p in page])


def create_token(ctx: CallContext) -> Result:
    """up.auth.createToken: a token for /login; `expires` (minutes, 0 = never) sets the TTL."""
    expires = ctx.params.get("expires")
    ttl = ctx.state.config.session_ttl_s
    if expires is not None and expires.strip():
        ttl = _int_param(ctx.params, "expires", 0, 0, 10**7) * 60
    token = ctx.state.store.create_token(ctx.app.api_key, ctx.params["community"], ttl)
    return token.token


def get_session(ctx: CallContext) -> Result:
    """up.auth.getSession: the session for an approved token, once."""
    token = ctx.params.get("auth_token", "").strip()
    if not token:
        raise ApiError(BAD_PARAMETER, "(auth_token is required)")
    session = ctx.state.store.redeem_token(token, ctx.app.api_key, ctx.now)
    if session is None:
        raise ApiError(BAD_PARAMETER, "(auth_token is unknown, not approved yet or already used)")
    return {"session_key": session.key, "uid": session.uid, "expires": session.expires}


def community_list(ctx: CallContext) -> Result:
    """up.community.getList: the communities this service hosts."""
    items: list[Fields] = [
        {"name": c.name, "title": c.title} for c in ctx.state.store.communities.values()
    ]
    return ListResult("community", items)


METHODS: dict[str, Method] = {
    "up.photos.upload": Method(upload_photo, needs_session=True, needs_community=True),
    "up.photos.createAlbum": Method(create_album, needs_session=True, needs_community=True),
    "up.photos.getAlbums": Method(get_albums, needs_session=True, needs_community=True),
    "up.photos.get": Method(get_photos, needs_session=True, needs_community=True),
    "up.auth.createToken": Method(create_token, needs_session=False, needs_community=True),
    "up.auth.getSession": Method(get_session, needs_session=False, needs_community=False),
    "up.community.getList": Method(community_list, needs_session=False, needs_community=False),
}


def photo_fields(photo: Photo, base_url: str) -> Fields:
    """A photo as `up.photos.get` returns it; src URLs point back at this emulator."""
    return {
        "pid": photo.pid,
        "aid": photo.aid,
        "owner": photo.owner,
        "src": f"{base_url}/photos/{photo.pid}",
        "src_big": f"{base_url}/photos/{photo.pid}",
        "src_small": f"{base_url}/thumbs/{photo.pid}",
        "link": f"{base_url}/#photo-{photo.pid}",
        "caption": photo.caption,
        "created": photo.created,
    }


def album_link(album: Album, base_url: str) -> str:
    """Where a person sees the album: its section of the gallery page."""
    return f"{base_url}/#album-{album.aid}"


def _album_fields(album: Album, base_url: str) -> Fields:
    return {
        "aid": album.aid,
        "cover_pid": album.cover_pid,
        "owner": album.owner,
        "name": album.name,
        "created": album.created,
        "modified": album.modified,
        "description": album.description,
        "location": album.location,
        "link": album_link(album, base_url),
        "size": len(album.photos),
    }


def _checked_image(ctx: CallContext) -> SpooledFile:
    upload = ctx.upload
    if upload is None:
        raise ApiError(BAD_IMAGE, "(the request has no part named data)")
    if not upload.filename:
        raise ApiError(BAD_IMAGE, "(the data part has no filename)")
    if not upload.content_type:
        raise ApiError(BAD_IMAGE, "(the data part has no Content-Type)")
    if upload.size == 0:
        raise ApiError(BAD_IMAGE, "(the data part is empty)")
    if ctx.state.config.check_image_bytes and sniff_image(upload.head) is None:
        raise ApiError(BAD_IMAGE, "(not a JPEG, PNG, GIF, WebP, TIFF, BMP or HEIF image)")
    return upload


def _upload_album(ctx: CallContext) -> Album:
    store = ctx.state.store
    aid = ctx.params.get("aid", "").strip()
    if aid:
        album = store.albums.get(aid)
        if album is None or album.owner != ctx.uid:
            raise ApiError(BAD_ALBUM, f"(no album {aid} for this user)")
    else:
        album = store.default_album(ctx.app.api_key, ctx.uid, ctx.now)
    if album.full:
        raise ApiError(ALBUM_FULL, message=f"Album is full. ({len(album.photos)} / {album.limit})")
    return album


def _id_list(value: str) -> set[str]:
    return {part.strip() for part in value.split(",") if part.strip()}


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(BAD_PARAMETER, f"({name} must be an integer from {low} to {high})")
    return int(raw)
