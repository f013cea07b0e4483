"""Reading design meshes exactly as they are: no repair, units declared, corners welded.

STL is a triangle soup: a vertex shared by several triangles is written once per triangle, and
other formats split a vertex where its normals or texture coordinates differ. Corners are made
one vertex in two steps, neither of which is a repair:

1. *Identity*: corners whose coordinates are bit-identical (``0.0`` and ``-0.0`` equal) are one
   vertex. That is what the exporter wrote.
2. *Welding*: corners closer than a stated tolerance, relative to the mesh size (the largest
   extent of its bounding box), are one vertex, the corner seen first keeping its coordinates.
   CAD exporters write one corner as ``0.0`` on one facet and ``6e-17`` on the next; read as
   two vertices they make a closed solid look open. The tolerance (``1e-6`` of the size by
   default: 0.25 um on a 250 mm build, far below any printable feature) is recorded with the
   number of vertices welded beyond identity and the largest distance closed; a group of
   corners that the tolerance would chain together over more than the tolerance is left
   unwelded and counted, so two vertices farther apart than the tolerance are never one.

Nothing else is merged, removed or re-oriented: defects are reported by
:mod:`pmd_envelope.integrity` (repair, on request only, is :mod:`pmd_envelope.repair`).

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
from pmd_envelope.geometry import MeshData, Welding  # re-exported: MeshData lived here before 0.2
from pmd_envelope.settings import DEFAULT_SETTINGS
from pmd_envelope.units import LENGTH_UNITS_TO_MM

__all__ = ["MeshData", "Welding", "load_mesh", "mesh_from_arrays", "weld_corners", "close_pairs_bound", "close_pairs",
           "write_binary_stl", "SUPPORTED_SUFFIXES", "DEFAULT_WELD_RELATIVE_TOLERANCE"]

SUPPORTED_SUFFIXES = (".stl", ".ply", ".obj", ".3mf")
#: Corners closer than this fraction of the mesh's largest extent are one vertex (the basis is in
#: ``Settings.weld_relative_tolerance``). It is also 16x a float32 unit in the last place of a
#: coordinate as large as the mesh, so a corner rounded to float32 twice from slightly different
#: doubles is still welded; the public CAD exports in tests/data/real differ by < 1e-16 of their
#: size where they differ at all.
DEFAULT_WELD_RELATIVE_TOLERANCE = DEFAULT_SETTINGS.weld_relative_tolerance
#: Largest mesh file read [bytes]: a binary STL of 10M faces is 0.5 GB, 20x the 2M-face designs the
#: performance notes measure; anything larger is refused before it is read into memory.
MAX_MESH_BYTES = 1 << 30




def mesh_from_arrays(vertices, faces, *, path: str = "<memory>", units: str = "mm") -> MeshData:
    """Wrap arrays (in ``units``) as a :class:`MeshData` in mm; the hash covers the arrays' bytes."""
    v = np.ascontiguousarray(vertices, dtype=np.float64) * LENGTH_UNITS_TO_MM[units]
    f = np.ascontiguousarray(faces, dtype=np.int64)
    h = hashlib.sha256(v.tobytes() + f.tobytes()).hexdigest()
    _check_arrays(path, v, f)
    return MeshData(vertices=v, faces=f, path=path, sha256=h, units=units)


