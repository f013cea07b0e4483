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
    default_plausible_size_mm : tuple of float
        Range [mm] of the largest extent of a patient-matched device, used by the unit check
        when no envelope gives one (``measure`` without ``--envelope``). 5 mm: smaller than the
        smallest patient-matched implant or guide in the domain notes (drainage holes are ~2 mm,
        the devices around them tens of mm); 500 mm: above the diagonal of a 250 x 250 x 300 mm
        LPBF build volume (461 mm, domain notes sec. 3). With ``unit_size_slack`` 2 it catches
        every metre/mm and micrometre/mm confusion (1000x), but not every inch or cm one: only an
        envelope's narrower range can.
    weld_relative_tolerance : float
        Corners closer than this fraction of the mesh's largest extent are read as one vertex
        (:mod:`pmd_envelope.mesh_io`): 1e-6, 0.25 um on a 250 mm build, far below any printable
        feature (LPBF layers 20-60 um).
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
    curvature_min_area_fraction : float
        Smallest share of the surface area [-] a smooth patch (and the part of it kept by the
        sphere fit) must have to be the bone-facing surface. A plate's bone-facing surface is
        close to half its area (~0.45 on the cap plates); 0.1 leaves out hole walls, rim bands and
        fillets (each < 5 % on the test plates) and still takes a bone-facing surface split in two
        by a slot or a ridge.
    curvature_flat_mm : float
        A candidate surface whose vertices lie within this peak-to-valley distance [mm] of
        their least-squares plane is flat: no radius is reported. 0.1 mm is the Ti LPBF
        dimensional tolerance (domain notes §3), so any curvature below it cannot be made; over
        a 30 mm patch (the smallest cranial defect span) it means R > 30^2 / (8 x 0.1) = 1125 mm,
        nine times the cranial envelope's 120 mm maximum.
    curvature_normal_angle_deg : float
        Faces of the bone-facing patch are fitted only while their outward normal points at the
        fitted sphere's centre within this angle [deg]. 15 deg keeps the facets of a coarse
        tessellation (a facet's normal leaves the radial direction at its centroid by at most
        ~edge / (sqrt(3) R), 15 deg at an edge of 0.45 R) and a bone surface that departs from
        a sphere by several degrees; it drops chamfers (~45 deg), rims and hole walls (~90 deg);
        a fillet tangent to the surface enters only where it is within rho (1 - cos 15 deg) =
        0.034 rho of the sphere (rho the fillet radius).
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
    proof_rel_tol : float
        Gap [-] between the proven bound and the worst value found under which the worst case
        is *proven*, relative to the metric's scale (the largest of |worst|, |limit| and the
        metric at nominal). 1e-6: issue 9's target, 10x the record's 7-digit resolution, and
        far below any measurement uncertainty (the smallest U/value in the envelopes is ~1e-2).
    proof_max_boxes : int
        Budget of sub-box enclosures per metric in the branch and bound; when spent, the record
        states the enclosure reached and that the gap was not closed. 2^17: ~0.5-1 s for a
        model of tens of operations; the benchmark's six-variable non-monotone expression closes
        in a few thousand.
    proof_batch : int
        Sub-boxes enclosed per vectorised step (lowest bounds first). 2048 amortises the tree
        walk (tens of numpy calls per operation) while keeping the search close to best-first.
    rare_event_cv : float
        Target coefficient of variation [-] of the importance-sampling estimate of the
        probability of missing the limit: 5 % (issue 9).
    rare_event_batch : int
        Importance samples drawn per step until the target CV is reached: 1000 (the CV of a
        design-point sampler for a near-linear limit state is ~2/sqrt(n), so 2000-3000 samples
        reach 5 %; OpenTURNS' reference run used 3000).
    rare_event_max_samples : int
        Largest number of importance samples per combination of categorical levels; the record
        states the CV reached when it stops here.
    rare_event_max_combinations : int
        Largest number of categorical combinations for which FORM and importance sampling run
        (one design point each); beyond it the record says the estimate was not made.
    form_tol : float
        Convergence of the design-point search in standard normal space: the step and the
        limit-state value (relative to its value at the origin) below 1e-6.
    form_max_iter : int
        Iterations of the design-point search (improved HL-RF); 100 (a smooth limit state
        converges in 5-20).
    """

    ray_offset_mm: float = 1e-4
    opposing_angle_deg: float = 60.0
    thickness_percentiles: tuple[float, ...] = (1.0, 5.0, 50.0)
    unit_size_slack: float = 2.0
    default_plausible_size_mm: tuple[float, float] = (5.0, 500.0)
    weld_relative_tolerance: float = 1e-6
    ray_engine: str = "embree"
    exact_recheck_faces: int = 256
    engine_tolerance_mm: float = 1e-3
    sphere_faces: int = 2000
    sphere_cap_mm: float = 20.0
    sphere_tolerance_mm: float = 1e-4
    sphere_max_iter: int = 50
    feature_angle_deg: float = 60.0
    curvature_min_area_fraction: float = 0.1
    curvature_flat_mm: float = 0.1
    curvature_normal_angle_deg: float = 15.0
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
    proof_rel_tol: float = 1e-6
    proof_max_boxes: int = 2**17
    proof_batch: int = 2048
    rare_event_cv: float = 0.05
    rare_event_batch: int = 1000
    rare_event_max_samples: int = 100_000
    rare_event_max_combinations: int = 64
    form_tol: float = 1e-6
    form_max_iter: int = 100

    def __post_init__(self) -> None:
        if not self.ray_offset_mm > 0:
            raise ValueError("ray_offset_mm must be positive")
        if not 0 < self.opposing_angle_deg < 90:
            raise ValueError("opposing_angle_deg must be in (0, 90)")
        if not 0 < self.curvature_min_area_fraction < 1:
            raise ValueError("curvature_min_area_fraction must be in (0, 1)")
        if not self.curvature_flat_mm > 0:
            raise ValueError("curvature_flat_mm must be positive")
        if not 0 < self.curvature_normal_angle_deg < 90:
            raise ValueError("curvature_normal_angle_deg must be in (0, 90)")
        if self.ray_engine not in ("embree", "exact"):
            raise ValueError("ray_engine must be 'embree' or 'exact'")
        if not self.unit_size_slack >= 1:
            raise ValueError("unit_size_slack must be >= 1")
        for name in ("corner_chunk", "max_corners", "monotonicity_lines", "refine_starts", "dense_samples",
                     "monte_carlo_samples", "proof_max_boxes", "proof_batch", "rare_event_batch",
                     "rare_event_max_samples", "rare_event_max_combinations", "form_max_iter"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be >= 1")
        if not self.monotonicity_points >= 3:
            raise ValueError("monotonicity_points must be >= 3")
        for name in ("proof_rel_tol", "rare_event_cv", "form_tol"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1)")
        if not 0 < self.monte_carlo_confidence < 1:
            raise ValueError("monte_carlo_confidence must be in (0, 1)")
        bd = tuple(float(x) for x in self.build_direction)
        if len(bd) != 3 or not sum(x * x for x in bd) > 0:
            raise ValueError("build_direction must be a non-zero 3-vector")
        object.__setattr__(self, "build_direction", bd)
        object.__setattr__(self, "thickness_percentiles", tuple(float(p) for p in self.thickness_percentiles))
        lo, hi = (float(x) for x in self.default_plausible_size_mm)
        if not 0 < lo < hi:
            raise ValueError("default_plausible_size_mm must be (min, max) with 0 < min < max")
        object.__setattr__(self, "default_plausible_size_mm", (lo, hi))
        if not 0 <= self.weld_relative_tolerance < 1e-3:
            raise ValueError("weld_relative_tolerance must be in [0, 1e-3)")

    def as_dict(self) -> dict:
        """Plain-JSON form for the evidence record."""
        d = asdict(self)
        d["thickness_percentiles"] = list(self.thickness_percentiles)
        d["build_direction"] = list(self.build_direction)
        d["default_plausible_size_mm"] = list(self.default_plausible_size_mm)
        return d


DEFAULT_SETTINGS = Settings()
