"""The application's key, secret and session: a value that never shows its secrets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace


@dataclass(frozen=True, repr=False)
class Credentials:
    """What every signed call needs; repr and str hide the secret and the session key."""

    api_key: str
    secret: str
    session_key: str | None
    community: str

    def __repr__(self) -> str:
        return (
            f"Credentials(api_key={self.api_key!r}, community={self.community!r}, "
            "secret=<hidden>, session_key=<hidden>)"
        )

    __str__ = __repr__

    def with_session_key(self, session_key: str | None) -> Credentials:
        """The same application credentials with another session (after `auth` or a 102)."""
        return replace(self, session_key=session_key)

    def secret_values(self) -> tuple[str, ...]:
        """The strings that must never appear in a log line, an error or a result."""
        return tuple(v for v in (self.secret, self.session_key) if v)

    def session_fingerprint(self) -> str:
        """A short one-way tag of the session key, to tell keys apart without storing one."""
        return fingerprint(self.session_key or "")


def fingerprint(value: str) -> str:
    """First 16 hex digits of SHA-256: enough to compare, useless to an attacker."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]
