"""The family measurers, one line per family module (:mod:`pmd_envelope.families`)."""

from __future__ import annotations

from pmd_envelope.families.guide import MEASURERS as _guide
from pmd_envelope.families.mandible import MEASURERS as _mandible

__all__ = ["MEASURERS"]

MEASURERS = (
    *_mandible,
    *_guide,
)
