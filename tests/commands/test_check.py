"""`mediapost check`: passes on a good setup, and says what to fix on each usual mistake."""

from __future__ import annotations

import socket

from tests.commands.invoke import cli_env, run
from tests.worker.harness import SECRETS, Stack


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_check_passes_against_the_emulator_and_lists_its_communities(stack: Stack) -> None:
    """Every step ok, the community listed, exit 0, no secret printed."""
    result = run(stack, "check")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "ok   configuration",
        "ok   redis",
        "ok   endpoint, key and secret",
        "ok   community",
        "ok   session",
    ]
    assert "demo (Demo community)" in result.stdout
    assert "the session key from the emulator's demo session is accepted" in result.stdout
    assert lines[-1] == "all checks passed"
    for secret in SECRETS:
        assert secret not in result.output


def test_a_wrong_secret_fails_with_104_and_names_the_setting(stack: Stack) -> None:
    """Code 104: the message says the secret does not match and which variables set it."""
    result = run(stack, "check", env=cli_env(stack, MEDIAPOST_SECRET="not-the-secret"))
    assert result.exit_code == 1
    assert "FAIL endpoint, key and secret: the signature was refused" in result.stdout
    assert "104" in result.stdout
    assert "MEDIAPOST_SECRET or MEDIAPOST_SECRET_FILE" in result.stdout
    assert "not-the-secret" not in result.output
    assert "session" not in result.stdout.split("FAIL")[1].split("\n", 1)[1]


def test_an_expired_session_fails_with_102_and_says_to_run_auth(stack: Stack) -> None:
    """Code 102 after the key and secret passed: run `mediapost auth`."""
    stack.post_admin("sessions/expire", {"all": True})
    result = run(stack, "check")
    assert result.exit_code == 1
    assert "ok   endpoint, key and secret" in result.stdout
    assert "FAIL session: the session key is invalid or expired (102" in result.stdout
    assert "run `mediapost auth`" in result.stdout
    assert "demo-session" not in result.output


def test_an_unreachable_endpoint_fails_with_what_to_check(stack: Stack) -> None:
    """Connection refused: the endpoint is named with MEDIAPOST_ENDPOINT and how to start one."""
    endpoint = f"http://127.0.0.1:{closed_port()}/api.php"
    result = run(stack, "check", env=cli_env(stack, MEDIAPOST_ENDPOINT=endpoint))
    assert result.exit_code == 1
    assert f"FAIL endpoint, key and secret: cannot reach {endpoint}" in result.stdout
    assert "check MEDIAPOST_ENDPOINT" in result.stdout
    assert "`mediapost emulator`" in result.stdout


def test_an_invalid_setting_fails_the_configuration_step(stack: Stack) -> None:
    """A bad value stops at the first step with the field's name."""
    result = run(stack, "check", env=cli_env(stack, MEDIAPOST_ENDPOINT="ftp://nowhere"))
    assert result.exit_code == 1
    assert result.stdout.startswith("FAIL configuration: invalid configuration:")
    assert "MEDIAPOST_ENDPOINT" in result.stdout
