"""End-to-end fixtures: `mediapost up` as a subprocess on free ports and a private Redis DB."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from tests.e2e.upstack import UpProcess, free_port

StartUp = Callable[..., UpProcess]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any MEDIAPOST_/FLOWER_ setting, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MEDIAPOST_", "FLOWER_")) and k != "REDIS_URL"
    }
    return {**env, "MEDIAPOST_LOG_FORMAT": "json", **extra}


def stack_env(redis_url: str) -> dict[str, str]:
    """Free ports for the emulator, Flower and the metrics exporter; Redis at `redis_url`."""
    return clean_env(
        REDIS_URL=redis_url,
        MEDIAPOST_ENDPOINT=f"http://127.0.0.1:{free_port()}/api.php",
        FLOWER_PORT=str(free_port()),
        MEDIAPOST_METRICS_PORT=str(free_port()),
    )


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator[StartUp]:
    """Start `mediapost up` in a temp dir; whatever is left running is killed afterwards."""
    started: list[UpProcess] = []

    def start(env: dict[str, str], *args: str) -> UpProcess:
        root = tmp_path / f"up{len(started)}"
        root.mkdir()
        up = UpProcess(root, env, args)
        started.append(up)
        return up

    yield start
    for up in started:
        up.kill_everything()


@pytest.fixture
def stack_redis(redis_url: str, redis_client: redis_lib.Redis) -> str:
    """The tests' Redis database, emptied, for `up` to use as REDIS_URL."""
    return redis_url
