"""Worker fixtures: the emulator in a thread (real HTTP), a clean Redis DB, worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from emulator.config import EmulatorConfig
from emulator.server import RunningEmulator, run_in_thread
from tests.worker.harness import Stack


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A fresh emulator on a free port, with the demo identities."""
    with run_in_thread(EmulatorConfig(port=0, data_dir=tmp_path / "emulator", seed=7)) as emu:
        yield emu


@pytest.fixture
def stack(
    tmp_path: Path, redis_url: str, redis_client: redis_lib.Redis, emulator: RunningEmulator
) -> Iterator[Stack]:
    """Redis + emulator + a place for worker processes; workers are stopped afterwards."""
    root = tmp_path / "stack"
    root.mkdir()
    env = {
        "MEDIAPOST_ENDPOINT": emulator.url,
        "REDIS_URL": redis_url,
        "MEDIAPOST_LOG_FORMAT": "json",
        "MEDIAPOST_LOG_LEVEL": "INFO",
        "MEDIAPOST_STATE_DIR": str(root / "state"),
        "MEDIAPOST_RETRY__INITIAL_WAIT_S": "0.05",
        "MEDIAPOST_RETRY__MAX_WAIT_S": "0.5",
        "MEDIAPOST_RETRY__MAX_TOTAL_S": "10",
        "MEDIAPOST_HTTP_TIMEOUT_S": "10",
        "MEDIAPOST_WORKER__IN_DOUBT_GRACE_S": "1",
    }
    stack = Stack(root, redis_url, emulator.url, redis_client, env=env)
    yield stack
    stack.stop()
