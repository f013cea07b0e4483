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
        Where the float32 engine's first cast starts along each ray [mm], and its step past a
        hit on a face incident to the ray's start point before it re-casts (rays start on the
        surface; the distance is always counted from the true start point, so this step only
        bounds the smallest wall that can be seen; the float64 re-check uses no step).
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
    corner_chunk : int
        Configurations evaluated per block in the exhaustive search. 2^16 keeps the peak memory
        near 16 MB at k = 20 with one array per variable (shared performance notes: 2^20
        corners as one block take 235 MB).
    max_corners : int
        Largest number of corner configurations searched exhaustively: 2^20 = 1,048,576 (issue 4
        target, k = 20 two-level variables). Above it the search takes each continuous
        variable's monotone direction from a one-at-a-time check (exact for monotone models).
    monotonicity_lines : int
        Random lines per continuous variable in the monotonicity check. 32 lines at 9 points
        each: a sign change confined to less than ~1/32 of the box can escape the check; the
        dense sample (``dense_samples``) and, for non-monotone models, the refinement back it up.
    monotonicity_points : int
        Points per line [-] (8 intervals: a quadratic's turning point anywhere in the interior
        shows as a sign change of the differences).
    refine_starts : int
        Best corners from which the bounded local search (L-BFGS-B) starts when the model is not
        monotone; the box centre is added. Multi-start as in the shared performance notes
        (L-BFGS-B from the best corner finds interior minima that corners miss).
    dense_samples : int
        Uniform random points over the box against which a refined (or many-variable) worst case
        is checked: with 4096 points, a region worse than the result covering 0.1 % of the box is
        missed with probability 0.999^4096 = 1.7 %.
    search_rel_tol : float
        Relative tolerance [-] under which two metric values count as equal (float64 rounding of
        closed-form models is ~1e-15 relative; 1e-9 leaves room for the optimiser's stopping).
    monte_carlo_samples : int
        Samples per metric. 10^5: with no failing sample the one-sided 95 % Clopper-Pearson bound
        is 3.0e-5 (the "rule of three", 3/n), and it costs ~25 ms per metric.
    monte_carlo_confidence : float
        Confidence level of the Monte Carlo interval [-].
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
    corner_chunk: int = 2**16
    max_corners: int = 2**20
    monotonicity_lines: int = 32
    monotonicity_points: int = 9
    refine_starts: int = 8
    dense_samples: int = 4096
    search_rel_tol: float = 1e-9
    monte_carlo_samples: int = 100_000
    monte_carlo_confidence: float = 0.95

    def __post_init__(self) -> None:
        if not self.ray_offset_mm > 0:
            raise ValueError("ray_offset_mm must be positive")
        if not 0 < self.opposing_angle_deg < 90:
            raise ValueError("opposing_angle_deg must be in (0, 90)")
        if self.ray_engine not in ("embree", "exact"):
            raise ValueError("ray_engine must be 'embree' or 'exact'")
        if not self.unit_size_slack >= 1:
            raise ValueError("unit_size_slack must be >= 1")
        for name in ("corner_chunk", "max_corners", "monotonicity_lines", "refine_starts", "dense_samples",
                     "monte_carlo_samples"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be >= 1")
        if not self.monotonicity_points >= 3:
            raise ValueError("monotonicity_points must be >= 3")
        if not 0 < self.monte_carlo_confidence < 1:
            raise ValueError("monte_carlo_confidence must be in (0, 1)")
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
