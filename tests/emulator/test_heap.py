"""The emulator's malloc settings take where glibc is the allocator."""

from __future__ import annotations

import platform
import sys

import pytest

from emulator import heap


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt thresholds are a glibc feature",
)
def test_freed_buffer_thresholds_are_accepted_by_glibc() -> None:
    """mallopt answers 1 for both settings, and setting them again is harmless."""
    assert heap.keep_freed_buffers() is True
    assert heap.keep_freed_buffers() is True
