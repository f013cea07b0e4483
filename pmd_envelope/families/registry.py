"""The family measurers, one line per family module (:mod:`pmd_envelope.families`)."""

from __future__ import annotations

__all__ = ["MEASURERS"]

from pmd_envelope.families.mandible import MEASURERS as _mandible

MEASURERS = (
    *_mandible,
)
