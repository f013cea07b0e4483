"""Mesh integrity gate: every defect counted and reported, nothing repaired.

A wall thickness or a volume measured on an open, inside-out or self-overlapping mesh is not a
number anyone can trust, so a design that fails this gate is nonconforming with the defects as
reasons. One sort of int64 edge keys in numpy gives boundary, non-manifold and winding checks
together (0.33 s at 2M faces against ~1.6 s for trimesh's separate properties; shared
performance notes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pmd_envelope.mesh_io import MeshData

__all__ = ["IntegrityReport", "check_integrity", "triangle_areas", "face_normals", "count_bodies"]

# A face is degenerate when its area is below (1e-9 of the squared largest mesh extent): far below
# any printable feature (LPBF pins 0.5 mm -> 0.25 mm^2) yet above float64 round-off of a cross
# product at 250 mm (~1e-26 relative).
_DEGENERATE_REL_AREA = 1e-12


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrityReport:
    """Counts of every defect the gate looks for.

    ``problems`` lists, in words, each defect that makes the mesh untrustworthy; the mesh passes
    when it is empty. ``self_intersections`` is ``None`` when not evaluated.
    """

    vertices: int
    faces: int
    degenerate_faces: int
    duplicate_faces: int
    boundary_edges: int
    nonmanifold_edges: int
    winding_consistent: bool
    signed_volume: float
    bodies: int
    expected_bodies: int | None
    self_intersections: int | None
    self_intersection_method: str
    unit_check: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__} | {"passed": self.passed, "problems": list(self.problems)}


def triangle_areas(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Area of each triangle [mm^2]."""
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return 0.5 * np.linalg.norm(cross, axis=1)


def face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Unit normal of each triangle by the right-hand rule (zero for degenerate faces)."""
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    norm = np.linalg.norm(cross, axis=1)
    out = np.zeros_like(cross)
    ok = norm > 0
    out[ok] = cross[ok] / norm[ok, None]
    return out


def signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    """Enclosed volume [mm^3] by the divergence theorem; negative when the mesh is inside out.

    Vertices are shifted to their centroid first so the sum does not lose digits far from the
    origin.
    """
    c = v - v.mean(axis=0)
    return float(np.einsum("ij,ij->i", c[f[:, 0]], np.cross(c[f[:, 1]], c[f[:, 2]])).sum() / 6.0)


def count_bodies(v: np.ndarray, f: np.ndarray) -> int:
    """Number of edge-connected components (surface shells) among the vertices faces use."""
    n = len(v)
    a, b = f.reshape(-1), f[:, [1, 2, 0]].reshape(-1)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return int(len(np.unique(labels[np.unique(f)])))


def check_integrity(mesh: MeshData, *, expected_bodies: int | None = None,
                    plausible_size: tuple[float, float] | None = None, largest_extent: float | None = None,
                    unit_size_slack: float = 2.0) -> IntegrityReport:
    """Run the integrity gate on a mesh.

    Parameters
    ----------
    mesh : MeshData
    expected_bodies : int, optional
        Number of connected solids the envelope expects.
    plausible_size : (float, float), optional
        The envelope's range of the largest extent [mm].
    largest_extent : float, optional
        The design's largest extent [mm] (from :mod:`pmd_envelope.measure.extents`).
    unit_size_slack : float
        How far outside ``plausible_size`` the extent may fall before the declared unit is
        judged implausible.

    Returns
    -------
    IntegrityReport
    """
    v, f = mesh.vertices, mesh.faces
    n = len(v)
    problems: list[str] = []

    areas = triangle_areas(v, f)
    scale = float(np.ptp(v, axis=0).max()) if n else 0.0
    degenerate = int(((areas <= _DEGENERATE_REL_AREA * scale**2) | (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2])
                      | (f[:, 0] == f[:, 2])).sum())
    if degenerate:
        problems.append(f"{degenerate} degenerate (zero-area) faces")

    sorted_faces = np.sort(f, axis=1)
    fkeys = (sorted_faces[:, 0] * n + sorted_faces[:, 1]) * n + sorted_faces[:, 2]
    duplicate = int(len(fkeys) - len(np.unique(fkeys)))
    if duplicate:
        problems.append(f"{duplicate} duplicate faces")

    # directed edges a->b of every face; an undirected edge is shared by exactly two faces in a
    # closed 2-manifold, and consistent winding means the two traverse it in opposite directions.
    a = f.reshape(-1)
    b = f[:, [1, 2, 0]].reshape(-1)
    undirected = np.minimum(a, b) * n + np.maximum(a, b)
    _, counts = np.unique(undirected, return_counts=True)
    boundary = int((counts == 1).sum())
    nonmanifold = int((counts > 2).sum())
    directed = a * n + b
    directed_dupes = int(len(directed) - len(np.unique(directed)))
    winding_ok = directed_dupes == 0
    if boundary:
        problems.append(f"{boundary} boundary (open) edges: the mesh is not watertight")
    if nonmanifold:
        problems.append(f"{nonmanifold} non-manifold edges (shared by more than two faces)")
    if not winding_ok:
        problems.append(f"winding is not consistent ({directed_dupes} edges traversed twice in the same direction)")

    vol = signed_volume(v, f)
    if boundary == 0 and winding_ok and vol <= 0:
        problems.append(f"faces point inward (signed volume {vol:.6g} mm^3 <= 0)")

    bodies = count_bodies(v, f)
    if expected_bodies is not None and bodies != expected_bodies:
        problems.append(f"{bodies} separate bodies where the envelope expects {expected_bodies}")

    unit_check = "not evaluated"
    if plausible_size is not None and largest_extent is not None:
        lo, hi = plausible_size
        if lo / unit_size_slack <= largest_extent <= hi * unit_size_slack:
            unit_check = f"plausible: largest extent {largest_extent:.4g} mm within [{lo:g}, {hi:g}] mm x/÷ {unit_size_slack:g}"
        else:
            unit_check = _unit_hint(largest_extent, lo, hi, mesh.units)
            problems.append(unit_check)

    return IntegrityReport(
        vertices=n, faces=len(f), degenerate_faces=degenerate, duplicate_faces=duplicate, boundary_edges=boundary,
        nonmanifold_edges=nonmanifold, winding_consistent=winding_ok, signed_volume=vol, bodies=bodies,
        expected_bodies=expected_bodies, self_intersections=None, self_intersection_method="not evaluated",
        unit_check=unit_check, problems=tuple(problems))


def _unit_hint(extent: float, lo: float, hi: float, declared: str) -> str:
    """Say which unit would make the size plausible, without applying it."""
    from pmd_envelope.units import LENGTH_UNITS_TO_MM

    declared_factor = LENGTH_UNITS_TO_MM[declared]
    fits = [u for u, k in LENGTH_UNITS_TO_MM.items()
            if u != declared and lo <= extent / declared_factor * k <= hi]
    hint = f"; the numbers would fit if the file were in {' or '.join(fits)}" if fits else ""
    return (f"implausible units: largest extent {extent:.4g} mm (declared '{declared}') is outside the envelope's "
            f"plausible size [{lo:g}, {hi:g}] mm{hint}")
