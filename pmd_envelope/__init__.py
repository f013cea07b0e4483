"""pmd_envelope: design-envelope conformance and worst-case evidence for patient-matched devices.

The data flows one way: case + mesh + envelope -> measurements -> checks -> worst case ->
evidence record -> report / ledger. :func:`pmd_envelope.pipeline.validate` composes the stages.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
