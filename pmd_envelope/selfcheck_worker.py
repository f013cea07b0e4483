"""Entry point of the self-intersection worker process: ``python -m pmd_envelope.selfcheck_worker``.

The worker is started by :class:`pmd_envelope.integrity.SelfIntersectionCheck` as a plain
subprocess with this fixed module as its entry point. It never imports the caller's ``__main__``
(multiprocessing's ``spawn`` does, which fails from a script without an
``if __name__ == "__main__":`` guard, and from some notebooks and REPLs), so the check runs the
same from a script, a notebook, a REPL and the CLI.

Protocol: on stdin, one JSON line ``{"v": [n, 3], "f": [m, 3]}`` then the vertices (float64) and
faces (int64), little-endian; on stdout, one line of JSON ``{"count": int, "status": str}``.
Through a pipe, not a file, so a full disk cannot stop the check. Any failure exits non-zero
with the error on stderr; the parent then records the check as not evaluated, which makes the
gate indeterminate (never a pass).
"""

from __future__ import annotations

import json
import sys

__all__ = ["main"]


def main() -> int:
    from pmd_envelope.integrity import _self_intersection_worker

    stdin = sys.stdin.buffer
    shapes = json.loads(stdin.readline())
    v = _read(stdin, "<f8", shapes["v"])
    f = _read(stdin, "<i8", shapes["f"])
    count, status = _self_intersection_worker(v, f)
    sys.stdout.write(json.dumps({"count": int(count), "status": str(status)}) + "\n")
    sys.stdout.flush()
    return 0


def _read(stream, dtype: str, shape: list[int]):
    import numpy as np

    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    data = stream.read(n)
    if len(data) != n:
        raise EOFError(f"the worker's input ended after {len(data)} of {n} bytes")
    # a writable copy: manifold3d (nanobind) refuses read-only arrays
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


if __name__ == "__main__":
    sys.exit(main())