def load_mesh(path: str | Path, units: str, *,
              weld_relative_tolerance: float = DEFAULT_WELD_RELATIVE_TOLERANCE) -> MeshData:
    """Read a mesh file without processing it; corners are welded as the module notes say.

    Parameters
    ----------
    path : str or Path
        An ``.stl``, ``.ply``, ``.obj`` or ``.3mf`` file.
    units : str
        The declared length unit of the file (STL carries none): ``mm``, ``cm``, ``m``, ``in``
        or ``um``. Never guessed.
    weld_relative_tolerance : float
        Corners closer than this fraction of the largest extent are one vertex (0: identity only).

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
        size = path.stat().st_size
        if size > MAX_MESH_BYTES:  # refused before reading: the file is read into memory whole
            raise MeshError(path, f"{size / 2**30:.3g} GiB is more than the {MAX_MESH_BYTES / 2**30:g} GiB a design mesh "
                                  "needs; decimate or split the export")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read mesh ({exc.strerror or exc})") from None
    digest = hashlib.sha256(raw).hexdigest()
    if suffix == ".stl" and _is_binary_stl(raw):
        corners = _read_binary_stl(path, raw)
    elif suffix == ".stl":
        _refuse_non_ascii_stl(path, raw)
        corners = _read_with_trimesh(path, suffix)
    else:
        if suffix == ".3mf":
            _refuse_hostile_3mf(path, raw)
        corners = _read_with_trimesh(path, suffix)
    if not np.isfinite(corners).all():
        bad = int((~np.isfinite(corners)).any(axis=1).sum())
        raise MeshError(path, f"{bad} triangle corners have non-finite coordinates (NaN or inf); "
                              "export the mesh again")
    try:
        v, f, welding = weld_corners(corners, weld_relative_tolerance)
    except WeldError as exc:
        raise MeshError(path, str(exc)) from None
    _check_arrays(path, v, f)
    v = v * LENGTH_UNITS_TO_MM[units]
    return MeshData(vertices=v, faces=f, path=str(path), sha256=digest, units=units, welding=welding)


def _is_binary_stl(raw: bytes) -> bool:
    if len(raw) < 84:
        return False
    n = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
    return len(raw) == 84 + 50 * n


def _refuse_non_ascii_stl(path: Path, raw: bytes) -> None:
    """An STL that is not binary by its size must be ASCII text starting with ``solid``."""
    head = raw[:1024]
    if head.lstrip()[:5].lower() == b"solid" and b"\0" not in head:
        return
    if len(raw) >= 84:
        n = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
        raise MeshError(path, f"not a readable STL file: as binary STL its header announces {n} triangles "
                              f"({84 + 50 * n} bytes) but the file has {len(raw)} bytes, and it is not ASCII STL "
                              "(no 'solid' line); the file is truncated or not an STL: export it again")
    raise MeshError(path, f"not a readable STL file: {len(raw)} bytes, too short for binary STL (84-byte header) and "
                          "not ASCII STL (no 'solid' line): export it again")


def _read_binary_stl(path: Path, raw: bytes) -> np.ndarray:
    """Corners (3m, 3) float32 of a binary STL."""
    n = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
    if n == 0:
        raise MeshError(path, "the STL holds no triangles")
    rec = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    return np.frombuffer(raw, dtype=rec, count=n, offset=84)["v"].reshape(-1, 3)


def _identical(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bit-identical corners as one vertex: (unique vertices float64, code of each corner).

    Unique vertices are in order of first appearance. Factorizing integer keys with pandas
    (hash-based, O(n)) is several times faster than ``np.unique(axis=0)``'s lexicographic sort.
    Each corner's three coordinates are mixed into one 64-bit key and factorized once; two
    different corners could share a key, so every corner is then compared bit for bit with its
    vertex, and on any difference the keys are built exactly instead (float32: two coordinates
    per 64-bit key, then the third; float64: one factorize per coordinate and two to combine).
    At 1M faces one factorize and the check take 0.16 s against 0.21 s for the exact keys.
    """
    # +0.0 and -0.0 are the same point: adding 0.0 turns -0.0 into 0.0
    c = np.ascontiguousarray(corners) + corners.dtype.type(0.0)
    if c.dtype != np.float32:
        c = c.astype(np.float64, copy=False)
    bits = c.view(np.uint32 if c.dtype == np.float32 else np.uint64)
    wide = bits.astype(np.uint64, copy=False)
    codes, uniques = pd.factorize(_mixed_keys(wide, 32 if c.dtype == np.float32 else 0))
    first = _first_of_each(codes, len(uniques))
    if not (bits[first][codes] == bits).all():  # two corners shared a key: the exact keys
        if c.dtype == np.float32:
            codes_xy, _ = pd.factorize((wide[:, 0] << np.uint64(32)) | wide[:, 1])
            codes, uniques = pd.factorize((codes_xy.astype(np.uint64) << np.uint64(32)) | wide[:, 2])
        else:
            cx, _ = pd.factorize(bits[:, 0])
            cy, uy = pd.factorize(bits[:, 1])
            cz, uz = pd.factorize(bits[:, 2])
            cxy, _ = pd.factorize(cx.astype(np.int64) * len(uy) + cy)
            codes, uniques = pd.factorize(cxy.astype(np.int64) * len(uz) + cz)
        first = _first_of_each(codes, len(uniques))
    return c[first].astype(np.float64), codes.astype(np.int64, copy=False)


