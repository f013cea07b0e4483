"""Built-in performance models, closed form, vectorised over numpy arrays.

Each model is a plain function of named inputs in internal units (mm, N, MPa) that returns the
metric. The envelope binds each input to an expression over measured parameters, manufacturing
variables and constants. An envelope may instead declare a metric as one arithmetic expression
(``model = "expression"``, evaluated by :mod:`pmd_envelope.expressions`); it is not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pmd_envelope.expressions import Expression

__all__ = ["Model", "MODELS", "clamped_circular_plate_central_load",
           "plate_section_bending_strength", "cantilever_tab_deflection"]


def clamped_circular_plate_central_load(thickness, plate_radius, load_radius, yield_strength, poisson_ratio):
    r"""Central load [N] at first yield of a clamped circular plate loaded over a small circle.

    Parameters
    ----------
    thickness : array_like
        Plate thickness t [mm].
    plate_radius : array_like
        Radius of the clamped (unsupported) plate a [mm].
    load_radius : array_like
        Radius of the loaded circle r0 [mm].
    yield_strength : array_like
        Yield strength of the material sigma_y [MPa].
    poisson_ratio : array_like
        Poisson's ratio nu [-].

    Returns
    -------
    numpy.ndarray
        Load W [N] at which the maximum bending stress reaches sigma_y.

    Notes
    -----
    The maximum stress of a flat circular plate with fixed edge under a total load W uniformly
    distributed over a central circle of radius r0 is at the centre (for a/r0' > e^(1/(1+nu)),
    which holds for every cranial plate):

    .. math:: \sigma_{max} = \frac{3W}{2\pi t^2} (1+\nu) \ln\frac{a}{r_0'}

    with the equivalent radius of a small loaded circle
    :math:`r_0' = \sqrt{1.6 r_0^2 + t^2} - 0.675 t` when :math:`r_0 < 0.5 t`, else
    :math:`r_0' = r_0`. Setting :math:`\sigma_{max} = \sigma_y` gives
    :math:`W_y = 2\pi t^2 \sigma_y / (3 (1+\nu) \ln(a/r_0'))`. The edge stress
    :math:`3W/(2\pi t^2)` is smaller whenever :math:`(1+\nu)\ln(a/r_0') > 1`; the model takes
    the larger of the two stresses so it stays conservative outside that range.

    References
    ----------
    .. [1] W. C. Young, R. G. Budynas, *Roark's Formulas for Stress and Strain*, 7th ed.,
       Table 11.2, case 16 (fixed edge, uniform load over a small central circle), and
       Sec. 11.2 for the equivalent radius r0'.
    .. [2] S. Timoshenko, S. Woinowsky-Krieger, *Theory of Plates and Shells*, 2nd ed., §19.

    Examples
    --------
    >>> round(float(clamped_circular_plate_central_load(1.0, 50.0, 5.0, 780.0, 0.34)), 1)
    529.5
    """
    t = np.asarray(thickness, dtype=float)
    a = np.asarray(plate_radius, dtype=float)
    r0 = np.asarray(load_radius, dtype=float)
    nu = np.asarray(poisson_ratio, dtype=float)
    r_eq = np.where(r0 < 0.5 * t, np.sqrt(1.6 * r0**2 + t**2) - 0.675 * t, r0)
    centre = (1.0 + nu) * np.log(a / r_eq)
    factor = np.maximum(centre, 1.0)  # edge stress factor is 1
    return 2.0 * np.pi * t**2 * np.asarray(yield_strength, dtype=float) / (3.0 * factor)


def plate_section_bending_strength(width, hole_diameter, thickness, yield_strength):
    r"""Bending moment [N mm] at first yield of a plate section through a screw hole.

    Parameters
    ----------
    width : array_like
        Plate width h at the hole [mm].
    hole_diameter : array_like
        Screw-hole diameter d [mm].
    thickness : array_like
        Plate thickness t [mm].
    yield_strength : array_like
        Yield strength sigma_y [MPa].

    Returns
    -------
    numpy.ndarray
        Bending moment M_y [N mm] at which the outer fibre of the net section yields.

    Notes
    -----
    Elastic section modulus of the net section :math:`Z = (h - d) t^2 / 6`, so
    :math:`M_y = \sigma_y (h - d) t^2 / 6` (plate bent about its thin axis, as in the
    four-point bending set-up of ASTM F382).

    References
    ----------
    .. [1] ASTM F382-17, *Standard Specification and Test Method for Metallic Bone Plates*.

    Examples
    --------
    >>> float(plate_section_bending_strength(8.0, 2.0, 2.0, 900.0))
    3600.0
    """
    h = np.asarray(width, dtype=float)
    d = np.asarray(hole_diameter, dtype=float)
    t = np.asarray(thickness, dtype=float)
    return np.asarray(yield_strength, dtype=float) * (h - d) * t**2 / 6.0


def cantilever_tab_deflection(force, length, width, thickness, elastic_modulus):
    r"""Tip deflection [mm] of a rectangular cantilever tab (e.g. a cutting-guide slot wall).

    Parameters
    ----------
    force : array_like
        Load F at the free end [N].
    length : array_like
        Free length L [mm].
    width : array_like
        Tab width b [mm].
    thickness : array_like
        Tab thickness t in the bending direction [mm].
    elastic_modulus : array_like
        Young's modulus E [MPa].

    Returns
    -------
    numpy.ndarray
        Tip deflection delta [mm].

    Notes
    -----
    :math:`\delta = F L^3 / (3 E I)`, :math:`I = b t^3 / 12` (Euler-Bernoulli beam).

    References
    ----------
    .. [1] W. C. Young, R. G. Budynas, *Roark's Formulas for Stress and Strain*, 7th ed.,
       Table 8.1, case 1a.

    Examples
    --------
    >>> round(float(cantilever_tab_deflection(10.0, 20.0, 10.0, 3.0, 1700.0)), 4)
    0.6972
    """
    i = np.asarray(width, dtype=float) * np.asarray(thickness, dtype=float) ** 3 / 12.0
    return np.asarray(force, dtype=float) * np.asarray(length, dtype=float) ** 3 / (
        3.0 * np.asarray(elastic_modulus, dtype=float) * i)


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    name: str
    function: Callable
    inputs: tuple[str, ...]
    unit: str
    reference: str
    #: The same model in the expression language, term for term in the function's order of
    #: operations: its interval extension (``Expression.enclose``) is what proves the worst case
    #: (:mod:`pmd_envelope.worstcase.proof`); tests/test_models.py checks it equals ``function``.
    expression: Expression

    def __post_init__(self) -> None:
        if set(self.expression.symbols) != set(self.inputs):
            raise ValueError(f"model {self.name}: expression symbols {sorted(self.expression.symbols)} "
                             f"differ from its inputs {sorted(self.inputs)}")


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model(name="clamped_circular_plate_central_load", function=clamped_circular_plate_central_load,
              inputs=("thickness", "plate_radius", "load_radius", "yield_strength", "poisson_ratio"),
              unit="N", reference="Roark's Formulas for Stress and Strain, 7th ed., Table 11.2 case 16",
              expression=Expression.parse(
                  "2.0 * pi * thickness**2 * yield_strength / (3.0 * max((1.0 + poisson_ratio) * log(plate_radius / "
                  "where(load_radius < 0.5 * thickness, sqrt(1.6 * load_radius**2 + thickness**2) - 0.675 * thickness, "
                  "load_radius)), 1.0))")),
        Model(name="plate_section_bending_strength", function=plate_section_bending_strength,
              inputs=("width", "hole_diameter", "thickness", "yield_strength"),
              unit="N*mm", reference="ASTM F382-17 four-point bending; Z = (h - d) t^2 / 6",
              expression=Expression.parse("yield_strength * (width - hole_diameter) * thickness**2 / 6.0")),
        Model(name="cantilever_tab_deflection", function=cantilever_tab_deflection,
              inputs=("force", "length", "width", "thickness", "elastic_modulus"),
              unit="mm", reference="Roark's Formulas, Table 8.1 case 1a; delta = F L^3 / (3 E I)",
              expression=Expression.parse(
                  "force * length**3 / (3.0 * elastic_modulus * (width * thickness**3 / 12.0))")),
    )
}
