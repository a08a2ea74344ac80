"""deploy/systemd: the example units parse, run real CLI commands and stop workers gracefully.

`systemd-analyze verify` checks them where it exists (it wants the ExecStart binary to exist,
so the copies it checks point at this venv's `mediapost`); the structural checks run anywhere.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from config.settings import WorkerSettings
from tests.deploy.cli_args import parse_cli

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/mediapost/venv/bin/mediapost"
FORCE_EXIT_AFTER_S = 10  # worker/shutdown.py: the bound on requeueing after the grace
SERVICES = (
    "mediapost-worker@.service",
    "mediapost-watcher.service",
    "mediapost-beat.service",
    "mediapost-flower.service",
    "mediapost-metrics.service",
    "mediapost-emulator.service",
)

Unit = dict[str, list[str]]


def read_unit(name: str) -> Unit:
    """`Section.Key` -> its values in order (a key may repeat), comments and blanks skipped."""
    unit: Unit = {}
    section = ""
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        unit.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return unit


def expand(argv: list[str]) -> list[str]:
    """systemd's %-specifiers in an ExecStart, as they would be for instance 1."""
    specifiers = {"%i": "1", "%H": socket.gethostname(), "%%": "%"}
    out = []
    for arg in argv:
        for spec, value in specifiers.items():
            arg = arg.replace(spec, value)
        out.append(arg)
    return out


def test_the_example_units_are_all_there() -> None:
    """A templated worker, the watcher, beat, Flower, metrics, the emulator and a target."""
    present = {p.name for p in UNITS.iterdir()}
    assert {*SERVICES, "mediapost.target", "mediapost.env"} <= present


@pytest.mark.parametrize("name", SERVICES)
def test_each_unit_runs_a_real_cli_command(name: str) -> None:
    """ExecStart is the installed `mediapost` with a command and options the CLI has."""
    [exec_start] = read_unit(name)["Service.ExecStart"]
    binary, *args = shlex.split(exec_start)
    assert binary == INSTALLED
    try:
        parse_cli(expand(args))
    except click.ClickException as exc:
        pytest.fail(f"{name}: `mediapost {' '.join(args)}`: {exc}")


@pytest.mark.parametrize("name", SERVICES)
def test_each_unit_restarts_on_failure_and_stops_with_sigterm(name: str) -> None:
    """Restart=on-failure, KillSignal=SIGTERM, a stop timeout and an unprivileged user."""
    unit = read_unit(name)
    assert unit["Service.Restart"] == ["on-failure"]
    assert unit["Service.KillSignal"] == ["SIGTERM"]
    assert unit["Service.TimeoutStopSec"]
    assert unit["Service.User"] == ["mediapost"]
    if name != "mediapost-emulator.service":
        assert unit["Service.EnvironmentFile"][0] == "/etc/mediapost/mediapost.env"
        assert unit["Unit.PartOf"] == ["mediapost.target"]


def test_worker_waits_out_its_shutdown_grace_and_gets_its_secret_as_a_credential() -> None:
    """The worker outlasts its warm shutdown before SIGKILL and reads the secret from systemd."""
    unit = read_unit("mediapost-worker@.service")
    grace = WorkerSettings().shutdown_grace_s + FORCE_EXIT_AFTER_S
    assert float(unit["Service.TimeoutStopSec"][0]) > grace
    assert unit["Service.KillMode"] == ["mixed"]  # SIGTERM to the main process only
    assert unit["Service.LoadCredential"] == ["mediapost_secret:/etc/mediapost/secret"]
    assert "MEDIAPOST_SECRET_FILE=%d/mediapost_secret" in unit["Service.Environment"]
    assert "%i" in unit["Service.ExecStart"][0]  # one Celery node name per instance


def test_flower_unit_refuses_to_start_without_a_login() -> None:
    """Flower's unit checks FLOWER_BASIC_AUTH before starting and binds 127.0.0.1."""
    unit = read_unit("mediapost-flower.service")
    assert "/etc/mediapost/flower.env" in unit["Service.EnvironmentFile"]
    assert unit["Service.ExecStartPre"] == ['/usr/bin/test -n "${FLOWER_BASIC_AUTH}"']
    assert "--address 127.0.0.1" in unit["Service.ExecStart"][0]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing to say about any unit (warnings included)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: the systemd package)")
    mediapost = Path(sys.executable).with_name("mediapost")
    for unit in UNITS.iterdir():
        if unit.suffix in (".service", ".target"):
            text = unit.read_text().replace(INSTALLED, str(mediapost))
            (tmp_path / unit.name).write_text(text)
    (tmp_path / "mediapost-worker@1.service").write_text(
        (tmp_path / "mediapost-worker@.service").read_text()
    )
    paths = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(
        [analyze, "verify", "--man=no", *paths],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    ours = [
        line for line in result.stderr.splitlines() if str(tmp_path) in line or "mediapost" in line
    ]
    assert result.returncode == 0 and not ours, result.stderr
