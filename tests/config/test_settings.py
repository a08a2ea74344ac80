"""Settings: environment, TOML file, secret files, demo defaults, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.credentials import resolve_credentials
from config.settings import ConfigError, WorkerSettings, load_settings, pool_size


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MEDIAPOST_* or REDIS_URL from the machine leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("MEDIAPOST_") or name == "REDIS_URL":
            monkeypatch.delenv(name)


def test_defaults_target_the_local_emulator_with_demo_credentials() -> None:
    """A new user needs no configuration at all."""
    settings = load_settings()
    creds = resolve_credentials(settings)
    assert settings.endpoint == "http://127.0.0.1:8080/api.php"
    assert (creds.api_key, creds.secret, creds.session_key, creds.community) == (
        "demo-key",
        "demo-secret",
        "demo-session",
        "demo",
    )


def test_a_real_endpoint_without_credentials_refuses_to_start_naming_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Demo credentials are never sent to a real service."""
    monkeypatch.setenv("MEDIAPOST_ENDPOINT", "https://platform.example.com/api.php")
    with pytest.raises(ConfigError) as err:
        resolve_credentials(load_settings())
    message = str(err.value)
    assert "MEDIAPOST_API_KEY" in message and "MEDIAPOST_SECRET" in message
    assert "MEDIAPOST_SESSION_KEY" in message and "MEDIAPOST_COMMUNITY" in message


def test_secret_and_session_come_from_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Docker secrets and `mediapost auth` write files; their content is stripped."""
    (tmp_path / "secret").write_text("s3cr3t-value\n")
    (tmp_path / "session").write_text("sess-value\n")
    monkeypatch.setenv("MEDIAPOST_ENDPOINT", "https://platform.example.com/api.php")
    monkeypatch.setenv("MEDIAPOST_API_KEY", "key")
    monkeypatch.setenv("MEDIAPOST_COMMUNITY", "comm")
    monkeypatch.setenv("MEDIAPOST_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("MEDIAPOST_SESSION_KEY_FILE", str(tmp_path / "session"))
    creds = resolve_credentials(load_settings())
    assert (creds.secret, creds.session_key) == ("s3cr3t-value", "sess-value")
    assert "s3cr3t" not in repr(creds) and "sess-value" not in repr(creds)


def test_toml_file_holds_everything_including_watch_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """MEDIAPOST_CONFIG names a TOML file; environment variables still win."""
    config = tmp_path / "mediapost.toml"
    config.write_text(
        f"""
format = "json"
redis_url = "redis://example:6379/3"
[worker]
concurrency = 16
[[watch]]
path = "{tmp_path / "Camera Uploads"}"
album_name_template = "Camera {{n}}"
after_upload = "move"
"""
    )
    monkeypatch.setenv("MEDIAPOST_CONFIG", str(config))
    monkeypatch.setenv("REDIS_URL", "redis://override:6379/0")
    settings = load_settings()
    assert settings.format == "JSON"
    assert settings.redis_url == "redis://override:6379/0"
    assert settings.worker.concurrency == 16
    (folder,) = settings.watch
    assert folder.id == "Camera-Uploads" and folder.album_series == "Camera-Uploads"
    assert folder.done_dir == folder.path / ".done"
    assert settings.watch_folder("Camera-Uploads") is folder


def test_threads_pool_runs_the_upload_slots_plus_the_tasks_prepared_ahead() -> None:
    """Concurrency counts uploads in flight; only a threads pool adds preparing threads."""
    assert pool_size(WorkerSettings(concurrency=8)) == 10
    assert pool_size(WorkerSettings(concurrency=8, prepare_ahead=0)) == 8
    assert pool_size(WorkerSettings(pool="prefork", concurrency=3)) == 3


def test_invalid_values_fail_with_a_message_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The error names the setting and its env var, not a stack of pydantic internals."""
    monkeypatch.setenv("MEDIAPOST_WORKER__CONCURRENCY", "0")
    monkeypatch.setenv("MEDIAPOST_ENDPOINT", "ftp://nope")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "worker.concurrency" in message and "MEDIAPOST_WORKER__CONCURRENCY" in message
    assert "endpoint" in message


def test_a_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in MEDIAPOST_CONFIG is reported, not silently ignored."""
    monkeypatch.setenv("MEDIAPOST_CONFIG", "/nonexistent/mediapost.toml")
    with pytest.raises(ConfigError, match="MEDIAPOST_CONFIG"):
        load_settings()


def test_an_album_template_without_the_number_is_refused(tmp_path: Path) -> None:
    """Every album of a series needs its own name."""
    with pytest.raises(ConfigError, match="album_name_template"):
        load_settings(watch=[{"path": tmp_path, "album_name_template": "Holiday"}])
