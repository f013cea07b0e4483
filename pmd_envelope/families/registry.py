"""The family measurers, one line per family module (:mod:`pmd_envelope.families`)."""

from __future__ import annotations

from pmd_envelope.families.guide import MEASURERS as _guide

__all__ = ["MEASURERS"]

MEASURERS = (
    *_guide,
)
