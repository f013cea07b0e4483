"""Entry point of the self-intersection worker process: ``python -m pmd_envelope.selfcheck_worker IN.npz``.

The worker is started by :class:`pmd_envelope.integrity.SelfIntersectionCheck` as a plain
subprocess with this fixed module as its entry point. It never imports the caller's ``__main__``
(multiprocessing's ``spawn`` does, which fails from a script without an
``if __name__ == "__main__":`` guard, and from some notebooks and REPLs), so the check runs the
same from a script, a notebook, a REPL and the CLI.

Protocol: the vertices and faces arrive in an ``.npz`` file (``v``, ``f``); the answer is one
line of JSON on stdout, ``{"count": int, "status": str}``. Any failure exits non-zero with the
error on stderr; the parent then records the check as not evaluated, which makes the gate
indeterminate (never a pass).
"""

from __future__ import annotations

import json
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from pmd_envelope.integrity import _self_intersection_worker

    argv = sys.argv[1:] if argv is None else argv
    with np.load(argv[0], allow_pickle=False) as data:
        v, f = data["v"], data["f"]
    count, status = _self_intersection_worker(v, f)
    sys.stdout.write(json.dumps({"count": int(count), "status": str(status)}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
