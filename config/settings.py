"""Settings of every process: environment variables, an optional TOML file, secrets from files.

Nothing here runs at import time: call :func:`load_settings` in a process's composition root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LOCAL_ENDPOINT = "http://127.0.0.1:8080/api.php"
DEMO_API_KEY = "demo-key"
DEMO_SECRET = "demo-secret"  # noqa: S105 - the public demo credential of the local emulator
DEMO_SESSION_KEY = "demo-session"
DEMO_COMMUNITY = "demo"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

DEFAULT_INCLUDE = (
    "*.jpg",
    "*.jpeg",
    "*.jpe",
    "*.png",
    "*.gif",
    "*.webp",
    "*.bmp",
    "*.tif",
    "*.tiff",
    "*.heic",
    "*.heif",
)


class ConfigError(Exception):
    """The configuration cannot work; the message names the setting to fix."""


class WatchFolder(BaseModel):
    """One drop folder: where to look, where its photos go, and what to do after upload."""

    model_config = {"extra": "forbid"}

    path: Path
    id: str = ""
    recursive: bool = True
    observer: Literal["native", "polling"] = "native"
    poll_interval_s: float = Field(default=5.0, gt=0)
    quiet_period_s: float = Field(default=2.0, ge=0)
    include: list[str] = Field(default_factory=lambda: list(DEFAULT_INCLUDE))
    ignore: list[str] = Field(default_factory=list)
    community: str | None = None
    album_mode: Literal["series", "default"] = "series"
    album_series: str = ""
    album_name_template: str = "{folder} {n}"
    caption_template: str = "{stem}"
    after_upload: Literal["keep", "move", "delete"] = "keep"
    done_dir: Path | None = None
    failed_dir: Path | None = None

    def model_post_init(self, __context: Any) -> None:
        """Fill the derived defaults: id and series from the folder name, done/failed inside it."""
        self.path = self.path.expanduser().resolve()
        if not self.id:
            self.id = folder_id(self.path)
        if not self.album_series:
            self.album_series = self.id
        if self.done_dir is None:
            self.done_dir = self.path / ".done"
        if self.failed_dir is None:
            self.failed_dir = self.path / ".failed"

    @field_validator("id", "album_series")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value):
            raise ValueError("use 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("album_name_template")
    @classmethod
    def _template_has_number(cls, value: str) -> str:
        if "{n}" not in value:
            raise ValueError("must contain {n}, the album's number in its series")
        return value


def folder_id(path: Path) -> str:
    """A stable, Redis-safe id for a watch folder, made from its name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", path.name).strip("-.") or "root"
    return slug[:64]


class RetrySettings(BaseModel):
    """The client's retry budget for codes 1, 2, 103 and transport faults."""

    model_config = {"extra": "forbid"}

    max_attempts: int = Field(default=6, ge=1, le=50)
    max_total_s: float = Field(default=60.0, gt=0)
    initial_wait_s: float = Field(default=0.5, ge=0)
    max_wait_s: float = Field(default=15.0, ge=0)


class WorkerSettings(BaseModel):
    """How Celery workers run; the defaults come from measurements (see the README)."""

    model_config = {"extra": "forbid"}

    pool: Literal["threads", "prefork", "solo"] = "threads"
    concurrency: int = Field(default=8, ge=1, le=256)
    # Threads pool: this many more tasks are hashed and claimed while `concurrency` uploads are
    # in flight, so an upload slot never waits for the next file's preparation.
    prepare_ahead: int = Field(default=2, ge=0, le=64)
    visibility_timeout_s: int = Field(default=3600, ge=60)
    # How often a worker re-stamps its running tasks' deliveries (None: a quarter of the above).
    visibility_heartbeat_s: float | None = Field(default=None, gt=0)
    task_soft_time_limit_s: int = Field(default=900, ge=10)
    task_time_limit_s: int = Field(default=960, ge=10)
    max_deliveries: int = Field(default=5, ge=1)
    claim_lease_s: int = Field(default=1200, ge=10)
    rate_window_s: float = Field(default=10.0, gt=0)
    pause_retry_s: float = Field(default=15.0, gt=0)
    # An upload in doubt is looked for only this long after it was sent (None: http_timeout_s),
    # so a request the server is still storing is not taken for a missing one.
    in_doubt_grace_s: float | None = Field(default=None, ge=0)
    # On SIGTERM running uploads get this long to finish; then the rest are requeued.
    shutdown_grace_s: float = Field(default=60.0, gt=0)
    # The next album is created when this few slots are left in the current one and the
    # queue holds more files than fit (0: only when it is full; every upload then waits for
    # the creation). Cover the uploads the whole fleet makes during one createAlbum call.
    album_create_ahead: int = Field(default=16, ge=0, le=59)


class WatcherSettings(BaseModel):
    """Watcher-wide timings (per-folder ones live in WatchFolder)."""

    model_config = {"extra": "forbid"}

    rescan_interval_s: float = Field(default=300.0, gt=0)
    requeue_after_s: float | None = Field(default=None, ge=0)  # None: the visibility timeout
    on_watch_limit: Literal["fail", "poll"] = "fail"


def pool_size(worker: WorkerSettings) -> int:
    """Celery's pool concurrency: upload slots, plus the tasks prepared ahead (threads pool)."""
    ahead = worker.prepare_ahead if worker.pool == "threads" else 0
    return worker.concurrency + ahead


class Settings(BaseSettings):
    """Everything a process may need; secrets are SecretStr and never printed."""

    model_config = SettingsConfigDict(
        env_prefix="MEDIAPOST_",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    endpoint: str = LOCAL_ENDPOINT
    api_key: str | None = None
    secret: SecretStr | None = None
    secret_file: Path | None = None
    session_key: SecretStr | None = None
    session_key_file: Path | None = None
    community: str | None = None
    format: Literal["XML", "JSON"] = "XML"
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "redis_url"),
    )
    http_timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_file_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=178_956_970, gt=0)
    state_dir: Path = Path(".mediapost")
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    retry: RetrySettings = Field(default_factory=RetrySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    watcher: WatcherSettings = Field(default_factory=WatcherSettings)
    watch: list[WatchFolder] = Field(default_factory=list)

    @field_validator("format", mode="before")
    @classmethod
    def _format_upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL such as " + LOCAL_ENDPOINT)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the TOML file named by MEDIAPOST_CONFIG, then defaults."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("MEDIAPOST_CONFIG")
        if toml_path:
            if not Path(toml_path).is_file():
                raise ConfigError(f"MEDIAPOST_CONFIG: no such file: {toml_path}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def uses_local_emulator(self) -> bool:
        """True when the endpoint is on this machine, where the demo credentials are the default."""
        return (urlsplit(self.endpoint).hostname or "") in LOCAL_HOSTS

    def watch_folder(self, watch_id: str) -> WatchFolder | None:
        """The configured watch folder with this id, if any."""
        return next((w for w in self.watch if w.id == watch_id), None)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings now, turning validation errors into a message that names the field."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    ids = [w.id for w in settings.watch]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ConfigError(f"watch: two folders share the id {duplicated[0]!r}; set `id` on one")
    return settings


def describe_validation_error(exc: ValidationError) -> str:
    """One line per bad field, with the env var spelling, never echoing the bad value."""
    lines = ["invalid configuration:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "settings"
        env = "MEDIAPOST_" + "__".join(str(p) for p in err["loc"]).upper()
        lines.append(f"  {loc} (env {env}): {err['msg']}")
    return "\n".join(lines)
