"""The one glossary of parameter names.

The same string is the envelope key, the measurement name, the report label and the CLI option
(pvlib's nomenclature). Statistics (``min``, ``p01``, ``median``) are fields of a measurement,
never parts of its name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Term", "GLOSSARY", "STATISTICS"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    name: str
    unit: str
    source: str  # "mesh" (design geometry), "case" (request / scan metadata) or "scan" (design vs CT series)
    label: str
    description: str


GLOSSARY: dict[str, Term] = {
    t.name: t
    for t in (
        # -- mandible plate (pmd_envelope/families/mandible.py) --
        Term(name="bar_width", unit="mm", source="mesh", label="Bar width",
             description="Width of a plate's bar across it, perpendicular to its centre line (longer side of the "
                         "section's minimum-area rectangle); `value` is the smallest section away from the ends."),
        Term(name="bar_height", unit="mm", source="mesh", label="Bar height",
             description="Height of a plate's bar through the plate (shorter side of the section's minimum-area "
                         "rectangle, the plate thickness); `value` is the smallest section away from the ends."),
        Term(name="bar_length", unit="mm", source="mesh", label="Bar length",
             description="Length of the bar's centre line from end to end."),
        Term(name="hole_spacing", unit="mm", source="mesh", label="Hole spacing",
             description="Centre-to-centre distance of consecutive through-holes along the bar's centre line (arc, "
                         "not chord); `value` is the smallest, `max` the largest."),
        Term(name="bend_radius", unit="mm", source="mesh", label="Bend radius",
             description="Radius of the circle fitted to the bar's centre line in its best-fit plane; `min` is the "
                         "tightest 20 mm stretch; null (straight) when the line is within 0.1 mm of a line."),
        # -- end mandible plate --
        Term(name="wall_thickness", unit="mm", source="mesh", label="Wall thickness",
             description="Local wall thickness of the design; `value` is the minimum outside the sharp-edge zone."),
        Term(name="span", unit="mm", source="mesh", label="Span",
             description="Largest extent of the oriented bounding box of the design."),
        Term(name="extent_mid", unit="mm", source="mesh", label="Middle extent",
             description="Middle extent of the oriented bounding box."),
        Term(name="extent_min", unit="mm", source="mesh", label="Smallest extent",
             description="Smallest extent of the oriented bounding box (the height of a plate)."),
        Term(name="volume", unit="mm^3", source="mesh", label="Volume",
             description="Enclosed volume (divergence theorem over the closed triangle mesh)."),
        Term(name="surface_area", unit="mm^2", source="mesh", label="Surface area",
             description="Sum of triangle areas."),
        Term(name="radius_of_curvature", unit="mm", source="mesh", label="Radius of curvature",
             description="Radius of the least-squares sphere fitted to the design's vertices."),
        Term(name="hole_count", unit="1", source="mesh", label="Through-holes",
             description="Number of through-holes (openings matched across the plate's two main surfaces)."),
        Term(name="hole_diameter", unit="mm", source="mesh", label="Hole diameter",
             description="Smallest through-hole diameter (least-squares circle through the narrower opening)."),
        Term(name="hole_edge_distance", unit="mm", source="mesh", label="Hole-to-edge distance",
             description="Smallest ligament from a hole's opening to the plate rim, perpendicular to the hole axis."),
        Term(name="overhang_area_fraction", unit="1", source="mesh", label="Overhang area fraction",
             description="Area share of down-facing surfaces flatter than the self-supporting angle, for the build direction."),
        Term(name="anatomy_gap", unit="mm", source="mesh", label="Gap to anatomy",
             description="Gap of the bone-contacting surface to the anatomy mesh; `value` is the maximum, `rms` the RMS."),
        Term(name="anatomy_contact_fraction", unit="1", source="mesh", label="Contact within gap limit",
             description="Area fraction of the bone-contacting surface whose gap is within the envelope's gap limit."),
        Term(name="scan_fit_gap", unit="mm", source="scan", label="Gap to scanned bone",
             description="Gap of the bone-contacting surface to the bone segmented from the CT series; `value` is the "
                         "maximum, `rms` the RMS, `min` the deepest interference (negative)."),
        Term(name="scan_contact_fraction", unit="1", source="scan", label="Contact on scanned bone",
             description="Area fraction of the bone-contacting surface whose gap to the scanned bone is within the "
                         "envelope's scan_fit_gap maximum."),
        # -- knee cutting guide (pmd_envelope/families/guide.py) --
        Term(name="slot_width", unit="mm", source="mesh", label="Saw slot width",
             description="Gap of the saw slot: distance between the fitted planes of its two facing faces at the slot "
                         "centre (the narrowest slot when there are several)."),
        Term(name="slot_length", unit="mm", source="mesh", label="Saw slot length",
             description="Length of the saw slot along the cut: the longer side of its two faces' overlap in the "
                         "mid-plane."),
        Term(name="slot_wall_thickness", unit="mm", source="mesh", label="Slot wall thickness",
             description="Material between a slot face and the guide's outer surface on the far side, along the face's "
                         "inward normal; `value` is the thinnest point of either wall."),
        Term(name="slot_plane_angle", unit="deg", source="mesh", label="Slot angle to planned cut",
             description="Angle between the slot's mid-plane and the case's planned resection plane "
                         "([plan.resection_plane]); null without a plan."),
        Term(name="slot_plane_offset", unit="mm", source="mesh", label="Slot offset from planned cut",
             description="Distance of the slot's centre (on its mid-plane) from the planned resection plane; null "
                         "without a plan."),
        Term(name="pin_hole_diameter", unit="mm", source="mesh", label="Pin hole diameter",
             description="Diameter of the cylindrical through-bores (least-squares circle); `value` is the smallest."),
        # -- end knee cutting guide --
        Term(name="slice_thickness", unit="mm", source="case", label="CT slice thickness",
             description="Reconstructed slice thickness of the planning scan."),
        Term(name="pixel_spacing", unit="mm", source="case", label="CT pixel spacing",
             description="In-plane pixel spacing of the planning scan."),
        Term(name="scan_age", unit="d", source="case", label="Scan age at use",
             description="Days from scan acquisition to the planned date of use in the HCP request."),
    )
}

#: Statistics a distribution-valued measurement can carry.
STATISTICS = ("value", "min", "p01", "p05", "median", "max", "mean", "rms")
