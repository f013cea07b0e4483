"""Measurement families. Each module measures one thing from a :class:`MeshData` or a case.

:func:`pmd_envelope.measure.core.measure_mesh` composes the geometric measurements;
:func:`pmd_envelope.measure.scan.measure_case` reads the request and scan.
"""
