"""`mediapost up` as a user meets it: clear refusals, a private Redis, a crash reported, Ctrl-C.

Real subprocesses, no browser: these run in the default test run (a few seconds each).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from tests.e2e.conftest import StartUp, clean_env, stack_env
from tests.e2e.upstack import BANNER, free_port


@pytest.fixture
def occupy() -> Iterator[Callable[[], int]]:
    """Take ports the way another program would: listening, and never answering."""
    held: list[socket.socket] = []

    def take() -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        held.append(sock)
        return int(sock.getsockname()[1])

    yield take
    for sock in held:
        sock.close()


def test_up_names_each_taken_port_and_how_to_choose_another(
    start_up: StartUp, occupy: Callable[[], int]
) -> None:
    """Ports held by other programs stop `up` before it starts anything, naming the fix."""
    taken_port, another_taken_port = occupy(), occupy()
    env = clean_env(
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        MEDIAPOST_ENDPOINT=f"http://127.0.0.1:{taken_port}/api.php",
        FLOWER_PORT=str(another_taken_port),
        MEDIAPOST_METRICS_PORT=str(free_port()),
    )
    up = start_up(env)
    assert up.proc.wait(30) == 1
    assert f"port {taken_port} (the emulator, from MEDIAPOST_ENDPOINT)" in up.output
    assert f"MEDIAPOST_ENDPOINT=http://127.0.0.1:{taken_port + 1}/api.php" in up.output
    assert f"port {another_taken_port} (Flower) is in use" in up.output
    assert "--no-flower" in up.output
    assert list((up.state_dir / "logs").iterdir()) == []  # nothing was started


def test_up_says_how_to_get_redis_when_none_answers_and_none_is_installed(
    start_up: StartUp, tmp_path: Path
) -> None:
    """No Redis at REDIS_URL and no redis-server on PATH: `up` says to install one or set it."""
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    env = {**stack_env(f"redis://127.0.0.1:{free_port()}/0"), "PATH": str(empty_path)}
    up = start_up(env)
    assert up.proc.wait(30) == 1
    assert "no usable Redis at 127.0.0.1" in up.output
    assert "apt-get install redis-server" in up.output
    assert "REDIS_URL" in up.output


def test_up_starts_a_private_redis_when_none_answers_and_ctrl_c_stops_everything(
    start_up: StartUp,
) -> None:
    """With no Redis at REDIS_URL, `up` runs its own (append-only); Ctrl-C ends every child."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    up = start_up(stack_env(f"redis://127.0.0.1:{port}/0"))
    assert up.wait_for(BANNER, timeout=120), up.output
    assert up.banner_value("Redis").startswith(f"127.0.0.1:{port} (private")
    assert "no login: it listens on 127.0.0.1 only" in up.banner_value("Flower")
    client = redis_lib.Redis(port=port)
    assert client.ping()
    client.close()

    assert up.interrupt(timeout=120) == 0, up.output[-3000:]
    assert up.output.rstrip().endswith("stopped.")
    assert up.children() == []
    assert (up.state_dir / "redis" / "appendonlydir").is_dir()
    assert (up.state_dir / "logs" / "worker.log").read_text().strip()


def test_up_reports_a_crashed_child_and_stops_the_others(
    start_up: StartUp, stack_redis: str
) -> None:
    """A child that dies is reported with its last lines and log file; `up` then exits 1."""
    up = start_up(stack_env(stack_redis), "--no-flower")
    assert up.wait_for(BANNER, timeout=120), up.output
    os.kill(up.child("worker"), signal.SIGKILL)

    assert up.proc.wait(120) == 1
    assert "worker stopped unexpectedly (killed by SIGKILL)" in up.output
    assert f"Full output: {up.state_dir / 'logs' / 'worker.log'}" in up.output
    assert up.children() == []
