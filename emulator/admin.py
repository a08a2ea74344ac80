"""The admin JSON endpoints: faults, reset, inspection, sessions, tokens and album filling.

    GET  /admin/inspect            albums, photos (with sha256), sessions, counters, faults
    GET  /admin/faults             the live fault settings
    POST /admin/faults             {"rules": [...]} replace, {"add_rules": [...]} append,
                                   {"latency_ms": 50}, {"rate_limit": {"max_calls": 10,
                                   "window_s": 1} | null}, {"block_s": 30} (code 4 for 30 s),
                                   {"seed": 7}, {"clear": true}; a rule is {"action":
                                   "error"|"drop"|"stall", "code", "rate", "methods" (default
                                   ["up.photos.upload"], "*" = all), "filename" (substring),
                                   "count", "seconds" (stall), "message"}
    POST /admin/reset              back to the configured start
    POST /admin/sessions           {"uid"?, "api_key"?, "ttl_s"?} -> a new session key
    POST /admin/sessions/expire    {"session_key": "..."} or {"all": true}
    POST /admin/tokens/approve     {"auth_token": "...", "uid"?} (what /login does)
    POST /admin/albums/fill        {"aid": "..."} or {"default": true}, "count"? (default: full)
    POST /admin/apps               {"api_key"?, "photo_upload": true|false}

Bad input is a 400 with {"error": "..."}. No authentication: the emulator is a local test double
and binds to 127.0.0.1 by default.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from emulator.faults import FaultSpecError
from emulator.state import STATE_KEY, EmulatorState
from emulator.store import Album, Photo

PLACEHOLDER_TYPE = "image/svg+xml"


async def get_faults(request: web.Request) -> web.Response:
    """GET /admin/faults: the live fault settings."""
    state = request.app[STATE_KEY]
    return _faults_response(state)


async def post_faults(request: web.Request) -> web.Response:
    """POST /admin/faults: change fault settings at runtime (see `Faults.update` for the keys)."""
    state = request.app[STATE_KEY]
    payload = await _json_body(request)
    try:
        state.faults.update(payload, state.now())
    except FaultSpecError as exc:
        raise _bad_request(str(exc)) from exc
    return _faults_response(state)


async def post_reset(request: web.Request) -> web.Response:
    """POST /admin/reset: back to the configured start (no albums, photos or counts)."""
    state = request.app[STATE_KEY]
    state.reset()
    return web.json_response({"reset": True})


async def get_inspect(request: web.Request) -> web.Response:
    """GET /admin/inspect: everything the emulator holds, for tests and humans to check."""
    state = request.app[STATE_KEY]
    store, now = state.store, state.now()
    body = {
        "albums": [_album_json(a) for a in store.albums.values()],
        "photos": [_photo_json(p) for p in store.photos.values()],
        "sessions": [
            {
                "session_key": s.key,
                "uid": s.uid,
                "api_key": s.api_key,
                "expires": s.expires,
                "valid": s.valid(now),
            }
            for s in store.sessions.values()
        ],
        "counters": state.counters.to_json(),
        "faults": state.faults.to_json(now),
    }
    return web.json_response(body)


async def post_session(request: web.Request) -> web.Response:
    """POST /admin/sessions: mint a valid session key (demo user, never expiring, by default)."""
    state = request.app[STATE_KEY]
    payload = await _json_body(request)
    uid = str(payload.get("uid", state.config.demo_uid))
    api_key = str(payload.get("api_key", state.config.api_key))
    if uid not in state.store.users or api_key not in state.store.apps:
        raise _bad_request("unknown uid or api_key")
    ttl = _int(payload, "ttl_s", 0)
    expires = 0 if ttl <= 0 else int(state.now()) + ttl
    session = state.store.add_session(uid, api_key, expires)
    return web.json_response({"session_key": session.key, "uid": uid, "expires": expires})


async def post_expire_sessions(request: web.Request) -> web.Response:
    """POST /admin/sessions/expire: time out one session (`session_key`) or all (`all: true`)."""
    state = request.app[STATE_KEY]
    payload = await _json_body(request)
    if payload.get("all"):
        count = state.store.expire_sessions()
    elif isinstance(payload.get("session_key"), str):
        count = state.store.expire_sessions(payload["session_key"])
    else:
        raise _bad_request("give session_key or all: true")
    return web.json_response({"expired": count})


async def post_approve_token(request: web.Request) -> web.Response:
    """POST /admin/tokens/approve: what the /login page does, without a browser."""
    state = request.app[STATE_KEY]
    payload = await _json_body(request)
    token = str(payload.get("auth_token", ""))
    uid = str(payload.get("uid", state.config.demo_uid))
    if not state.store.approve_token(token, uid):
        raise _bad_request("unknown auth_token or uid")
    return web.json_response({"auth_token": token, "uid": uid, "approved": True})


async def post_fill_album(request: web.Request) -> web.Response:
    """POST /admin/albums/fill: add placeholder photos behind the client's back (up to the limit).

    Body: `aid`, or `default: true` (with optional `uid`, `api_key`) for the app's default album,
    which is created if needed; `count` photos (default: until the album is full).
    """
    state = request.app[STATE_KEY]
    payload = await _json_body(request)
    store, now = state.store, state.now()
    if payload.get("default"):
        uid = str(payload.get("uid", state.config.demo_uid))
        api_key = str(payload.get("api_key", state.config.api_key))
        album = store.default_album(api_key, uid, now)
    else:
        found = store.albums.get(str(payload.get("aid", "")))
        if found is None:
            raise _bad_request("unknown aid")
        album = found
    room = album.limit - len(album.photos)
    count = min(_int(payload, "count", room), room)
    for _ in range(max(count, 0)):
        pid = store.new_id()
        store.add_photo(
            album,
            Photo(
                pid=pid,
                aid=album.aid,
                owner=album.owner,
                caption="placeholder",
                created=int(now),
                pending=False,
                served_type=PLACEHOLDER_TYPE,
                placeholder=True,
            ),
        )
    return web.json_response({**_album_json(album), "added": max(count, 0)})


async def post_app(request: web.Request) -> web.Response:
    """POST /admin/apps: grant or revoke an application's photo_upload permission at runtime."""
    state = request.app[STATE_KEY]
    payload = await _json_body(request)
    app = state.store.apps.get(str(payload.get("api_key", state.config.api_key)))
    if app is None or not isinstance(payload.get("photo_upload"), bool):
        raise _bad_request("give a known api_key and photo_upload: true/false")
    app.photo_upload = payload["photo_upload"]
    return web.json_response({"api_key": app.api_key, "photo_upload": app.photo_upload})


