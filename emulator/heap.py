"""Keep freed request buffers in the process heap instead of handing them back to the kernel.

Every upload passes through the emulator as a stream of short-lived 64 KiB-1 MiB bytes objects
(uvloop's reads, aiohttp's body slices). With glibc's defaults those come from fresh mmaps or a
heap trimmed after each burst, so each costs page faults and zeroing: half of the emulator's CPU
per large upload went to the kernel. Serving blocks up to 4 MiB from the heap and keeping up to
32 MiB of it free cut that CPU by ~45 % (bench/emulator_cpu.py, one connection: 25 MB uploads
20 -> 11 ms, 4 MB 8.9 -> 3.2 ms; 8 concurrent 25 MB uploads 21 -> 13.5 ms), for at most 32 MiB
more resident memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt(3) parameter numbers, from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 4 << 20
TRIM_THRESHOLD = 32 << 20


def keep_freed_buffers() -> bool:
    """Set the two malloc thresholds where glibc is the allocator; False where it is not."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
