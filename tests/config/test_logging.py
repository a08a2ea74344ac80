"""The one redaction processor: secrets never reach a log line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from config.logging import REDACTED, SecretRedactor


def test_known_secret_values_are_removed_anywhere_in_an_event() -> None:
    """Values nested in strings, dicts, lists and exceptions are replaced."""
    redact = SecretRedactor(["demo-secret", "sess-1234"])
    event = {
        "event": "api.error",
        "message": "bad call with session sess-1234",
        "args": [{"key": "session_key", "value": "sess-1234"}, "x demo-secret y"],
        "error": ValueError("secret demo-secret leaked"),
    }
    out = redact(None, "info", event)
    text = repr(out)
    assert "sess-1234" not in text and "demo-secret" not in text
    assert REDACTED in out["message"]


def test_fields_named_like_secrets_are_masked_whatever_their_value() -> None:
    """A `session_key=` or `sig=` field is masked even if its value was never registered."""
    out = SecretRedactor()(None, "info", {"event": "x", "session_key": "abc", "sig": "0f" * 16})
    assert out["session_key"] == REDACTED and out["sig"] == REDACTED


def test_secrets_learnt_later_are_removed_too() -> None:
    """A session key read after start (`mediapost auth`) joins the redactor."""
    redact = SecretRedactor()
    redact.add(["new-session-key"])
    assert redact.scrub("using new-session-key now") == f"using {REDACTED} now"


FORKED_LOGGERS = """
import os, sys
from config.logging import configure_logging
import structlog
configure_logging(fmt="json")
children = []
for n in range(4):
    pid = os.fork()
    if pid == 0:
        log = structlog.get_logger()
        for i in range(LINES):
            log.info("photo.uploaded", child=n, i=i, pad="x" * 300)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
"""


def test_log_lines_from_forked_processes_sharing_stderr_stay_whole(tmp_path: Path) -> None:
    """Prefork pool children share the worker's stderr: each line must be one write(2)."""
    lines = 1500
    out = tmp_path / "stderr.log"
    with out.open("wb") as err:
        subprocess.run(
            [sys.executable, "-c", FORKED_LOGGERS.replace("LINES", str(lines))],
            stderr=err,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
            timeout=60,
        )
    text = out.read_text().splitlines()
    events = [json.loads(line) for line in text]  # a glued or split line fails here
    assert len(events) == 4 * lines
