"""The one redaction processor: secrets never reach a log line."""

from __future__ import annotations

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
