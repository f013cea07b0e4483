"""glibc malloc settings for a process that measures large meshes.

Measuring a 1M-face design allocates and frees a few hundred arrays of 10-70 MB. With glibc's
defaults, an array above the mmap threshold (128 kB, raised by glibc as large blocks are freed,
up to 32 MB) is mapped fresh and unmapped when freed, so every such array is zero-filled by the
kernel page by page: at 1M faces ~300k page faults and ~2 s of system time in ``measure``.
Serving arrays up to 64 MB from the heap, and keeping up to 128 MB of freed heap before handing
it back (the first thresholds, raised since: below), lets those arrays reuse memory already
mapped (measured on ``measure`` of a 1M-face plate, five alternating runs: median 5.48 s ->
5.19 s, system time 2.1 s -> 1.4 s, page faults 305k -> 224k; the peak memory of a 2M-face
``measure`` 1713 MB -> 1718 MB).

Threads get the same: glibc gives each thread that allocates its own arena of 64 MB heaps,
mapped when needed and unmapped once empty, so the ray-thickness thread's arrays (and the
threads of manifold3d and Embree) were zero-filled afresh each time; with one arena they come
from the heap above (measured on ``measure`` of a 1M-face plate, five alternating runs: 4.61-5.08 s
-> 4.45-4.57 s, system time 1.4-2.0 s -> 0.8-1.0 s; the same JSON). Python's own small objects
do not use malloc's arenas (pymalloc), so the threads rarely wait on the one arena's lock.

Later, with numpy's huge pages off (below), the thresholds were raised to 256 MB and 1 GB: the
largest arrays of a 1M-face ``measure`` (the 72 MB corner and face-corner arrays) then come from
the heap too, instead of being mapped and zero-filled afresh each time (six alternating runs:
4.21-4.41 s -> 3.99-4.26 s, system time 0.97-1.08 s -> 0.79-0.97 s, the same JSON; the peak
memory of a 2M-face ``measure`` 1686 MB -> 1784 MB).

Applied by the process entry points this project owns (the CLI, the self-intersection worker,
a batch's pool processes), never on import: it is a per-process setting. Skipped where glibc is
not the C library, and wherever the user set glibc's malloc tunables in the environment (theirs
win). No library offers this; ``mallopt`` is glibc's documented call for it.

The same entry points also set, before numpy is first imported, two variables that numpy and
OpenBLAS read when they load (:func:`set_library_defaults`; a variable the user set wins):

* ``NUMPY_MADVISE_HUGEPAGE=0`` (numpy's documented switch): numpy otherwise asks the kernel for
  2 MB pages for every array of 4 MB or more. Where the kernel honours that (transparent huge
  pages "madvise", this machine's default), a fault finds or assembles a free 2 MB page and
  zero-fills it whole, and here that cost more than it saved: at 1M faces a ``measure`` took
  ~600 such faults (1.2 GB zero-filled), and its system time was the largest in the run.
* ``OPENBLAS_NUM_THREADS=1``: numpy's and scipy's OpenBLAS each start a thread per core when
  loaded, which spins before it sleeps (~0.3 s of CPU per ``measure``, seen in a profile),
  and their products here are small (three-column and small fits; ``measure`` limits BLAS to
  one thread anyway).

Together (``measure`` of a 1M-face plate, six alternating runs, with the thresholds above at
64 MB and 128 MB): 4.44-5.09 s -> 4.21-4.41 s, user time 6.24-6.51 s -> 6.00-6.30 s, system time
1.57-2.17 s -> 0.97-1.08 s, the same JSON.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune_for_large_arrays", "set_library_defaults", "LIBRARY_DEFAULTS", "MMAP_THRESHOLD",
           "TRIM_THRESHOLD", "ARENA_MAX"]

#: Arrays up to this size [bytes] come from the heap, not a fresh mapping.
MMAP_THRESHOLD = 256 << 20
#: Freed memory at the top of the heap kept for reuse before it is returned [bytes].
TRIM_THRESHOLD = 1 << 30
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


#: ``(variable, value, the variables that mean the user chose)``: set by :func:`set_library_defaults`.
LIBRARY_DEFAULTS = (
    ("NUMPY_MADVISE_HUGEPAGE", "0", ("NUMPY_MADVISE_HUGEPAGE",)),
    ("OPENBLAS_NUM_THREADS", "1", ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")),
)


def set_library_defaults() -> tuple[str, ...]:
    """Set :data:`LIBRARY_DEFAULTS` in this process's environment; the names set.

    Nothing is set once numpy is imported (the variables are read when numpy and OpenBLAS
    load, so this is for a process's entry point), nor where the user set one of a variable's
    own names. Child processes (the self-intersection worker, a batch's pool) inherit them.
    """
    if "numpy" in sys.modules:
        return ()
    done = []
    for name, value, chosen_by in LIBRARY_DEFAULTS:
        if not any(n in os.environ for n in chosen_by):
            os.environ[name] = value
            done.append(name)
    return tuple(done)
