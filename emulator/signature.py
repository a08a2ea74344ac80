"""The MediaPost request signature (contract §2), computed independently of the client.

Every parameter except the signature itself and the raw image part `data`, each written as
`name=value` (the value as sent, not URL-encoded, UTF-8), sorted by name, concatenated with no
separator, the application secret appended; the signature is the lower-case hex MD5 of that.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_NAMES = frozenset({"sig", "apiSig"})
UNSIGNED_NAMES = SIGNATURE_NAMES | {"data"}


def signature_base(params: Iterable[tuple[str, str]]) -> str:
    """The exact text that is hashed, minus the secret; exposed so tests can explain a 104."""
    signed = [(name, value) for name, value in params if name not in UNSIGNED_NAMES]
    # Sort by name only; a stable sort keeps repeated names in the order they were sent.
    signed.sort(key=lambda item: item[0])
    return "".join(f"{name}={value}" for name, value in signed)


def sign(params: Iterable[tuple[str, str]], secret: str) -> str:
    """The signature a correct client would send for these parameters and this secret."""
    return hashlib.md5((signature_base(params) + secret).encode("utf-8")).hexdigest()


def signature_matches(params: Iterable[tuple[str, str]], secret: str, sig: str) -> bool:
    """Whether `sig` is the right signature; exact lower-case hex, compared in constant time."""
    return hmac.compare_digest(sign(params, secret).encode(), sig.encode("utf-8", "replace"))
