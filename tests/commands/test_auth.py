"""`mediapost auth`: the token flow end to end against the emulator, key stored for workers."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path
from typing import IO

from mediapost.commands.auth import login_url
from tests.commands.invoke import cli_env, python, run, subprocess_env
from tests.worker.harness import Stack

TOKEN = re.compile(r"auth_token=([0-9a-f]+)")


def start_auth(stack: Stack, *args: str) -> subprocess.Popen[str]:
    """`mediapost auth` as a child process, its stdin and stdout ours to drive."""
    return subprocess.Popen(
        [python(), "-m", "mediapost", "auth", *args],
        env=subprocess_env(stack),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=stack.root,
    )


def read_until(stream: IO[str], needle: str) -> str:
    """Lines up to and including the first one containing `needle` (the child flushes lines)."""
    seen = ""
    for line in stream:
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never came; got {seen!r}")


def session_file(stack: Stack) -> Path:
    """Where the stack's settings put the session key."""
    return Path(stack.env["MEDIAPOST_STATE_DIR"]) / "session_key"


def assert_stored_and_working(stack: Stack, output: str) -> None:
    """The file is 0600, holds a live session of the emulator, never printed, and `check` passes."""
    path = session_file(stack)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    sessions = {s["session_key"]: s for s in stack.inspect()["sessions"]}
    assert sessions[key]["valid"]
    assert key not in output
    # The demo session no longer works: `check` passes only with the stored key.
    stack.post_admin("sessions/expire", {"session_key": "demo-session"})
    checked = run(stack, "check", env=cli_env(stack))
    assert checked.exit_code == 0, checked.output
    assert f"the session key from {path} is accepted" in checked.stdout


def test_auth_prints_the_login_page_waits_for_enter_and_stores_a_working_key(
    stack: Stack,
) -> None:
    """Enter before approval says so; after approval the key is stored 0600 and check passes."""
    child = start_auth(stack)
    assert child.stdin is not None and child.stdout is not None
    shown = read_until(child.stdout, "Press Enter")
    match = TOKEN.search(shown)
    assert match, shown
    assert f"{stack.emulator_url.removesuffix('/api.php')}/login?auth_token=" in shown

    child.stdin.write("\n")
    child.stdin.flush()
    shown += read_until(child.stdout, "Not approved yet")
    stack.post_admin("tokens/approve", {"auth_token": match.group(1)})
    child.stdin.write("\n")
    child.stdin.flush()
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, out + err
    assert "Logged in as user 100000000000001" in out
    assert_stored_and_working(stack, shown + out + err)


def test_auth_wait_approved_polls_until_the_token_is_approved(stack: Stack) -> None:
    """--wait-approved needs no terminal: approval through the admin API is picked up."""
    child = start_auth(stack, "--wait-approved", "--timeout", "30")
    assert child.stdout is not None
    shown = read_until(child.stdout, "Waiting for the approval")
    match = TOKEN.search(shown)
    assert match, shown
    stack.post_admin("tokens/approve", {"auth_token": match.group(1)})
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, out + err
    assert_stored_and_working(stack, shown + out + err)


def test_the_login_url_uses_the_endpoint_base_or_the_given_pattern() -> None:
    """The emulator's page by default; a community's own page from --login-url."""
    assert (
        login_url("http://127.0.0.1:8080/api.php", "t0k", "demo")
        == "http://127.0.0.1:8080/login?auth_token=t0k"
    )
    assert (
        login_url(
            "https://api.example.org/api.php",
            "t0k",
            "demo",
            "https://{community}.example.org/l?t={token}",
        )
        == "https://demo.example.org/l?t=t0k"
    )
