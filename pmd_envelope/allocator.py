"""glibc malloc settings for a process that measures large meshes.

Measuring a 1M-face design allocates and frees a few hundred arrays of 10-70 MB. With glibc's
defaults, an array above the mmap threshold (128 kB, raised by glibc as large blocks are freed,
up to 32 MB) is mapped fresh and unmapped when freed, so every such array is zero-filled by the
kernel page by page: at 1M faces ~300k page faults and ~2 s of system time in ``measure``.
Serving arrays up to 64 MB from the heap, and keeping up to 128 MB of freed heap before handing
it back, lets those arrays reuse memory already mapped (measured on ``measure`` of a 1M-face
plate, five alternating runs: median 5.48 s -> 5.19 s, system time 2.1 s -> 1.4 s, page
faults 305k -> 224k; the peak memory of a 2M-face ``measure`` 1713 MB -> 1718 MB).

Threads get the same: glibc gives each thread that allocates its own arena of 64 MB heaps,
mapped when needed and unmapped once empty, so the ray-thickness thread's arrays (and the
threads of manifold3d and Embree) were zero-filled afresh each time; with one arena they come
from the heap above (measured on ``measure`` of a 1M-face plate, five alternating runs: 4.61-5.08 s
-> 4.45-4.57 s, system time 1.4-2.0 s -> 0.8-1.0 s; the same JSON). Python's own small objects
do not use malloc's arenas (pymalloc), so the threads rarely wait on the one arena's lock.

Applied by the process entry points this project owns (the CLI, the self-intersection worker,
a batch's pool processes), never on import: it is a per-process setting. Skipped where glibc is
not the C library, and wherever the user set glibc's malloc tunables in the environment (theirs
win). No library offers this; ``mallopt`` is glibc's documented call for it.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune_for_large_arrays", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "ARENA_MAX"]

#: Arrays up to this size [bytes] come from the heap, not a fresh mapping.
MMAP_THRESHOLD = 64 << 20
#: Freed memory at the top of the heap kept for reuse before it is returned [bytes].
TRIM_THRESHOLD = 128 << 20
#: malloc arenas: one, the heap above, shared by every thread (see the module notes).
ARENA_MAX = 1

# mallopt parameter numbers (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_USER_TUNABLES = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "MALLOC_ARENA_MAX")


def tune_for_large_arrays() -> bool:
    """Apply :data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD` and :data:`ARENA_MAX` to this process;
    True when applied.

    False (nothing changed) off Linux, with a C library other than glibc, or when the
    environment sets glibc's malloc tunables.
    """
    if not sys.platform.startswith("linux") or any(name in os.environ for name in _USER_TUNABLES):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, ValueError):  # not glibc (e.g. musl), or no such call
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all([mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD), mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                mallopt(_M_ARENA_MAX, ARENA_MAX)])
