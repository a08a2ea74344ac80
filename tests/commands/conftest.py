"""Command fixtures: the worker harness (emulator, Redis, worker processes) and a clean logging."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from tests.worker.conftest import emulator, stack

__all__ = ["emulator", "stack"]


@pytest.fixture(autouse=True)
def _quiet_uncached_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process commands must not configure structlog: its cached loggers would keep a
    WARNING filter for the later tests that capture INFO lines."""
    monkeypatch.setattr("mediapost.cli.quiet_logging", lambda *args, **kwargs: None)
    config = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=False,
    )
    yield
    structlog.configure(**config)