def _mixed_keys(wide: np.ndarray, shift: int) -> np.ndarray:
    """One 64-bit key per row of three coordinates' bits (not unique: :func:`_identical` checks)."""
    # odd multipliers (wrapping products); float32's x is shifted to the upper half
    return (wide[:, 0] << np.uint64(shift)) ^ (wide[:, 1] * np.uint64(0x9E3779B97F4A7C15)) \
        ^ (wide[:, 2] * np.uint64(0xC2B2AE3D27D4EB4F))


def _first_of_each(codes: np.ndarray, n: int) -> np.ndarray:
    """Index of the first element with each code ``0 .. n - 1``."""
    first = np.full(n, -1, dtype=np.int64)
    order = np.arange(len(codes))[::-1]
    first[codes[order]] = order
    return first


#: Close pairs allowed per vertex before the coordinates are judged degenerate (see weld_corners).
_WELD_PAIR_BUDGET = 4
#: A fixed direction that no axis-aligned grid of CAD vertices projects onto in repeated values.
_GENERIC_DIRECTION = np.array([1.0, np.sqrt(2.0), np.sqrt(3.0)]) / np.sqrt(6.0)


def _projected(points: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of ``points`` along :data:`_GENERIC_DIRECTION`, and per sorted point how many
    later ones lie within ``tol`` (widened by the projection's rounding) along it."""
    x = points @ _GENERIC_DIRECTION
    order = np.argsort(x, kind="stable")
    x = x[order]
    window = tol + 16.0 * np.finfo(np.float64).eps * float(np.abs(points).max())
    return order, np.searchsorted(x, x + window, side="right") - np.arange(1, len(x) + 1)


def close_pairs_bound(points: np.ndarray, tol: float) -> int:
    """An upper bound on the number of pairs of ``points`` within ``tol`` of each other.

    Two points within ``tol`` in space are within ``tol`` along any unit direction, so the
    pairs whose projections on one fixed direction lie within ``tol`` include them all. The
    window is widened by the projection's rounding (a few units in the last place of the
    largest coordinate), so the bound never misses a pair. One sort and one binary search
    (0.06 s at 500k vertices) against 0.3 s for scipy's exact tree-against-tree count.
    """
    if len(points) < 2:
        return 0
    return int(_projected(points, tol)[1].sum())


def close_pairs(points: np.ndarray, tol: float, budget: int) -> np.ndarray | None:
    """The pairs ``(i, j)``, ``i < j``, of ``points`` within ``tol`` of each other; None when
    :func:`close_pairs_bound` exceeds ``budget`` (then ask a k-d tree).

    The pairs of :func:`close_pairs_bound`'s window are all the candidates; each is kept when its
    squared distance, summed x, y, z in that order, is at most ``tol ** 2``: scipy's
    ``cKDTree.query_pairs`` criterion, whose answer this is, without building the tree (at 1M
    faces the tree and its query took 0.19 s, the candidates take 0.05 s beyond the bound's 0.04 s).
    """
    n = len(points)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    order, later = _projected(points, tol)
    total = int(later.sum())
    if total > budget:
        return None
    first = np.repeat(np.arange(n), later)
    # the k-th candidate of sorted point s is sorted point s + 1 + k
    second = first + 1 + (np.arange(total) - np.repeat(np.cumsum(later) - later, later))
    i, j = order[first], order[second]
    d = points[i] - points[j]
    near = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2] <= tol * tol
    return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)[near]


