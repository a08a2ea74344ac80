"""Resolve the application's credentials from settings, files and the demo defaults."""

from __future__ import annotations

from pathlib import Path

from config.settings import (
    DEMO_API_KEY,
    DEMO_COMMUNITY,
    DEMO_SECRET,
    DEMO_SESSION_KEY,
    ConfigError,
    Settings,
)
from mediapost.credentials import Credentials


def read_secret_file(path: Path, setting: str) -> str:
    """The stripped content of a secret file; the error names the setting, not the content."""
    try:
        value = path.expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"{setting}: {path} is empty")
    return value


def session_key_path(settings: Settings) -> Path:
    """Where `mediapost auth` stores the session key and where workers look for a new one."""
    return settings.session_key_file or settings.state_dir / "session_key"


def resolve_credentials(settings: Settings, *, require_session: bool = True) -> Credentials:
    """Credentials for the configured endpoint; demo ones only while it is the local emulator."""
    demo = settings.uses_local_emulator
    api_key = settings.api_key or (DEMO_API_KEY if demo else None)
    if settings.secret is not None:
        secret: str | None = settings.secret.get_secret_value()
    elif settings.secret_file is not None:
        secret = read_secret_file(settings.secret_file, "MEDIAPOST_SECRET_FILE")
    else:
        secret = DEMO_SECRET if demo else None
    session = current_session_key(settings) or (DEMO_SESSION_KEY if demo else None)
    community = settings.community or (DEMO_COMMUNITY if demo else None)

    missing = [
        name
        for name, value in (
            ("MEDIAPOST_API_KEY", api_key),
            ("MEDIAPOST_SECRET (or MEDIAPOST_SECRET_FILE)", secret),
            ("MEDIAPOST_COMMUNITY", community),
        )
        if not value
    ]
    if require_session and not session:
        missing.append("MEDIAPOST_SESSION_KEY (or run `mediapost auth`)")
    if missing:
        raise ConfigError(
            f"the endpoint {settings.endpoint} is not the local emulator, so real credentials "
            "are required; missing: " + ", ".join(missing)
        )
    assert api_key and secret and community
    return Credentials(api_key=api_key, secret=secret, session_key=session, community=community)


def current_session_key(settings: Settings) -> str | None:
    """The session key from the environment, else from the session file (re-read every call)."""
    if settings.session_key is not None:
        return settings.session_key.get_secret_value()
    path = session_key_path(settings)
    if settings.session_key_file is not None or path.is_file():
        try:
            return read_secret_file(path, "MEDIAPOST_SESSION_KEY_FILE")
        except ConfigError:
            if settings.session_key_file is not None:
                raise
    return None
