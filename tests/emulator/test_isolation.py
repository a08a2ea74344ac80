"""The emulator verifies with its own code: it must not import the client or the service."""

from __future__ import annotations

import ast
from pathlib import Path

import emulator

FORBIDDEN = {"mediapost", "config", "worker", "scheduler"}


def test_emulator_imports_nothing_from_the_client_or_the_service() -> None:
    """No module of the emulator package imports mediapost, config, worker or scheduler."""
    offenders = []
    for path in Path(emulator.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
