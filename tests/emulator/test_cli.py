"""`python -m emulator` starts, prints its URL on one line, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.emulator.handmade import call, xml

REPO = Path(__file__).resolve().parents[2]


def test_python_m_emulator_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The module entry point runs the server with the CLI's options and exits 0 on SIGTERM."""
    options = ["--port", "0", "--seed", "3", "--fault", "2=1", "--session-ttl", "60"]
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", *options, "--data-dir", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/api\.php", line)
        assert match, line
        base = match.group(1)
        faults = httpx.get(base + "/admin/faults").json()
        assert faults["seed"] == 3
        assert faults["rules"][0]["code"] == 2 and faults["rules"][0]["rate"] == 1.0
        root = xml(call(base + "/api.php", "up.community.getList", session=None))
        assert root.tag == "community_getList_response"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert stderr == ""


def test_bad_fault_option_is_a_usage_error() -> None:
    """--fault must be CODE=RATE."""
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--fault", "two=half"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "CODE=RATE" in result.stderr
