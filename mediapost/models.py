"""The values the API returns, as small frozen dataclasses with ids kept as opaque strings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def _required(fields: Mapping[str, str], *names: str) -> None:
    """Raise ValueError naming the first field that is missing or empty."""
    for name in names:
        if not fields.get(name):
            raise ValueError(f"response lacks {name!r}")


def _optional_int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Photo:
    """One photo; only ``pid``, ``aid`` and ``owner`` may be stored (the API's terms)."""

    pid: str
    aid: str
    owner: str
    src: str = ""
    src_big: str = ""
    src_small: str = ""
    link: str = ""
    caption: str = ""
    created: str | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Photo:
        """Build from a parsed response; ValueError if an id is missing."""
        _required(fields, "pid", "aid", "owner")
        return cls(
            pid=fields["pid"],
            aid=fields["aid"],
            owner=fields["owner"],
            src=fields.get("src", ""),
            src_big=fields.get("src_big", ""),
            src_small=fields.get("src_small", ""),
            link=fields.get("link", ""),
            caption=fields.get("caption", ""),
            created=fields.get("created") or None,
        )


@dataclass(frozen=True)
class UploadResult:
    """The new photo and how many attempts it took (callers log it)."""

    photo: Photo
    attempts: int


@dataclass(frozen=True)
class Album:
    """One album; getAlbums results may be used but never stored (the API's terms)."""

    aid: str
    cover_pid: str = ""
    owner: str = ""
    name: str = ""
    created: str = ""
    modified: str = ""
    description: str = ""
    location: str = ""
    link: str = ""
    size: int | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Album:
        """Build from a parsed response; ValueError if the album id is missing."""
        _required(fields, "aid")
        return cls(
            aid=fields["aid"],
            cover_pid=fields.get("cover_pid", ""),
            owner=fields.get("owner", ""),
            name=fields.get("name", ""),
            created=fields.get("created", ""),
            modified=fields.get("modified", ""),
            description=fields.get("description", ""),
            location=fields.get("location", ""),
            link=fields.get("link", ""),
            size=_optional_int(fields.get("size")),
        )


@dataclass(frozen=True)
class Community:
    """A community the application can post to: its system name and its display title."""

    name: str
    title: str = ""

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Community:
        """Build from a parsed response; ValueError if the name is missing."""
        _required(fields, "name")
        return cls(name=fields["name"], title=fields.get("title", ""))


@dataclass(frozen=True, repr=False)
class Session:
    """A user's session; its repr hides the key, which is a credential."""

    session_key: str
    uid: str
    expires: int  # Unix time; 0 means never

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Session:
        """Build from a parsed response; ValueError if the key or uid is missing."""
        _required(fields, "session_key", "uid")
        return cls(
            session_key=fields["session_key"],
            uid=fields["uid"],
            expires=int(fields.get("expires") or "0"),  # ValueError if not a number
        )

    def __repr__(self) -> str:
        return f"Session(uid={self.uid!r}, expires={self.expires!r}, session_key=<hidden>)"

    __str__ = __repr__
