"""Run `mediapost` commands in-process against a test stack, as an operator would."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from mediapost.cli import main
from tests.worker.harness import Stack


def cli_env(stack: Stack, **extra: str) -> dict[str, str]:
    """The environment the stack's workers get, plus overrides."""
    return {**stack.env, "MEDIAPOST_LOG_FORMAT": "json", **extra}


def run(stack: Stack, *args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI with the stack's settings; stdout and stderr are kept apart."""
    runner = CliRunner()
    return runner.invoke(main, list(args), env=env or cli_env(stack), catch_exceptions=False)


def subprocess_env(stack: Stack, **extra: str) -> dict[str, str]:
    """A full environment for a `python -m mediapost` child."""
    return {**os.environ, **cli_env(stack, **extra)}


def python() -> str:
    """The interpreter of this test run (the project's venv)."""
    return sys.executable


def age(paths: list[Path], seconds: float = 60.0) -> None:
    """Make files look older than any quiet period: an existing tree, not one being written."""
    for path in paths:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))