class WeldError(ValueError):
    """Too many corners within the weld tolerance of each other: the coordinates are degenerate."""

    def __init__(self, close: int, tol: float, n: int):
        super().__init__(f"{close} pairs of the {n} distinct corners lie within the weld tolerance {tol:.3g} (1e-6 of "
                         "the largest extent): the coordinates are degenerate (e.g. one far-off vertex); export the "
                         "mesh again")


def weld_corners(corners: np.ndarray, relative_tolerance: float = DEFAULT_WELD_RELATIVE_TOLERANCE
                 ) -> tuple[np.ndarray, np.ndarray, Welding]:
    """Vertices, faces and the :class:`Welding` of a triangle soup (3 corners per triangle).

    Parameters
    ----------
    corners : numpy.ndarray, (3m, 3) float32 or float64
        Triangle corners in file order.
    relative_tolerance : float
        Corners closer than this fraction of the largest bounding-box extent are one vertex.

    Notes
    -----
    Pairs within the tolerance are found by :func:`close_pairs` (or, when a cheap bound says
    they may be too many to list, counted and listed by a scipy k-d tree) and grouped by
    connected components. A group is welded onto its
    first-seen vertex only when every member lies within the tolerance of every other (checked
    on the group's bounding box, then pairwise); otherwise it is left as read and counted in
    ``unwelded_groups``.

    Examples
    --------
    >>> import numpy as np
    >>> tri = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-0.0, 0, 6e-17], [0, 1, 0], [0, 0, 1]])
    >>> v, f, w = weld_corners(tri)
    >>> len(v), w.identical_vertices, w.welded
    (4, 5, 1)
    """
    # scipy is imported only on the paths that need it (close pairs beyond the budget, or any
    # close pairs at all): a clean export has none, and its read then does not wait for
    # scipy.sparse and scipy.spatial to load (~0.1 s of every `measure`, measured)
    unique, codes = _identical(corners)
    size = float(np.ptp(unique, axis=0).max()) if len(unique) else 0.0
    tol = relative_tolerance * size
    welded, max_distance, unwelded = 0, 0.0, 0
    keep = np.arange(len(unique))
    if tol > 0 and len(unique) > 1:
        # count before listing: in a file of garbage coordinates one far-off vertex makes the
        # relative tolerance larger than the rest of the mesh, and listing every pair took 3 GB
        # (found by fuzzing). A real export has at most a few close pairs per vertex. Within the
        # budget the cheap bound's candidates give the pairs; above it a k-d tree counts them
        # exactly (0.3 s at 500k vertices) and lists them when the count is within the budget.
        budget = _WELD_PAIR_BUDGET * len(unique)
        pairs = close_pairs(unique, tol, budget)
        if pairs is None:
            from scipy.spatial import cKDTree

            tree = cKDTree(unique, balanced_tree=False, compact_nodes=False)
            close = (int(tree.count_neighbors(tree, tol)) - len(unique)) // 2
            if close > budget:
                raise WeldError(close, tol, len(unique))
            pairs = tree.query_pairs(tol, output_type="ndarray")
        if len(pairs):
            from scipy.sparse import coo_matrix
            from scipy.sparse.csgraph import connected_components

            n = len(unique)
            graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
            _, label = connected_components(graph, directed=False)
            members = np.unique(pairs.reshape(-1))
            order = members[np.argsort(label[members], kind="stable")]
            groups = np.split(order, np.flatnonzero(np.diff(label[order])) + 1)
            for g in groups:  # a few groups of a few vertices each: a Python loop is fine
                p = unique[g]
                if np.linalg.norm(np.ptp(p, axis=0)) > tol:
                    d = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=2)
                    if d.max() > tol:
                        unwelded += 1
                        continue
                head = int(g.min())  # members sorted by first appearance: the first seen keeps its place
                keep[g] = head
                welded += len(g) - 1
                max_distance = max(max_distance, float(np.linalg.norm(p - unique[head], axis=1).max()))
    if welded:  # renumber the surviving vertices, still in order of first appearance
        survivors, index = np.unique(keep, return_inverse=True)
        vertices, faces = unique[survivors], index[codes].reshape(-1, 3).astype(np.int64)
    else:
        vertices, faces = unique, codes.reshape(-1, 3)
    welding = Welding(relative_tolerance=float(relative_tolerance), tolerance=tol, corners=int(len(codes)),
                      identical_vertices=int(len(unique)), welded=int(welded), max_distance=max_distance,
                      unwelded_groups=int(unwelded))
    return vertices, faces, welding


