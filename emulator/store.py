"""The emulated service's state: applications, users, sessions, tokens, albums and photos.

In memory (metadata only; image bytes live in files the photo records point at), no I/O, and every
time-dependent operation takes `now` (Unix seconds) from the caller. One event loop owns it, so no
locking.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

REGULAR_ALBUM_LIMIT = 60
DEFAULT_ALBUM_LIMIT = 1000
DEFAULT_ALBUM_NAME = "Application photos"  # used only if the app is gone
_ID_LOW = 10**14
_ID_HIGH = 10**15 - 1


@dataclass
class Application:
    """A registered application: its key, its secret and whether it may publish photos at once."""

    api_key: str
    secret: str
    name: str
    photo_upload: bool


@dataclass(frozen=True)
class User:
    """A member of the community."""

    uid: str
    name: str


@dataclass(frozen=True)
class Community:
    """A community an application can call into."""

    name: str
    title: str


@dataclass
class Session:
    """A user's session for one application; `expires` is Unix time, 0 for never."""

    key: str
    uid: str
    api_key: str
    expires: int
    revoked: bool = False
    last_call_id: Decimal | None = None

    def valid(self, now: float) -> bool:
        """Whether the session can still be used at `now`."""
        return not self.revoked and (self.expires == 0 or now < self.expires)


@dataclass
class Token:
    """An auth token from createToken, waiting for a user to approve it on /login."""

    token: str
    api_key: str
    community: str
    session_ttl_s: int
    approved_uid: str | None = None


@dataclass
class Album:
    """An album; `photos` holds pids in upload order, `limit` is 60 or 1000 for a default album."""

    aid: str
    owner: str
    name: str
    description: str
    location: str
    created: int
    modified: int
    limit: int
    is_default: bool = False
    app_key: str | None = None
    cover_pid: str = "0"
    photos: list[str] = field(default_factory=list)

    @property
    def full(self) -> bool:
        """Whether one more photo would exceed the album's limit."""
        return len(self.photos) >= self.limit


@dataclass
class Photo:
    """A stored photo; `path` is None when no bytes were kept (placeholders, `keep_bytes=False`)."""

    pid: str
    aid: str
    owner: str
    caption: str
    created: int
    pending: bool
    size: int = 0
    sha256: str | None = None
    filename: str | None = None
    content_type: str | None = None
    served_type: str = "application/octet-stream"
    path: Path | None = None
    placeholder: bool = False


class Store:
    """All the state of the emulated service, with the operations the API methods need."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.apps: dict[str, Application] = {}
        self.users: dict[str, User] = {}
        self.communities: dict[str, Community] = {}
        self.sessions: dict[str, Session] = {}
        self.tokens: dict[str, Token] = {}
        self.albums: dict[str, Album] = {}
        self.photos: dict[str, Photo] = {}
        self._default_albums: dict[tuple[str, str], str] = {}
        self._issued: set[str] = set()

    def new_id(self) -> str:
        """A fresh 15-digit decimal id (pid or aid), unique within this store."""
        while True:
            candidate = str(self._rng.randint(_ID_LOW, _ID_HIGH))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def add_session(self, uid: str, api_key: str, expires: int, key: str | None = None) -> Session:
        """Open a session for `uid` in application `api_key` (a random key unless one is given)."""
        key = key or f"{secrets.token_hex(12)}-{uid}"
        session = Session(key=key, uid=uid, api_key=api_key, expires=expires)
        self.sessions[key] = session
        return session

    def valid_session(self, key: str, api_key: str, now: float) -> Session | None:
        """The session behind `key` if it belongs to this application and has not expired."""
        session = self.sessions.get(key)
        if session is None or session.api_key != api_key or not session.valid(now):
            return None
        return session

    def expire_sessions(self, key: str | None = None) -> int:
        """Force one session (or, with no key, every session) to time out; returns how many."""
        targets = [self.sessions[key]] if key in self.sessions else []
        if key is None:
            targets = list(self.sessions.values())
        for session in targets:
            session.revoked = True
        return len(targets)

    def create_token(self, api_key: str, community: str, session_ttl_s: int) -> Token:
        """A new auth token for the login page."""
        token = Token(secrets.token_hex(16), api_key, community, session_ttl_s)
        self.tokens[token.token] = token
        return token

    def approve_token(self, token: str, uid: str) -> bool:
        """Record that user `uid` logged in with `token`; False if the token or user is unknown."""
        found = self.tokens.get(token)
        if found is None or uid not in self.users:
            return False
        found.approved_uid = uid
        return True

    def redeem_token(self, token: str, api_key: str, now: float) -> Session | None:
        """Turn an approved token into a session, once; None if unknown, unapproved or used."""
        found = self.tokens.get(token)
        if found is None or found.api_key != api_key or found.approved_uid is None:
            return None
        del self.tokens[token]
        expires = 0 if found.session_ttl_s <= 0 else int(now) + found.session_ttl_s
        return self.add_session(found.approved_uid, api_key, expires)

    def create_album(
        self, owner: str, name: str, description: str, location: str, now: float
    ) -> Album:
        """A new regular album (limit 60) owned by `owner`."""
        album = Album(
            aid=self.new_id(),
            owner=owner,
            name=name,
            description=description,
            location=location,
            created=int(now),
            modified=int(now),
            limit=REGULAR_ALBUM_LIMIT,
        )
        self.albums[album.aid] = album
        return album

    def default_album(self, api_key: str, owner: str, now: float) -> Album:
        """The application's default album for this user (limit 1000), created on first use."""
        aid = self._default_albums.get((api_key, owner))
        if aid is not None and aid in self.albums:
            return self.albums[aid]
        app = self.apps.get(api_key)
        name = f"{app.name} photos" if app else DEFAULT_ALBUM_NAME
        album = self.create_album(owner, name, "", "", now)
        album.limit = DEFAULT_ALBUM_LIMIT
        album.is_default = True
        album.app_key = api_key
        self._default_albums[(api_key, owner)] = album.aid
        return album

    def add_photo(self, album: Album, photo: Photo) -> None:
        """File a photo (pid from `new_id`) into an album the caller checked is not full."""
        self.photos[photo.pid] = photo
        album.photos.append(photo.pid)
        album.modified = photo.created
        if album.cover_pid == "0":
            album.cover_pid = photo.pid

    def album_photos(self, album: Album) -> list[Photo]:
        """The album's photos, ordered by pid."""
        return sorted((self.photos[pid] for pid in album.photos), key=lambda p: int(p.pid))
