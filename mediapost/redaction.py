"""Masking secrets and control characters out of text that may reach a log or an exception."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MAX_MESSAGE_CHARS = 500

# Categories that can break a log line or spoof it: C0/C1 controls (newline, ESC for ANSI
# sequences), format characters (bidi overrides) and the Unicode line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_SPACES = re.compile(r" {2,}")


def strip_control(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Replace control and format characters by spaces and cap the length (log injection)."""
    cleaned = "".join(" " if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


class Redactor:
    """Replaces every known secret (and its URL-encoded forms) by ``***``, then strips controls."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str | None]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if secret:
                variants.update((secret, quote(secret, safe=""), quote_plus(secret)))
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = tuple(sorted(variants, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        """The text with every secret masked and no control characters."""
        # Mask, strip, mask again: a control character inside an echoed secret must not save it.
        return self._mask(strip_control(self._mask(text)))

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def with_secrets(self, *secrets: str | None) -> Redactor:
        """A redactor that also masks these values (a signature, a one-time token)."""
        return Redactor((*self._secrets, *secrets))

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} masked values>)"