#: Largest total uncompressed size a 3MF may declare [bytes]. A 2M-face design (the largest the
#: performance notes measure) is ~0.2 GB of model XML; 1 GiB leaves 5x room and refuses a zip bomb
#: before a byte is expanded (trimesh's own budget is 32 GiB).
MAX_3MF_UNCOMPRESSED = 1 << 30
#: Largest compression ratio of one 3MF part above 1 MiB. Mesh XML (decimal coordinates) deflates
#: about 3-10x; deflate's ceiling is ~1030x, reached only by runs of one byte (a zip bomb).
MAX_3MF_RATIO = 200


def _refuse_hostile_3mf(path: Path, raw: bytes) -> None:
    """Refuse a 3MF (a zip) that would expand past the limits, or whose XML carries a DTD.

    Sizes are read from the zip's central directory, so nothing is expanded to check them; a
    zip reader stops at the declared size, so the declaration bounds what can be read. The Open
    Packaging Conventions (ECMA-376 Part 2) forbid DTDs in package XML, and a DTD is what an XML
    external entity (XXE) or an entity-expansion bomb needs, so any ``<!DOCTYPE`` or ``<!ENTITY``
    is refused outright.
    """
    import io
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = z.infolist()
            total = sum(i.file_size for i in infos)
            if total > MAX_3MF_UNCOMPRESSED:
                raise MeshError(path, f"3MF declares {total / 2**30:.3g} GiB uncompressed, more than the "
                                      f"{MAX_3MF_UNCOMPRESSED / 2**30:g} GiB a design mesh needs (a zip bomb?); "
                                      "export the mesh again, or as binary STL")
            for i in infos:
                if i.file_size > 1 << 20 and i.file_size > MAX_3MF_RATIO * max(i.compress_size, 1):
                    raise MeshError(path, f"3MF part '{i.filename}' expands {i.file_size / max(i.compress_size, 1):.0f}x "
                                          f"(more than {MAX_3MF_RATIO}x: a zip bomb?); export the mesh again")
            for i in infos:
                if i.filename.lower().endswith((".model", ".rels", ".xml")) or i.filename == "[Content_Types].xml":
                    with z.open(i) as fh:
                        text = fh.read()
                    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
                        raise MeshError(path, f"3MF part '{i.filename}' declares a DTD or XML entities, which "
                                              "3MF (OPC) forbids and which can read other files (XXE); "
                                              "export the mesh again")
    except MeshError:
        raise
    # a damaged archive surfaces as any of these from zipfile/zlib (a negative seek is a ValueError,
    # an encrypted part a RuntimeError): all mean "not a readable zip"; the seek one found by atheris
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, OSError,
            RuntimeError, zlib.error) as exc:
        raise MeshError(path, f"not a readable 3MF file: not a valid zip archive ({exc}); export the mesh again") \
            from None


def _read_with_trimesh(path: Path, suffix: str) -> np.ndarray:
    """Corners (3m, 3) float64 of any format trimesh reads, without processing."""
    import trimesh  # deferred: only needed for non-binary-STL formats

    try:
        loaded = trimesh.load(str(path), process=False, force="mesh")
    except ImportError as exc:  # e.g. 3MF without lxml
        raise InputFileError(path, f"cannot read {suffix} files: {exc}") from None
    except Exception as exc:  # trimesh raises many types for malformed files
        raise InputFileError(path, f"not a readable {suffix} mesh ({type(exc).__name__}: {exc})") from None
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    verts = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise MeshError(path, "the file holds no triangles")
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise MeshError(path, "vertices are not 3D points (x y z); export the mesh again")
    if faces.min() < 0 or faces.max() >= len(verts):
        raise MeshError(path, f"face indices out of range [0, {len(verts) - 1}]")
    return verts[faces].reshape(-1, 3)


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
