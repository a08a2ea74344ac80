"""`mediapost check`: prove the configuration works, one step at a time, with what to do if not.

The calls are harmless reads. `up.community.getList` is signed but needs no session, so it
proves the endpoint, the key and the secret on their own (and whether the community exists).
The session is then proven by `up.photos.getAlbums` for a bogus album id: the server checks
the session before the parameters, so an empty list (or a parameter error: 100 or 120) means
the session was accepted, while 102 means it was not. No uid is needed for that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from config.credentials import resolve_credentials, session_key_path
from config.settings import ConfigError, Settings
from mediapost.client import MediaPostClient
from mediapost.commands.connections import CommandError, api_client, display_url, open_redis
from mediapost.credentials import Credentials
from mediapost.errors import (
    AlbumInvalid,
    BadFile,
    ConfigurationError,
    MediaPostError,
    OutcomeInDoubt,
    RateLimited,
    SessionExpired,
    TransientError,
)

BOGUS_AID = "0"


@dataclass(frozen=True)
class Step:
    """One verdict: what was checked, whether it passed, and the detail or the fix."""

    name: str
    ok: bool
    detail: str


def run_checks(settings: Settings) -> Iterator[Step]:
    """Each step in order; stops after a failure that makes the later steps meaningless."""
    try:
        creds = resolve_credentials(settings, require_session=False)
    except ConfigError as exc:
        yield Step("configuration", False, str(exc))
        return
    yield Step(
        "configuration",
        True,
        f"endpoint {display_url(settings.endpoint)}, community {creds.community!r}, "
        f"api key {_abbreviated(creds.api_key)}",
    )
    yield _redis_step(settings)
    with api_client(settings, creds) as client:
        try:
            communities = client.get_communities()
        except MediaPostError as exc:
            yield Step("endpoint, key and secret", False, explain(exc, settings))
            return
        yield Step(
            "endpoint, key and secret",
            True,
            f"{display_url(settings.endpoint)} answered a signed call (up.community.getList)",
        )
        names = [c.name for c in communities]
        listed = ", ".join(f"{c.name} ({c.title})" if c.title else c.name for c in communities)
        if names and creds.community not in names:
            yield Step(
                "community",
                False,
                f"{creds.community!r} is not among the communities: {listed}; "
                "set MEDIAPOST_COMMUNITY to one of them",
            )
            return
        yield Step("community", True, f"communities: {listed or '(the server lists none)'}")
        yield _session_step(settings, creds, client)


def _redis_step(settings: Settings) -> Step:
    try:
        open_redis(settings).close()
    except CommandError as exc:
        return Step("redis", False, str(exc))
    return Step("redis", True, f"{display_url(settings.redis_url)} answers")


def _session_step(settings: Settings, creds: Credentials, client: MediaPostClient) -> Step:
    if not creds.session_key:
        return Step("session", False, "no session key is configured: run `mediapost auth`")
    source = session_source(settings)
    try:
        client.get_albums(aids=[BOGUS_AID])
    except (BadFile, AlbumInvalid):
        pass  # refused the bogus id, so the session passed
    except MediaPostError as exc:
        return Step("session", False, explain(exc, settings))
    return Step("session", True, f"the session key from {source} is accepted")


def session_source(settings: Settings) -> str:
    """Where the session key comes from, for the operator (never the key itself)."""
    if settings.session_key is not None:
        return "MEDIAPOST_SESSION_KEY"
    path = session_key_path(settings)
    if settings.session_key_file is not None or path.is_file():
        return str(path)
    return "the emulator's demo session"


def explain(exc: MediaPostError, settings: Settings) -> str:
    """What an error means for the configuration, and what to do about it."""
    endpoint = display_url(settings.endpoint)
    if isinstance(exc, SessionExpired):
        return (
            f"the session key is invalid or expired ({exc}): run `mediapost auth` to log in "
            "again; running workers pick up the new key by themselves"
        )
    if isinstance(exc, ConfigurationError):
        return _configuration_hint(exc)
    if isinstance(exc, RateLimited):
        return f"the application's request limit is reached ({exc}): wait a minute, retry"
    if isinstance(exc, BadFile):
        return (
            f"the server refused a parameter ({exc}): most likely the community is unknown; "
            "check MEDIAPOST_COMMUNITY"
        )
    if isinstance(exc, TransientError) and exc.code is None and exc.http_status is None:
        local = " (for the local emulator: `mediapost emulator`)"
        return (
            f"cannot reach {endpoint} ({exc}): check MEDIAPOST_ENDPOINT and that the service "
            f"is up{local if settings.uses_local_emulator else ''}"
        )
    if isinstance(exc, TransientError):
        return f"{endpoint} is not available ({exc}): try again later"
    if isinstance(exc, OutcomeInDoubt):
        return (
            f"the answer of {endpoint} could not be read ({exc}): is MEDIAPOST_ENDPOINT "
            "the API's URL (ending in /api.php)?"
        )
    return str(exc)


def _configuration_hint(exc: ConfigurationError) -> str:
    hints = {
        5: "this machine's address is not allowed for the application; ask MediaPost to allow it",
        101: "the api key is unknown; check MEDIAPOST_API_KEY",
        104: "the signature was refused, so the secret does not belong to the api key; set "
        "MEDIAPOST_SECRET or MEDIAPOST_SECRET_FILE to the application's secret",
        112: "the method is unknown, so the endpoint is probably not the MediaPost API; "
        "check MEDIAPOST_ENDPOINT",
    }
    return f"{hints.get(exc.code or 0, 'the configuration was refused')} ({exc})"


def _abbreviated(value: str) -> str:
    """Enough of a key to recognise it, not enough to use it."""
    return value if len(value) <= 8 else f"{value[:4]}…{value[-2:]}"
