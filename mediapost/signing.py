"""The request signature of contract §2: MD5 over the sorted ``name=value`` pairs and the secret."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

# Never signed: the signature itself (both spellings) and the raw image part.
UNSIGNED = frozenset({"sig", "apiSig", "data"})


def signature_base(params: Mapping[str, str], secret: str) -> bytes:
    """The exact bytes that get hashed; kept apart so a test can show what was signed."""
    pairs = sorted(
        (name.encode("utf-8"), value.encode("utf-8"))
        for name, value in params.items()
        if name not in UNSIGNED
    )
    return b"".join(name + b"=" + value for name, value in pairs) + secret.encode("utf-8")


def signature(params: Mapping[str, str], secret: str) -> str:
    """Lower-case hex MD5 of the raw (not URL-encoded) params sorted by name, then the secret."""
    return hashlib.md5(signature_base(params, secret)).hexdigest()
