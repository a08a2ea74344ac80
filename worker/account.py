"""Account-wide gates shared by all workers: a pause (102, configuration errors) and the
code-4 rate window. Each is one Redis key; nothing secret is stored, only fingerprints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mediapost.credentials import Credentials, fingerprint
from worker.registry import PREFIX

if TYPE_CHECKING:
    from redis import Redis


def account_id(endpoint: str, credentials: Credentials) -> str:
    """A short id for one application on one endpoint and community."""
    return fingerprint(f"{endpoint}\0{credentials.api_key}\0{credentials.community}")[:12]


def credentials_fingerprint(credentials: Credentials) -> str:
    """Changes whenever the key, the secret or the session key changes."""
    return fingerprint(
        "\0".join((credentials.api_key, credentials.secret, credentials.session_key or ""))
    )


def pause_key(account: str) -> str:
    """Set while uploads for the account are paused; holds the reason."""
    return f"{PREFIX}:pause:{account}"


def rate_key(account: str) -> str:
    """Exists (with a TTL) while the account is inside a code-4 rate window."""
    return f"{PREFIX}:ratelimit:{account}"


def owner_key(account: str) -> str:
    """The account's user id (the `owner` of the albums it created), to list its albums."""
    return f"{PREFIX}:owner:{account}"


@dataclass(frozen=True)
class Pause:
    """Why uploads stopped, and for which credentials (resumes when they change)."""

    reason: str
    code: int
    credentials_fp: str
    since: float

    def to_json(self) -> str:
        """Stored as the pause key's value."""
        return json.dumps(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pause:
        """Read back what :meth:`to_json` stored."""
        return cls(
            str(data["reason"]),
            int(data["code"]),
            str(data["credentials_fp"]),
            float(data["since"]),
        )

    def lifted_by(self, credentials: Credentials) -> bool:
        """A pause ends when the operator configured different credentials."""
        return credentials_fingerprint(credentials) != self.credentials_fp


def pause(redis: Redis, account: str, pause: Pause) -> bool:
    """Pause the account; True if this call started the pause (alert once, not per worker)."""
    return bool(redis.set(pause_key(account), pause.to_json(), nx=True))


def resume(redis: Redis, account: str) -> bool:
    """Lift the pause; True if there was one."""
    return bool(redis.delete(pause_key(account)))


def current_pause(redis: Redis, account: str) -> Pause | None:
    """The account's pause, if any."""
    raw = redis.get(pause_key(account))
    return Pause.from_dict(json.loads(raw)) if raw else None


def enter_rate_window(redis: Redis, account: str, window_s: float) -> None:
    """Every worker backs off together until the window has passed (the first one sets it)."""
    redis.set(rate_key(account), "1", nx=True, px=int(window_s * 1000))
