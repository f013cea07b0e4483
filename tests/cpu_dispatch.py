"""numpy's run-time CPU dispatch, restricted: the environment that makes this machine compute like an older CPU.

numpy picks a SIMD routine for each ufunc at import, from the features the CPU has beyond the
baseline it was built for; ``NPY_DISABLE_CPU_FEATURES`` turns the dispatched ones off (the baseline
cannot be). OpenBLAS picks its kernels the same way; ``OPENBLAS_CORETYPE`` pins an older one. Run
as a script it prints the value of ``NPY_DISABLE_CPU_FEATURES`` for this machine.
"""

from __future__ import annotations

import os
import platform

try:
    from numpy._core import _multiarray_umath as _umath
except ImportError:  # numpy < 2
    from numpy.core import _multiarray_umath as _umath

#: An OpenBLAS kernel every x86-64 CPU with SSE4.2 runs (numpy >= 2.4 needs SSE4.2 anyway).
OPENBLAS_OLD_CORE = "Nehalem"


def dispatched_features() -> list[str]:
    """The non-baseline features numpy dispatches to on this CPU (what can be disabled)."""
    return [f for f in _umath.__cpu_dispatch__ if _umath.__cpu_features__.get(f) and f not in _umath.__cpu_baseline__]


def restricted_env(base: dict | None = None) -> dict:
    """``base`` (default: this process's environment) with numpy's dispatch and OpenBLAS restricted."""
    env = dict(os.environ if base is None else base)
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(dispatched_features())
    if platform.machine().lower() in ("x86_64", "amd64") and _umath.__cpu_features__.get("SSE42"):
        env["OPENBLAS_CORETYPE"] = OPENBLAS_OLD_CORE
    return env


if __name__ == "__main__":
    print(" ".join(dispatched_features()))
