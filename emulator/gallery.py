"""The gallery page (what arrived, at a glance) and the photo and thumbnail files it shows."""

from __future__ import annotations

import asyncio
from html import escape

from aiohttp import web

from emulator.pages import html_page
from emulator.state import STATE_KEY, EmulatorState
from emulator.store import Album, Photo
from emulator.thumbs import make_thumbnail, placeholder_svg

_FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


async def gallery(request: web.Request) -> web.Response:
    """GET /: every album with its fill level and its photos as thumbnails."""
    state = request.app[STATE_KEY]
    refresh = request.query.get("refresh", "")
    refresh_s = int(refresh) if refresh.isascii() and refresh.isdigit() else 0
    albums = list(state.store.albums.values())
    total = len(state.store.photos)
    stored = sum(p.size for p in state.store.photos.values())
    sections = "".join(_album_section(state, a) for a in reversed(albums))
    if not albums:
        sections = '<p class="empty">No albums yet. Upload a photo to /api.php and reload.</p>'
    toggle = (
        '<a href="/">stop auto-refresh</a>'
        if refresh_s
        else '<a href="/?refresh=3">auto-refresh</a>'
    )
    body = (
        "<header><h1>MediaPost emulator</h1>"
        f'<span class="stats">{len(albums)} albums · {total} photos · {_megabytes(stored)}</span>'
        f'{toggle} <a href="/admin/inspect">inspect (JSON)</a></header>'
        f"<main>{sections}</main>"
    )
    return html_page("MediaPost emulator", body, refresh_s=min(refresh_s, 3600))


async def photo_file(request: web.Request) -> web.StreamResponse:
    """GET /photos/<pid>: the stored bytes, served as the type they really are (never as sent)."""
    photo = _photo_or_404(request)
    if photo.path is None:
        return _no_bytes(photo)
    headers = {**_FILE_HEADERS, "Content-Type": photo.served_type}
    return web.FileResponse(photo.path, headers=headers)


async def thumb_file(request: web.Request) -> web.StreamResponse:
    """GET /thumbs/<pid>: a small JPEG made on first request (a grey tile if it cannot be made)."""
    state = request.app[STATE_KEY]
    photo = _photo_or_404(request)
    if photo.path is None:
        return _no_bytes(photo)
    target = state.thumbs_dir / f"{photo.pid}.jpg"
    if not target.exists():
        loop = asyncio.get_running_loop()
        made = await loop.run_in_executor(None, make_thumbnail, photo.path, target)
        if not made:
            label = (photo.filename or "image")[:24]
            return web.Response(body=placeholder_svg(label), content_type="image/svg+xml")
    return web.FileResponse(target, headers={**_FILE_HEADERS, "Content-Type": "image/jpeg"})


def _no_bytes(photo: Photo) -> web.Response:
    label = "placeholder" if photo.placeholder else "bytes not kept"
    return web.Response(body=placeholder_svg(label), content_type="image/svg+xml")


def _photo_or_404(request: web.Request) -> Photo:
    photo = request.app[STATE_KEY].store.photos.get(request.match_info["pid"])
    if photo is None:
        raise web.HTTPNotFound(text="no such photo")
    return photo


def _album_section(state: EmulatorState, album: Album) -> str:
    owner = state.store.users.get(album.owner)
    owner_name = owner.name if owner else "unknown user"
    size, limit = len(album.photos), album.limit
    ratio = size / limit if limit else 1.0
    level = "full" if size >= limit else "high" if ratio >= 0.8 else ""
    # Newest first, in arrival order: what a person wants to see is what just came in.
    photos = [state.store.photos[pid] for pid in reversed(album.photos)]
    pending = sum(1 for p in photos if p.pending)
    badges = '<span class="badge">default album</span>' if album.is_default else ""
    if pending:
        badges += f'<span class="badge pending">{pending} pending</span>'
    figures = "".join(_figure(p) for p in photos)
    grid = f'<div class="grid">{figures}</div>' if photos else '<p class="empty">Empty.</p>'
    description = f" · {escape(album.description)}" if album.description else ""
    return (
        f'<section class="album" id="album-{escape(album.aid)}">'
        f"<h2>{escape(album.name)}{badges}</h2>"
        f'<div class="meta">aid {escape(album.aid)} · owner {escape(owner_name)} '
        f"({escape(album.owner)}){description}</div>"
        f'<div class="fill"><span class="count">{size} / {limit}</span>'
        f'<div class="bar {level}"><span style="width:{min(ratio, 1.0) * 100:.1f}%"></span></div>'
        "</div>"
        f"{grid}</section>"
    )


def _figure(photo: Photo) -> str:
    pid = escape(photo.pid)
    caption = escape(photo.caption) if photo.caption else "<i>no caption</i>"
    detail = escape(photo.filename or "placeholder")
    if not photo.placeholder:
        detail += f" · {_megabytes(photo.size)}"
    title = escape(f"{photo.caption}\n{photo.filename or 'placeholder'}\npid {photo.pid}")
    css = ' class="pending"' if photo.pending else ""
    return (
        f'<figure id="photo-{pid}"{css} title="{title}">'
        f'<a href="/photos/{pid}"><img loading="lazy" src="/thumbs/{pid}" '
        f'alt="{escape(photo.caption)}"></a>'
        f"<figcaption>{caption}<small>{detail}</small></figcaption></figure>"
    )


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def add_routes(app: web.Application) -> None:
    """Mount the gallery and the photo files."""
    app.router.add_get("/", gallery)
    app.router.add_get("/photos/{pid}", photo_file)
    app.router.add_get("/thumbs/{pid}", thumb_file)
