"""The family measurers, one line per family module (:mod:`pmd_envelope.families`)."""

from __future__ import annotations

__all__ = ["MEASURERS"]

MEASURERS = ()
