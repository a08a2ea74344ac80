"""The `mediapost` command: one entry for every process of the service.

Each subcommand is a composition root: it loads the settings, configures logging, and only
then imports and starts its process. Nothing here runs at import time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from config.settings import ConfigError, Settings, load_settings


def fail(message: str) -> NoReturn:
    """Print a clear error and exit with status 2 (configuration problems)."""
    click.secho(f"mediapost: {message}", fg="red", err=True)
    sys.exit(2)


def settings_or_exit(**overrides: Any) -> Settings:
    """Load settings or exit with the message that names the bad field."""
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def start_logging(settings: Settings, secrets: tuple[str, ...] = ()) -> None:
    """Configure structlog for this process (JSON off a terminal)."""
    from config.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format, secrets)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mediapost-uploader")
def main() -> None:
    """Upload every photo dropped into watched folders to MediaPost, exactly once.

    \b
    Try it locally (no account needed; the local emulator stands in for MediaPost):
      mediapost emulator            # the MediaPost stand-in on http://127.0.0.1:8080
      mediapost worker              # Celery workers that upload (needs Redis)
      mediapost watch ./dropbox     # the watcher that queues finished images

    Configuration comes from MEDIAPOST_* environment variables and the TOML file
    named by MEDIAPOST_CONFIG; see the README.
    """


@main.command()
@click.option("--pool", type=click.Choice(["threads", "prefork", "solo"]), help="Worker pool.")
@click.option("-c", "--concurrency", type=int, help="Uploads in flight per worker.")
@click.option("-n", "--hostname", help="Node name, unique per worker (default celery@HOST).")
def worker(pool: str | None, concurrency: int | None, hostname: str | None) -> None:
    """Run upload workers (Celery on Redis) until stopped with Ctrl-C or SIGTERM."""
    settings = settings_or_exit()
    if pool or concurrency:
        settings.worker = settings.worker.model_copy(
            update={k: v for k, v in (("pool", pool), ("concurrency", concurrency)) if v}
        )
    from config.credentials import resolve_credentials

    try:
        creds = resolve_credentials(settings)
    except ConfigError as exc:
        fail(str(exc))
    start_logging(settings, creds.secret_values())
    from worker.app import create_app

    try:
        app = create_app(settings)
    except ConfigError as exc:
        fail(str(exc))
    app.worker_main(
        [
            "worker",
            f"--pool={settings.worker.pool}",
            f"--concurrency={settings.worker.concurrency}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
            "-E",
            *([f"--hostname={hostname}"] if hostname else []),
        ]
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
def watch(paths: tuple[Path, ...]) -> None:
    """Watch folders and queue every finished image (PATHs, or the folders in the config)."""
    settings = settings_or_exit()
    start_logging(settings)
    if not paths and not settings.watch:
        fail("nothing to watch: give a PATH or configure [[watch]] folders in MEDIAPOST_CONFIG")
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
    from scheduler.main import run_watcher
    from scheduler.supervisor import WatchLimitError

    try:
        run_watcher(settings, list(paths) or None)
    except (ConfigError, WatchLimitError) as exc:
        fail(str(exc))


@main.command()
def beat() -> None:
    """Run the periodic jobs (album counts checked against the server)."""
    settings = settings_or_exit()
    start_logging(settings)
    from worker.app import create_app

    try:
        app = create_app(settings)
    except ConfigError as exc:
        fail(str(exc))
    schedule = settings.state_dir / "celerybeat-schedule"
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    app.start(["beat", f"--schedule={schedule}", f"--loglevel={settings.log_level}"])


@main.command()
@click.option("--port", default=5555, show_default=True, help="Port of the dashboard.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to bind.")
def flower(port: int, address: str) -> None:
    """Run Flower, the ops dashboard (basic auth from FLOWER_BASIC_AUTH=user:password)."""
    settings = settings_or_exit()
    start_logging(settings)
    from worker.app import create_app

    try:
        app = create_app(settings)
    except ConfigError as exc:
        fail(str(exc))
    app.start(["flower", f"--port={port}", f"--address={address}"])


@main.command()
@click.option(
    "--dropbox",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dropbox"),
    show_default=True,
    help="The folder to watch.",
)
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
def up(dropbox: Path, no_flower: bool) -> None:
    """Run it all in this terminal: Redis if needed, emulator, worker, watcher, beat, Flower."""
    settings = settings_or_exit()
    from config.credentials import resolve_credentials

    try:
        resolve_credentials(settings)
    except ConfigError as exc:
        fail(str(exc))
    from mediapost.localstack import LocalStack

    stack = LocalStack(settings, dropbox, with_flower=not no_flower)
    try:
        stack.start()
    except click.ClickException:
        stack.stop(timeout=10)
        raise
    sys.exit(stack.wait())


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-n", "--count", default=100, show_default=True, help="How many images.")
@click.option("--size", default=640, show_default=True, help="Width in pixels.")
def samples(directory: Path, count: int, size: int) -> None:
    """Write COUNT distinct sample photos (JPEG and PNG) into DIRECTORY, each atomically."""
    from mediapost.samples import write_samples

    written = write_samples(directory, count, width=size)
    click.echo(f"wrote {len(written)} images to {directory}")


def _mount_emulator() -> None:
    from emulator.cli import emulator_command

    main.add_command(emulator_command, name="emulator")


_mount_emulator()
