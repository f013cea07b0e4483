"""Numeric settings of every measurement and search, in one frozen record.

Each value says where it comes from. The record is passed explicitly (never a mutable global,
unlike trimesh's ``tol``) and copied into every evidence record, so a reviewer sees exactly how
the numbers were made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Settings", "DEFAULT_SETTINGS"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Measurement and search settings.

    Attributes
    ----------
    ray_offset_mm : float
        Step [mm] past a hit on a face incident to the ray's start point before the float32
        engine re-casts (rays start exactly on the surface; the distance is always counted from
        the true start point, so this step only bounds the smallest wall that can be seen).
        1e-4 mm is 1/1000 of the thinnest wall Ti LPBF can build (0.4 mm, domain notes §3) and
        ~7 float32 ulps at 250 mm (the build-volume size); the engine raises it to 8 ulps of the
        largest coordinate if that is larger.
    opposing_angle_deg : float
        A ray hit counts as a wall thickness only if the hit face looks back at the start face
        within this angle [deg]. At a sharp convex edge a ray near the edge leaves through the
        adjacent face (angle ~90 deg): such faces form the *sharp-edge zone* and must not fake a
        thin wall (domain notes §4). 60 deg is half-way between opposed (0 deg) and orthogonal.
    thickness_percentiles : tuple of float
        Area-weighted percentiles reported for distribution-valued measurements [%].
    unit_size_slack : float
        Factor s by which the largest extent may fall outside the envelope's plausible size range
        [lo, hi] before the declared unit is judged implausible. An inch file read as mm shrinks
        by 25.4x; it is caught for every design in range when hi / 25.4 < lo / s, i.e.
        s < 25.4 lo / hi (2.03 for the cranial envelope's 20-250 mm). 2 catches it there and
        every metre/mm confusion (1000x).
    ray_engine : str
        ``"embree"`` (float32, fast; the default) or ``"exact"`` (float64 Moller-Trumbore,
        ~10-50x slower). Recorded with every thickness measurement.
    exact_recheck_faces : int
        With the embree engine, this many faces of lowest thickness are re-measured by the exact
        float64 engine and their values replace the float32 ones, so the reported minimum and
        its witness are float64; the largest difference seen is reported
        (``engine_difference``). 256 covers every thin spot of the test shapes at negligible
        cost (< 0.1 s).
    engine_tolerance_mm : float
        Stated agreement [mm] of the float32 and float64 engines on the same mesh. float32
        resolution at 250 mm is 1.5e-5 mm; the worst difference measured on the test shapes is
        below 1e-4 mm (tests/test_thickness.py asserts this bound on every shape).
    sphere_faces : int
        Faces of lowest ray thickness re-measured by the inscribed-sphere method. 2000 covers
        the thin spot of every test shape at ~1-3 s (0.5-2 k points/s; shared performance notes).
    sphere_cap_mm : float
        Largest ball diameter [mm] searched: above the thickest wall of any envelope here (PEEK
        cranial implants 3-6 mm; domain notes §3).
    sphere_tolerance_mm : float
        Convergence of the shrinking ball [mm]: 1e-4 mm, 1/10 of the ray engines' stated agreement.
    sphere_max_iter : int
        Shrinking steps before a point is flagged as not converged. The radius shrinks
        geometrically near a wall; 50 steps are never reached on the test shapes (< 15).
    feature_angle_deg : float
        Edges bending more than this [deg] split the surface into smooth patches (hole finding).
        60 deg keeps an 8-gon hole wall (45 deg between facets) in one patch and splits a
        plate face from a square-edged hole wall (90 deg).
    overhang_angle_deg : float
        Self-supporting angle from horizontal [deg]: flatter down-facing surfaces are
        overhangs. 45 deg for Ti LPBF (domain notes §3, typical design guides).
    build_direction : tuple of float
        Build direction in mesh coordinates (unit vector after normalisation). Default +z, the
        slicer convention for an STL placed on the plate.
    contact_angle_deg : float
        A design face is bone-contacting when its outward normal is within this angle [deg] of
        the direction to its closest anatomy point. 60 deg takes in a curved plate's whole
        bone-facing surface and leaves out its rim band (~90 deg) and outer surface (~180 deg).
    anatomy_gap_limit_mm : float
        Gap limit [mm] for the contact fraction when the envelope gives no ``anatomy_gap``
        maximum: bone-contact gap <= 0.5 mm (knee cutting guides; domain notes §3).
    rng_seed : int
        Seed of every random draw (Monte Carlo, sampling checks); recorded in the evidence.
    """

    ray_offset_mm: float = 1e-4
    opposing_angle_deg: float = 60.0
    thickness_percentiles: tuple[float, ...] = (1.0, 5.0, 50.0)
    unit_size_slack: float = 2.0
    ray_engine: str = "embree"
    exact_recheck_faces: int = 256
    engine_tolerance_mm: float = 1e-3
    sphere_faces: int = 2000
    sphere_cap_mm: float = 20.0
    sphere_tolerance_mm: float = 1e-4
    sphere_max_iter: int = 50
    feature_angle_deg: float = 60.0
    overhang_angle_deg: float = 45.0
    build_direction: tuple[float, float, float] = (0.0, 0.0, 1.0)
    contact_angle_deg: float = 60.0
    anatomy_gap_limit_mm: float = 0.5
    rng_seed: int = 20261124

    def __post_init__(self) -> None:
        if not self.ray_offset_mm > 0:
            raise ValueError("ray_offset_mm must be positive")
        if not 0 < self.opposing_angle_deg < 90:
            raise ValueError("opposing_angle_deg must be in (0, 90)")
        if self.ray_engine not in ("embree", "exact"):
            raise ValueError("ray_engine must be 'embree' or 'exact'")
        if not self.unit_size_slack >= 1:
            raise ValueError("unit_size_slack must be >= 1")
        bd = tuple(float(x) for x in self.build_direction)
        if len(bd) != 3 or not sum(x * x for x in bd) > 0:
            raise ValueError("build_direction must be a non-zero 3-vector")
        object.__setattr__(self, "build_direction", bd)
        object.__setattr__(self, "thickness_percentiles", tuple(float(p) for p in self.thickness_percentiles))

    def as_dict(self) -> dict:
        """Plain-JSON form for the evidence record."""
        d = asdict(self)
        d["thickness_percentiles"] = list(self.thickness_percentiles)
        d["build_direction"] = list(self.build_direction)
        return d


DEFAULT_SETTINGS = Settings()