def _faults_response(state: EmulatorState) -> web.Response:
    return web.json_response({**state.faults.to_json(state.now()), "seed": state.config.seed})


def _album_json(album: Album) -> dict[str, Any]:
    return {
        "aid": album.aid,
        "name": album.name,
        "owner": album.owner,
        "size": len(album.photos),
        "limit": album.limit,
        "is_default": album.is_default,
        "app_key": album.app_key,
        "cover_pid": album.cover_pid,
        "created": album.created,
        "modified": album.modified,
    }


def _photo_json(photo: Photo) -> dict[str, Any]:
    return {
        "pid": photo.pid,
        "aid": photo.aid,
        "owner": photo.owner,
        "caption": photo.caption,
        "size": photo.size,
        "sha256": photo.sha256,
        "filename": photo.filename,
        "content_type": photo.content_type,
        "pending": photo.pending,
        "created": photo.created,
        "placeholder": photo.placeholder,
        "bytes_kept": photo.path is not None,
    }


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise _bad_request(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise _bad_request("body must be a JSON object")
    return payload


def _int(payload: dict[str, Any], name: str, default: int) -> int:
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_request(f"{name} must be an integer")
    return value


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def add_routes(app: web.Application) -> None:
    """Mount the admin endpoints under /admin."""
    app.router.add_get("/admin/faults", get_faults)
    app.router.add_post("/admin/faults", post_faults)
    app.router.add_post("/admin/reset", post_reset)
    app.router.add_get("/admin/inspect", get_inspect)
    app.router.add_post("/admin/sessions", post_session)
    app.router.add_post("/admin/sessions/expire", post_expire_sessions)
    app.router.add_post("/admin/tokens/approve", post_approve_token)
    app.router.add_post("/admin/albums/fill", post_fill_album)
    app.router.add_post("/admin/apps", post_app)
