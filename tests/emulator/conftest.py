"""Fixtures: a real emulator on a free port, in a thread, with its data in the test's tmp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.config import EmulatorConfig
from emulator.server import RunningEmulator, run_in_thread

StartEmulator = Callable[..., RunningEmulator]


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[StartEmulator]:
    """Start emulators with config overrides; all are stopped at the end of the test."""
    running: list[RunningEmulator] = []

    def start(**overrides: Any) -> RunningEmulator:
        overrides.setdefault("seed", 1234)
        config = EmulatorConfig(port=0, data_dir=tmp_path / f"data{len(running)}", **overrides)
        emu = run_in_thread(config)
        running.append(emu)
        return emu

    yield start
    for emu in running:
        emu.stop()


@pytest.fixture
def emu(start_emulator: StartEmulator) -> RunningEmulator:
    """An emulator with the default config (demo key, secret, session and community)."""
    return start_emulator()
