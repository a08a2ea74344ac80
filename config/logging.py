"""Logging setup for every entrypoint: structlog, JSON off a terminal, secrets removed.

Call :func:`configure_logging` once, in a process's composition root; never at import time.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal

import structlog

REDACTED = "***"
SECRET_FIELD_NAMES = frozenset(
    {"secret", "session_key", "sig", "apisig", "api_sig", "password", "auth_token", "authorization"}
)


class SecretRedactor:
    """A structlog processor that removes known secret values anywhere in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Learn more values to hide (a session key read after start, say)."""
        self._secrets.update(s for s in secrets if s and len(s) >= 4)
        if self._secrets:
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def scrub(self, value: Any) -> Any:
        """Return the value with every secret replaced, recursing into containers."""
        if isinstance(value, str):
            return self._pattern.sub(REDACTED, value) if self._pattern else value
        if isinstance(value, dict):
            return {
                k: REDACTED if str(k).lower() in SECRET_FIELD_NAMES else self.scrub(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        if isinstance(value, BaseException):
            return self.scrub(repr(value))
        return value

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            if key.lower() in SECRET_FIELD_NAMES:
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self.scrub(event_dict[key])
        return event_dict


_redactor = SecretRedactor()


def redactor() -> SecretRedactor:
    """The process-wide redactor, so the composition root can teach it new secrets."""
    return _redactor


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    secrets: Iterable[str] = (),
) -> None:
    """Configure structlog and the stdlib root logger once, for this process."""
    _redactor.add(secrets)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            _redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # One write(2) per line (message and newline together): prefork children share stderr,
        # and PrintLogger's two writes let their lines interleave (`}{`, empty lines).
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Third-party libraries log through the stdlib: render them the same way, redacted.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _redactor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs full URLs at INFO and httpcore headers at DEBUG: keep them quiet.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Celery's per-task "received"/"succeeded" lines repeat our own `photo.*` lines (and cost
    # CPU per photo); keep its warnings and errors.
    for chatty in ("celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
