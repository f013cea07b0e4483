"""Reading design meshes exactly as they are: no repair, no tolerance merge, units declared.

STL is a triangle soup: a vertex shared by several triangles is written once per triangle. We
identify vertices whose coordinates are bit-identical (that is what the exporter wrote; it is not a
repair) so that topology can be checked. Nothing else is merged, removed or re-oriented:
defects are reported by :mod:`pmd_envelope.integrity` (repair, on request only, is
:mod:`pmd_envelope.repair`).

Binary STL is read with numpy directly: trimesh's loader with vertex merging takes ~4.5 s on 2M
faces where ``np.fromfile`` plus a pandas factorize takes ~0.75 s (shared performance notes).
Other formats (ASCII STL, PLY, OBJ, 3MF) go through ``trimesh.load(..., process=False)``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from pmd_envelope.errors import InputFileError, MeshError, UnitError
from pmd_envelope.geometry import MeshData  # re-exported: MeshData lived here before 0.2
from pmd_envelope.units import LENGTH_UNITS_TO_MM

__all__ = ["MeshData", "load_mesh", "mesh_from_arrays", "write_binary_stl", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".stl", ".ply", ".obj", ".3mf")


def mesh_from_arrays(vertices, faces, *, path: str = "<memory>", units: str = "mm") -> MeshData:
    """Wrap arrays (in ``units``) as a :class:`MeshData` in mm; the hash covers the arrays' bytes."""
    v = np.ascontiguousarray(vertices, dtype=np.float64) * LENGTH_UNITS_TO_MM[units]
    f = np.ascontiguousarray(faces, dtype=np.int64)
    h = hashlib.sha256(v.tobytes() + f.tobytes()).hexdigest()
    _check_arrays(path, v, f)
    return MeshData(vertices=v, faces=f, path=path, sha256=h, units=units)


def load_mesh(path: str | Path, units: str) -> MeshData:
    """Read a mesh file without processing it.

    Parameters
    ----------
    path : str or Path
        An ``.stl``, ``.ply``, ``.obj`` or ``.3mf`` file.
    units : str
        The declared length unit of the file (STL carries none): ``mm``, ``cm``, ``m``, ``in``
        or ``um``. Never guessed.

    Returns
    -------
    MeshData

    Raises
    ------
    InputFileError
        Missing, unreadable, or an unsupported format.
    UnitError
        Unknown unit.
    MeshError
        No triangles, non-finite coordinates, or face indices out of range.
    """
    path = Path(path)
    if units not in LENGTH_UNITS_TO_MM:
        raise UnitError(path, f"unit '{units}' is not known; use one of: {', '.join(LENGTH_UNITS_TO_MM)}")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(path, f"unsupported mesh format '{path.suffix}'; use one of: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read mesh ({exc.strerror or exc})") from None
    digest = hashlib.sha256(raw).hexdigest()
    if suffix == ".stl" and _is_binary_stl(raw):
        v, f = _read_binary_stl(path, raw)
    else:
        v, f = _read_with_trimesh(path, suffix)
    _check_arrays(path, v, f)
    v = v * LENGTH_UNITS_TO_MM[units]
    return MeshData(vertices=v, faces=f, path=str(path), sha256=digest, units=units)


def _is_binary_stl(raw: bytes) -> bool:
    if len(raw) < 84:
        return False
    n = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
    return len(raw) == 84 + 50 * n


def _read_binary_stl(path: Path, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    n = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
    if n == 0:
        raise MeshError(path, "the STL holds no triangles")
    rec = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    tri = np.frombuffer(raw, dtype=rec, count=n, offset=84)["v"].reshape(-1, 3)
    return _merge_identical(tri)


def _merge_identical(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Identify bit-identical corner coordinates; faces index the unique vertices.

    Two pandas factorize passes over integer keys (x and y bits, then with z) are exact and run
    in O(n) hash time, several times faster than ``np.unique(axis=0)``'s lexicographic sort.
    """
    c = np.ascontiguousarray(corners, dtype=np.float32)
    # +0.0 and -0.0 are the same point; compare them equal, and keep NaN for the finite check.
    c = c + np.float32(0.0)
    bits = c.view(np.uint32).astype(np.uint64)
    xy = (bits[:, 0] << np.uint64(32)) | bits[:, 1]
    codes_xy, _ = pd.factorize(xy)
    key = (codes_xy.astype(np.uint64) << np.uint64(32)) | bits[:, 2]
    codes, uniques = pd.factorize(key)
    first = np.full(len(uniques), -1, dtype=np.int64)
    # first corner index of each unique vertex, in order of first appearance
    order = np.arange(len(codes))[::-1]
    first[codes[order]] = order
    vertices = c[first].astype(np.float64)
    faces = codes.astype(np.int64).reshape(-1, 3)
    return vertices, faces


def _read_with_trimesh(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray]:
    import trimesh  # deferred: only needed for non-binary-STL formats

    try:
        loaded = trimesh.load(str(path), process=False, force="mesh")
    except ImportError as exc:  # e.g. 3MF without lxml
        raise InputFileError(path, f"cannot read {suffix} files: {exc}") from None
    except Exception as exc:  # trimesh raises many types for malformed files
        raise InputFileError(path, f"not a readable {suffix} mesh ({type(exc).__name__}: {exc})") from None
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    verts = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    if len(faces) == 0:
        raise MeshError(path, "the file holds no triangles")
    if suffix == ".stl":  # ASCII STL: a soup as well
        return _merge_identical(verts[faces].reshape(-1, 3))
    return verts, faces


def _check_arrays(path, v: np.ndarray, f: np.ndarray) -> None:
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise MeshError(path, "the mesh holds no triangles")
    if v.ndim != 2 or v.shape[1] != 3:
        raise MeshError(path, "vertices must be an (n, 3) array")
    if not np.isfinite(v).all():
        bad = int((~np.isfinite(v)).any(axis=1).sum())
        raise MeshError(path, f"{bad} vertices have non-finite coordinates (NaN or inf)")
    if f.min() < 0 or f.max() >= len(v):
        raise MeshError(path, f"face indices out of range [0, {len(v) - 1}]")


def write_binary_stl(path: str | Path, vertices: np.ndarray, faces: np.ndarray,
                     header: bytes = b"pmd-envelope binary STL") -> None:
    """Write a binary STL (float32, little-endian) with right-hand-rule facet normals.

    Used to make sample cases and test fixtures; the bytes depend only on the arrays.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)
    rec = np.zeros(len(f), dtype=[("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    rec["normal"] = n
    rec["v"] = tri
    with open(path, "wb") as fh:
        fh.write(header[:80].ljust(80, b" "))
        fh.write(np.uint32(len(f)).astype("<u4").tobytes())
        fh.write(rec.tobytes())
