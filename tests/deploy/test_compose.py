"""docker-compose.yml: valid Compose, real CLI commands, scalable workers, secrets from files.

No Docker engine runs here: the file is validated by Debian's `docker-compose config` (it
checks against the Compose specification's JSON schema offline), installed by .ci/run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from config.settings import WorkerSettings
from tests.deploy.cli_args import parse_cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
IMAGE = "mediapost-uploader:latest"
FORCE_EXIT_AFTER_S = 10  # worker/shutdown.py: the bound on requeueing after the grace


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as YAML (anchors and merge keys resolved, variables not)."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """Debian's docker-compose; skips without it, except in CI where .ci/run installs it."""
    path = shutil.which("docker-compose")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is not installed; .ci/run installs it with apt-get")
        pytest.skip("docker-compose is needed to validate the file: apt-get install docker-compose")
    return path


def run_config(docker_compose: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config -q` on our file, with only `env` set among its variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAPOST_", "FLOWER_"))}
    return subprocess.run(
        [docker_compose, "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def python_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run our image (all but Redis)."""
    return {n: s for n, s in compose["services"].items() if s.get("image") == IMAGE}


def seconds(value: str) -> float:
    """A Compose duration such as '90s' or '1m30s' in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", value)
    assert parts and "".join(a + b for a, b in parts) == value, value
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_file_is_valid_compose(docker_compose: str) -> None:
    """`docker-compose config -q` accepts the file once Flower's login is given."""
    result = run_config(docker_compose, FLOWER_BASIC_AUTH="admin:secret")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_flower_without_a_login(docker_compose: str) -> None:
    """Without FLOWER_BASIC_AUTH the file does not resolve, and the message says what to set."""
    result = run_config(docker_compose)
    assert result.returncode != 0
    assert "set FLOWER_BASIC_AUTH=user:password" in result.stderr


def test_every_service_runs_a_command_the_cli_has(compose: dict[str, Any]) -> None:
    """Each Python service's command parses as a real `mediapost` command with real options."""
    services = python_services(compose)
    assert set(services) == {"emulator", "worker", "watcher", "beat", "flower", "metrics"}
    for name, service in services.items():
        try:
            parse_cli(service["command"])
        except click.ClickException as exc:
            pytest.fail(f"service {name}: `mediapost {' '.join(service['command'])}`: {exc}")


def test_command_check_rejects_what_the_cli_does_not_have() -> None:
    """The check above can fail: an unknown command or option is refused."""
    with pytest.raises(click.UsageError):
        parse_cli(["nosuchcommand"])
    with pytest.raises(click.NoSuchOption):
        parse_cli(["flower", "--no-such-option"])


def test_one_image_built_once_for_every_python_service(compose: dict[str, Any]) -> None:
    """Every Python service uses the same image, built from this repository's Dockerfile."""
    for name, service in python_services(compose).items():
        assert service["build"] == ".", name
        assert service["image"] == IMAGE, name


def test_workers_scale_without_clashing(compose: dict[str, Any]) -> None:
    """`--scale worker=N` works: no fixed container name and no host port on the worker."""
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "celery@$$HOSTNAME" in worker["healthcheck"]["test"][1]  # pings this copy only


def test_worker_stop_grace_outlasts_its_shutdown_grace(compose: dict[str, Any]) -> None:
    """Docker waits longer than a worker's own bounded warm shutdown before it kills it."""
    grace = WorkerSettings().shutdown_grace_s + FORCE_EXIT_AFTER_S
    assert seconds(compose["services"]["worker"]["stop_grace_period"]) > grace
    assert compose["services"]["worker"].get("stop_signal", "SIGTERM") == "SIGTERM"


def test_redis_keeps_the_queue_and_ledger_on_disk(compose: dict[str, Any]) -> None:
    """Redis runs append-only, never evicts, and keeps its data in a named volume."""
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "redis-data:/data" in redis["volumes"]
    assert "redis-data" in compose["volumes"]


def test_services_wait_for_redis_and_report_their_health(compose: dict[str, Any]) -> None:
    """Everything but the emulator starts once Redis is healthy; servers have healthchecks."""
    for name, service in python_services(compose).items():
        if name != "emulator":
            assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
    for name in ("redis", "emulator", "worker", "flower", "metrics"):
        assert compose["services"][name]["healthcheck"]["test"], name


def test_watcher_and_workers_share_the_drop_folder_at_one_path(compose: dict[str, Any]) -> None:
    """A task names its file by path, so the watcher and every worker mount it identically."""
    mounts = {n: compose["services"][n]["volumes"][0] for n in ("watcher", "worker")}
    assert mounts["watcher"] == mounts["worker"]
    assert mounts["worker"].endswith(":/data/dropbox")
    assert compose["services"]["watcher"]["command"] == ["watch", "/data/dropbox"]


def test_secrets_come_from_files_never_from_variables(compose: dict[str, Any]) -> None:
    """The secret is a Compose secret and the session key a mounted file; no value in env."""
    for name, service in compose["services"].items():
        for key in service.get("environment", {}):
            if "SECRET" in key or "SESSION_KEY" in key:
                assert key.endswith("_FILE"), f"{name}: {key} would show in docker inspect"
    worker = compose["services"]["worker"]
    assert worker["secrets"] == ["mediapost_secret"]
    assert worker["environment"]["MEDIAPOST_SECRET_FILE"] == "/run/secrets/mediapost_secret"
    assert "mediapost_secret" in compose["secrets"]


def test_published_ports_listen_on_localhost_only(compose: dict[str, Any]) -> None:
    """The gallery, Flower and metrics are published on the host's 127.0.0.1 only."""
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    assert "FLOWER_BASIC_AUTH" in compose["services"]["flower"]["environment"]


def test_image_holds_every_package_of_the_distribution() -> None:
    """The Dockerfile copies each top-level package that pyproject.toml installs."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.M), package
