"""The planning scan: DICOM series headers and checks, bone surface and the design's fit on it."""
