"""The `mediapost` command: one entry for every process of the service.

Each subcommand is a composition root: it loads the settings, configures logging, and only
then imports and starts its process. Nothing here runs at import time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from config.settings import ConfigError, Settings, load_settings, pool_size

if TYPE_CHECKING:
    from redis import Redis

    from mediapost.commands.backfill import Plan
    from mediapost.commands.check import Step
    from mediapost.commands.progress import Progress


def fail(message: str, status: int = 2) -> NoReturn:
    """Print a clear error and exit (status 2: configuration problems, 1: the operation failed)."""
    click.secho(f"mediapost: {message}", fg="red", err=True)
    sys.exit(status)


def settings_or_exit(**overrides: Any) -> Settings:
    """Load settings or exit with the message that names the bad field."""
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def celery_app_or_exit(settings: Settings) -> Any:
    """The Celery app (worker, beat, Flower), or exit naming the timing setting to fix."""
    from worker.app import create_app

    try:
        return create_app(settings)
    except ConfigError as exc:
        fail(str(exc))


def start_logging(settings: Settings, secrets: tuple[str, ...] = ()) -> None:
    """Configure structlog for this process (JSON off a terminal)."""
    from config.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format, secrets)


def quiet_logging(
    settings: Settings, secrets: tuple[str, ...] = (), level: str = "WARNING"
) -> None:
    """Operator commands print their own output; only warnings and errors are logged."""
    from config.logging import configure_logging

    configure_logging(level, settings.log_format, secrets)


def redis_or_exit(settings: Settings) -> Redis:
    """Redis for a command, or exit with where it was expected."""
    from mediapost.commands.connections import CommandError, open_redis

    try:
        return open_redis(settings)
    except CommandError as exc:
        fail(str(exc), 1)


class _Commands(click.Group):
    """The group, with `emulator` loaded only when named: aiohttp costs every process ~11 MB."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "emulator"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "emulator":
            from emulator.cli import emulator_command

            return emulator_command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
    """Run upload workers (Celery on Redis) until stopped with Ctrl-C or SIGTERM.

    On SIGTERM running uploads may finish for MEDIAPOST_WORKER__SHUTDOWN_GRACE_S (60 s);
    what still runs then is requeued, and queued messages stay for other workers.
    """
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
    app = celery_app_or_exit(settings)
    app.worker_main(
        [
            "worker",
            f"--pool={settings.worker.pool}",
            f"--concurrency={pool_size(settings.worker)}",
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
    app = celery_app_or_exit(settings)
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
    app = celery_app_or_exit(settings)
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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts, not a table.")
def status(as_json: bool) -> None:
    """Show the queue, the outcome counts, each album series and any account pause.

    \b
    queue     messages waiting, and messages a worker holds (running or waiting to retry)
    files     final outcomes: uploaded; duplicate (same content as an earlier upload,
              not sent again); set aside (moved to .failed/ with a NAME.why.txt note)
    in doubt  uploads whose answer was lost: adopted when found on the server,
              unresolved when they had to be set aside
    series    each folder's albums: the current one, photos in it / its limit, albums so far
    PAUSED    uploads wait for the operator (the line says why and what to do)

    Reads Redis only; changes nothing.
    """
    settings = settings_or_exit()
    quiet_logging(settings)
    from mediapost.commands.connections import configured_account
    from mediapost.commands.status import status_json, status_table
    from worker.snapshot import discover_accounts, read_snapshot

    redis = redis_or_exit(settings)
    accounts = set(discover_accounts(redis))
    account = configured_account(settings)
    if account:
        accounts.add(account)
    snap = read_snapshot(redis, accounts=accounts)
    redis.close()
    if as_json:
        click.echo(json.dumps(status_json(snap), indent=2))
    else:
        click.echo(status_table(snap))


@main.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--folder-id",
    help="Id for PATH if it is not a configured folder (default: the folder's name).",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Follow the files until each has a final outcome, with a progress line.",
)
@click.option(
    "--timeout",
    type=float,
    help="With --wait: stop waiting after this many seconds (exit 1); files stay queued.",
)
def backfill(path: Path, folder_id: str | None, wait: bool, timeout: float | None) -> None:
    """Upload the images already in PATH (an existing tree), showing progress.

    Registers PATH as a watch folder (its [[watch]] settings if it is configured),
    queues every finished image that has no final outcome yet, then follows them until
    each is uploaded, recorded as a duplicate, or set aside. Safe to repeat: a second run
    queues nothing new. Workers do the uploading (`mediapost worker` must be running);
    Ctrl-C stops following, not the uploads.
    """
    settings = settings_or_exit()
    quiet_logging(settings)
    from mediapost.commands import backfill as bf
    from mediapost.commands.connections import CommandError
    from mediapost.commands.progress import summary_lines
    from scheduler.enqueue import celery_sender
    from scheduler.main import producer_app
    from scheduler.options import WatcherOptions

    redis = redis_or_exit(settings)
    app = producer_app(settings, WatcherOptions())
    try:
        folder = bf.resolve_folder(settings, redis, path, folder_id)
        if not app.control.ping(timeout=1.0, limit=1):
            click.secho(
                "no worker answered a ping: queued files upload once `mediapost worker` runs",
                fg="yellow",
                err=True,
            )
        requeue = settings.watcher.requeue_after_s
        if requeue is None:  # like the watcher: resend only what the broker could have lost
            requeue = float(settings.worker.visibility_timeout_s)
        plan = bf.enqueue_folder(redis, folder, celery_sender(app), requeue_after_s=requeue)
        click.echo(bf.plan_text(plan))
        if not plan.pending or not wait:
            return
        progress = _follow(redis, plan, timeout)
    except CommandError as exc:
        fail(str(exc), 1)
    except KeyboardInterrupt:
        click.echo("\nstopped following; the queued files keep uploading (see `mediapost status`)")
        sys.exit(130)
    finally:
        app.close()
        redis.close()
    for line in summary_lines(progress, folder.failed_dir):
        click.echo(line)


def _follow(redis: Redis, plan: Plan, timeout: float | None) -> Progress:
    """Poll until every queued file settled, printing progress and hints on stalls."""
    import time

    from mediapost.commands import progress as pr
    from worker.snapshot import read_snapshot

    def on_stall(seconds: float) -> None:
        hint = pr.stall_hint(read_snapshot(redis, series=[]), seconds)
        click.secho(hint, fg="yellow", err=True)

    printer = pr.ProgressPrinter(lambda text: click.echo(text, nl=False), tty=sys.stdout.isatty())
    follower = pr.Follower(redis, plan.folder, plan.pending, now=time.monotonic())
    try:
        return pr.follow(follower, on_progress=printer, on_stall=on_stall, timeout_s=timeout)
    finally:
        printer.close()


@main.command("retry-failed")
@click.option(
    "--folder-id",
    help="Only this watch folder (default: every configured folder or one a watcher registered).",
)
def retry_failed(folder_id: str | None) -> None:
    """Move set-aside files from .failed/ back into their folder, to be uploaded again.

    Fix the cause first: the NAME.why.txt note next to each file says why it was set
    aside. Each file returns to its old place, its note is removed and its records are
    forgotten, so a running watcher queues it again (or run `mediapost backfill PATH`).
    """
    settings = settings_or_exit()
    quiet_logging(settings)
    from mediapost.commands.connections import CommandError
    from mediapost.commands.retry import RetryReport, folders_to_retry, retry_folder

    redis = redis_or_exit(settings)
    report = RetryReport()
    try:
        for folder in folders_to_retry(settings, redis, folder_id):
            retry_folder(redis, folder, report)
    except CommandError as exc:
        fail(str(exc), 1)
    finally:
        redis.close()
    for r in report.returned:
        click.echo(f"returned {r.watch_id}/{r.relpath}  (was set aside: {r.reason})")
    for problem in report.problems:
        click.secho(problem, fg="yellow", err=True)
    if report.intents_forgotten:
        click.echo(
            f"{report.intents_forgotten} of them had an upload in doubt: they upload again, "
            "so check the gallery for copies afterwards"
        )
    if report.returned:
        click.echo(
            f"{len(report.returned)} files returned; a running watcher queues them, "
            "or run `mediapost backfill PATH`"
        )
    else:
        click.echo("nothing to retry: no set-aside files")


@main.command()
def check() -> None:
    """Check the setup end to end: settings, Redis, endpoint, key, secret, community, session.

    Each step prints `ok` or `FAIL` with what to do; the exit status is 1 if one failed.
    Only harmless reads are sent (up.community.getList, then up.photos.getAlbums).
    """
    from mediapost.commands.check import Step, run_checks

    try:
        settings = load_settings()
    except ConfigError as exc:
        steps: list[Step] = [Step("configuration", False, str(exc))]
    else:
        quiet_logging(settings, level="ERROR")  # each step reports its own failure
        steps = []
        for step in run_checks(settings):
            steps.append(step)
            _print_step(step)
        if all(s.ok for s in steps):
            click.secho("all checks passed", fg="green")
            return
        sys.exit(1)
    for step in steps:
        _print_step(step)
    sys.exit(1)


def _print_step(step: Step) -> None:
    """One verdict line."""
    mark = click.style("ok  ", fg="green") if step.ok else click.style("FAIL", fg="red")
    click.echo(f"{mark} {step.name}: {step.detail}")


@main.command()
@click.option(
    "--wait-approved",
    is_flag=True,
    help="Poll every 2 s until the token is approved instead of waiting for Enter.",
)
@click.option(
    "--timeout",
    default=300.0,
    show_default=True,
    help="With --wait-approved: give up after this many seconds.",
)
@click.option(
    "--expires",
    type=click.IntRange(min=0),
    help="Ask for a session of this many minutes (0: never expires); default: the server's.",
)
@click.option(
    "--login-url",
    metavar="PATTERN",
    help="The community's login page, e.g. 'https://example.org/login?auth_token={token}' "
    "({base}, {token}, {community} are filled in).",
)
def auth(wait_approved: bool, timeout: float, expires: int | None, login_url: str | None) -> None:
    """Log in to MediaPost and store the session key where the workers read it.

    \b
    1. asks MediaPost for a login token and prints the login page's address;
    2. open it, log in and approve the application;
    3. press Enter here (or pass --wait-approved): the session key is written to the
       session key file (MEDIAPOST_SESSION_KEY_FILE, default .mediapost/session_key, 0600).

    Running workers use the new key at their next upload, and an account paused for an
    expired session (102) resumes by itself. The key is never printed.
    """
    settings = settings_or_exit()
    from config.credentials import resolve_credentials, session_key_path
    from mediapost.commands import auth as flow
    from mediapost.commands.connections import CommandError, api_client
    from mediapost.errors import MediaPostError

    try:
        creds = resolve_credentials(settings, require_session=False)
    except ConfigError as exc:
        fail(str(exc))
    quiet_logging(settings, creds.secret_values())
    path = session_key_path(settings)
    with api_client(settings, creds) as client:
        try:
            token = client.create_token(expires)
            url = flow.login_url(settings.endpoint, token, creds.community, login_url)
            if settings.uses_local_emulator or login_url:
                click.echo(f"Open this page, log in and approve the application:\n  {url}")
            else:
                click.echo(
                    "Open your community's login page with this token and approve the "
                    f"application:\n  token: {token}\n  page:  {url}\n"
                    "(if your community's page is elsewhere, rerun with --login-url PATTERN)"
                )
            if wait_approved:
                click.echo(f"Waiting for the approval (up to {timeout:g} s)…")
                session = flow.wait_approved(client, token, timeout_s=timeout)
            else:
                session = flow.wait_for_enter(client, token, sys.stdin.readline, click.echo)
            flow.verify_session(client, creds, session)
        except (MediaPostError, CommandError) as exc:
            fail(str(exc), 1)
    try:
        flow.store_session_key(path, session.session_key)
    except OSError as exc:
        fail(f"cannot write the session key file {path}: {exc.strerror}", 1)
    click.echo(
        f"Logged in as user {session.uid}; the session {flow.expiry_text(session)}. "
        f"Key stored in {path} (mode 0600); workers use it from their next upload."
    )
    if settings.session_key is not None:
        click.secho(
            "MEDIAPOST_SESSION_KEY is set and wins over the file: unset it so the new key is used",
            fg="yellow",
            err=True,
        )


@main.command()
@click.option("--port", default=9808, show_default=True, help="Port to serve /metrics on.")
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (0.0.0.0 lets other hosts scrape it).",
)
def metrics(port: int, address: str) -> None:
    """Serve Prometheus metrics (read from Redis on every scrape) until stopped.

    One exporter covers every worker: the counts live in Redis, not in this process.
    Families: mediapost_files_total{outcome}, mediapost_api_errors_total{code},
    mediapost_upload_seconds, mediapost_queue_depth, mediapost_in_flight,
    mediapost_album_fill/_limit{series}, mediapost_uploads_in_doubt_total{kind},
    mediapost_account_paused{account,code}, mediapost_redis_up.
    """
    settings = settings_or_exit()
    start_logging(settings)
    import signal
    import threading

    from mediapost.commands.connections import configured_account
    from worker.metrics import serve

    redis = redis_or_exit(settings)
    account = configured_account(settings)
    try:
        server, _thread = serve(
            redis, address=address, port=port, accounts=[account] if account else []
        )
    except OSError as exc:
        fail(f"cannot serve on {address}:{port}: {exc.strerror}", 1)
    click.echo(f"serving metrics on http://{address}:{server.server_port}/metrics", err=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    redis.close()
