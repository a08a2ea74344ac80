"""`mediapost emulator` / `python -m emulator`: run the local MediaPost server from the shell."""

from __future__ import annotations

from pathlib import Path

import click

from emulator.config import EmulatorConfig
from emulator.faults import FaultRule, FaultSpecError, RateLimit, parse_fault_option
from emulator.server import serve


def _fault_rules(values: tuple[str, ...]) -> list[FaultRule]:
    try:
        return [parse_fault_option(v) for v in values]
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from exc


def _rate_limit(value: str | None) -> RateLimit | None:
    if value is None:
        return None
    calls, _, seconds = value.partition("/")
    try:
        return RateLimit(int(calls), float(seconds))
    except (ValueError, FaultSpecError) as exc:
        raise click.BadParameter(
            "expected CALLS/SECONDS like 100/60", param_hint="--rate-limit"
        ) from exc


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port (0 = any free one).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where uploaded images are kept (default: a temp dir removed on exit).",
)
@click.option("--latency-ms", default=0.0, type=float, help="Delay added to every API call.")
@click.option("--enforce-call-id", is_flag=True, help="Answer 103 to a call_id that does not grow.")
@click.option(
    "--no-photo-upload-permission",
    is_flag=True,
    help="The demo app lacks photo_upload: uploads are stored as pending.",
)
@click.option(
    "--session-ttl",
    default=3600,
    show_default=True,
    type=int,
    help="Seconds a session from getSession lasts (0 = never expires).",
)
@click.option("--seed", default=None, type=int, help="Seed the fault RNG and the ids.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="CODE=RATE",
    help="Answer error CODE to that fraction of uploads, e.g. --fault 2=0.05 (repeatable).",
)
@click.option("--rate-limit", default=None, metavar="CALLS/SECONDS", help="Code 4 past this rate.")
@click.option("--drop-rate", default=0.0, type=float, help="Store, then drop this fraction.")
@click.option("--stall-rate", default=0.0, type=float, help="Store, then stall this fraction.")
@click.option("--stall-seconds", default=30.0, type=float, show_default=True, help="Stall length.")
@click.option("--no-image-check", is_flag=True, help="Accept data that is not an image.")
@click.option(
    "--discard-bytes", is_flag=True, help="Keep no image bytes (benchmarks; gallery shows tiles)."
)
@click.option("--no-hash", is_flag=True, help="Skip SHA-256 of uploads (benchmarks).")
def emulator_command(
    host: str,
    port: int,
    data_dir: Path | None,
    latency_ms: float,
    enforce_call_id: bool,
    no_photo_upload_permission: bool,
    session_ttl: int,
    seed: int | None,
    faults: tuple[str, ...],
    rate_limit: str | None,
    drop_rate: float,
    stall_rate: float,
    stall_seconds: float,
    no_image_check: bool,
    discard_bytes: bool,
    no_hash: bool,
) -> None:
    """Run a local MediaPost API server (key demo-key, secret demo-secret, session demo-session)."""
    rules = _fault_rules(faults)
    try:
        if drop_rate > 0:
            rules.append(FaultRule(action="drop", rate=drop_rate))
        if stall_rate > 0:
            rules.append(FaultRule(action="stall", rate=stall_rate, seconds=stall_seconds))
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc)) from exc
    config = EmulatorConfig(
        host=host,
        port=port,
        data_dir=data_dir,
        latency_ms=latency_ms,
        enforce_call_id=enforce_call_id,
        photo_upload_permission=not no_photo_upload_permission,
        session_ttl_s=session_ttl,
        seed=seed,
        faults=rules,
        rate_limit=_rate_limit(rate_limit),
        check_image_bytes=not no_image_check,
        keep_bytes=not discard_bytes,
        hash_bytes=not no_hash,
    )
    try:
        serve(config)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc


def main() -> None:
    """Entry point for `python -m emulator`."""
    emulator_command(prog_name="python -m emulator")
