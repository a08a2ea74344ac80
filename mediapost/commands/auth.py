"""`mediapost auth`: log in through the contract's token flow and store the session key.

createToken (signed, no session) gives a token; a person approves it on the community's
login page; getSession turns the approved token into a session key, which is written to the
session key file the workers re-read before every upload, so a paused account resumes by
itself. The key is never printed; the file is created 0600 and replaced atomically.

The emulator serves its login page at `<endpoint base>/login?auth_token=TOKEN`. MediaPost
documents no URL for its own page, so the same pattern is the default for a real endpoint and
`--login-url` takes the community's real one (`{base}`, `{token}`, `{community}` are filled in).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from mediapost.client import MediaPostClient
from mediapost.commands.connections import CommandError
from mediapost.credentials import Credentials
from mediapost.errors import AlbumInvalid, BadFile
from mediapost.models import Session

LOGIN_URL_TEMPLATE = "{base}/login?auth_token={token}"
POLL_EVERY_S = 2.0


def login_url(endpoint: str, token: str, community: str, template: str | None = None) -> str:
    """Where the person approves the token (the emulator's page, or the given pattern)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    base = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    return (template or LOGIN_URL_TEMPLATE).format(base=base, token=token, community=community)


def redeem(client: MediaPostClient, token: str) -> Session | None:
    """The session for an approved token, or None while it is not approved yet (100)."""
    try:
        return client.get_session(token)
    except BadFile:
        return None


def wait_approved(
    client: MediaPostClient,
    token: str,
    *,
    timeout_s: float,
    every_s: float = POLL_EVERY_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Session:
    """Poll getSession until the token is approved, for at most `timeout_s`."""
    deadline = clock() + timeout_s
    while True:
        session = redeem(client, token)
        if session is not None:
            return session
        if clock() >= deadline:
            raise CommandError(
                f"the token was not approved within {timeout_s:g} s; run `mediapost auth` again"
            )
        sleep(every_s)


def wait_for_enter(
    client: MediaPostClient,
    token: str,
    read_line: Callable[[], str],
    say: Callable[[str], None],
) -> Session:
    """Ask for Enter until the token is approved; end of input (no terminal) is an error."""
    while True:
        say("Press Enter once you have approved it (Ctrl-C to give up).")
        if not read_line():
            raise CommandError("no input to read: rerun with --wait-approved")
        session = redeem(client, token)
        if session is not None:
            return session
        say("Not approved yet.")


def store_session_key(path: Path, key: str) -> None:
    """Write the key for the workers: 0600 from the start, replaced atomically."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def verify_session(client: MediaPostClient, creds: Credentials, session: Session) -> None:
    """Raise the API's error unless the new key passes `mediapost check`'s harmless read."""
    # A refusal of the bogus album id comes after the session was accepted.
    with contextlib.suppress(BadFile, AlbumInvalid):
        client.with_credentials(creds.with_session_key(session.session_key)).get_albums(aids=["0"])


def expiry_text(session: Session) -> str:
    """When the session ends, for a person."""
    if not session.expires:
        return "never expires"
    return "expires " + time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(session.expires))
