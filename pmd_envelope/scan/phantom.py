"""Synthetic CT head phantoms written as DICOM series, for the samples, the tests and the benchmark.

The head is a spherical skull shell (inner table ``r_inner``, outer table ``r_outer``) with a
circular defect (all points within ``defect_half_angle`` of ``defect_axis`` seen from the
centre), brain inside, scalp to ``r_scalp``, air outside. Each voxel holds the partial-volume
mean of 3 x 3 x 3 sub-samples, counted in integers so the stored values are the same on every
machine (no libm call or float sum decides a voxel). No noise: the series stays small under
RLE, and the bone edge is known to the sub-sample.

Headers are realistic (CT Image Storage, LPS patient coordinates, 12-bit stored values with a
rescale to HU) and carry deliberately fake identity (:data:`FAKE_IDENTITY`), so a test can grep
every output for it and prove no identity leaks. UIDs are derived from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["HeadPhantom", "StackGeometry", "FAKE_IDENTITY", "HU", "phantom_volume", "write_series",
           "voxel_centres"]

#: Canary identity written into every phantom slice: none of it may appear in any output.
FAKE_IDENTITY = {
    "PatientName": "Phantom^Canary^Synthetic",
    "PatientID": "CANARY-PID-77311",
    "PatientBirthDate": "19610704",
    "InstitutionName": "Canary Synthetic Imaging Institute",
    "ReferringPhysicianName": "Canary^Referrer",
    "AccessionNumber": "CANARYACC9",
    "StationName": "CANARYCT01",
}
#: CT numbers of the phantom's tissues [HU] (typical: cortical bone 1000-1900, brain 30-40,
#: scalp ~40, air -1000).
HU = {"bone": 1400, "brain": 35, "scalp": 40, "air": -1000}
_SUB = 3  # sub-samples per voxel edge for the partial volume


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadPhantom:
    """Analytic head: centre [mm], radii [mm], defect axis (unit vector) and half-angle [rad]."""

    centre: tuple[float, float, float]
    r_inner: float
    r_outer: float
    r_scalp: float
    defect_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    defect_cos: float = 2.0  # cos of the defect half-angle; 2.0 = no defect

    def as_dict(self) -> dict:
        return {"centre": list(self.centre), "r_inner": self.r_inner, "r_outer": self.r_outer,
                "r_scalp": self.r_scalp, "defect_axis": list(self.defect_axis), "defect_cos": self.defect_cos}


@dataclass(frozen=True, slots=True, kw_only=True)
class StackGeometry:
    """Where the slices are: first pixel's centre of slice 0, directions, spacings, tilt.

    Slice k sits at ``origin + z_steps[k] * table`` where ``table`` is +z (the table moves along
    z); with a gantry tilt the image plane is rotated about the row direction (x), so the slice
    normal leaves z by the tilt.
    """

    origin: tuple[float, float, float]
    rows: int
    columns: int
    pixel_spacing: float
    z_steps: tuple[float, ...]  # table positions of the slices [mm], relative to origin
    tilt_deg: float = 0.0

    @property
    def row_direction(self) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0])

    @property
    def column_direction(self) -> np.ndarray:
        t = np.radians(self.tilt_deg)
        return np.array([0.0, np.cos(t), np.sin(t)])

    def position(self, k: int) -> np.ndarray:
        return np.array(self.origin, dtype=np.float64) + np.array([0.0, 0.0, self.z_steps[k]])


def voxel_centres(geo: StackGeometry, k: int, offsets=(0.0,)) -> np.ndarray:
    """Patient coordinates [mm] of slice k's pixels (rows, columns, 3), at sub-pixel ``offsets``."""
    r = np.arange(geo.rows, dtype=np.float64)
    c = np.arange(geo.columns, dtype=np.float64)
    out = []
    for dr in offsets:
        for dc in offsets:
            rr, cc = np.meshgrid(r + dr, c + dc, indexing="ij")
            out.append(geo.position(k) + (cc[..., None] * geo.row_direction + rr[..., None] * geo.column_direction)
                       * geo.pixel_spacing)
    return np.stack(out)


def _tissue_sum(head: HeadPhantom, p: np.ndarray) -> np.ndarray:
    """Integer HU of each point (..., 3)."""
    # elementwise products and sums only (no BLAS, no reduction order): the same bits everywhere
    d = p - np.array(head.centre)
    r = np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2])
    out = np.full(r.shape, HU["air"], dtype=np.int64)
    out[r <= head.r_scalp] = HU["scalp"]
    bone = (r >= head.r_inner) & (r <= head.r_outer)
    if head.defect_cos <= 1.0:
        a = head.defect_axis
        bone &= d[..., 0] * a[0] + d[..., 1] * a[1] + d[..., 2] * a[2] < head.defect_cos * r
    out[bone] = HU["bone"]
    out[r < head.r_inner] = HU["brain"]
    return out


def phantom_volume(head: HeadPhantom, geo: StackGeometry) -> np.ndarray:
    """CT numbers [HU] (int16, slices x rows x columns) with partial volume from 27 sub-samples."""
    offs = (np.arange(_SUB) - (_SUB - 1) / 2) / _SUB
    vol = np.empty((len(geo.z_steps), geo.rows, geo.columns), dtype=np.int16)
    n = _SUB**3
    z = np.asarray(geo.z_steps, dtype=np.float64)
    slab = float(np.diff(z).min()) if len(z) > 1 else 1.0  # nominal spacing: the slice's z extent
    # only voxels near a tissue boundary are sub-sampled: a voxel whose centre is farther than
    # its half-diagonal from every boundary is pure (the defect cone's function has gradient <= 2)
    half = 0.5 * float(np.sqrt(2 * geo.pixel_spacing**2 + slab**2))
    radii = np.array([head.r_inner, head.r_outer, head.r_scalp])
    for k in range(len(geo.z_steps)):
        centre = voxel_centres(geo, k)[0]
        vol[k] = _tissue_sum(head, centre)
        d = centre - np.array(head.centre)
        r = np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2])
        near = np.min(np.abs(r[..., None] - radii), axis=-1) <= half
        if head.defect_cos <= 1.0:
            a = head.defect_axis
            near |= np.abs(d[..., 0] * a[0] + d[..., 1] * a[1] + d[..., 2] * a[2] - head.defect_cos * r) <= 2 * half
        rr, cc = np.nonzero(near)
        if len(rr) == 0:
            continue
        acc = np.zeros(len(rr), dtype=np.int64)
        for dz in offs * slab:
            for dr in offs:
                for dc in offs:
                    p = (geo.position(k) + np.array([0.0, 0.0, dz])
                         + ((cc + dc)[:, None] * geo.row_direction + (rr + dr)[:, None] * geo.column_direction)
                         * geo.pixel_spacing)
                    acc += _tissue_sum(head, p)
        vol[k, rr, cc] = np.floor_divide(acc + n // 2, n)
    return vol


def write_series(folder: str | Path, hu: np.ndarray, geo: StackGeometry, *, seed: int, slice_thickness: float,
                 compress: bool = True, series_number: int = 1, acquired: str = "20260914",
                 identity: dict | None = None, series_key: str = "") -> list[Path]:
    """Write a volume of HU as one DICOM CT series (one file per slice) and return the paths.

    Stored values are HU + 1024 in 12 bits (RescaleIntercept -1024), RLE Lossless when
    ``compress`` (pydicom encodes it natively) else Explicit VR Little Endian. UIDs come from
    ``seed`` and ``series_key`` (deterministic).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, RLELossless, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ident = dict(FAKE_IDENTITY if identity is None else identity)
    prefix = "1.2.826.0.1.3680043.8.498."  # pydicom's UID root, for generated UIDs
    study_uid = generate_uid(prefix, entropy_srcs=[f"study:{seed}:{series_key}"])
    series_uid = generate_uid(prefix, entropy_srcs=[f"series:{seed}:{series_key}:{series_number}"])
    frame_uid = generate_uid(prefix, entropy_srcs=[f"frame:{seed}:{series_key}"])
    stored = (hu.astype(np.int32) + 1024).clip(0, 4095).astype(np.uint16)
    paths = []
    for k in range(stored.shape[0]):
        sop = generate_uid(prefix, entropy_srcs=[f"sop:{seed}:{series_key}:{series_number}:{k}"])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = prefix + "1"
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = acquired
        ds.StudyTime = ds.SeriesTime = "101500"
        ds.AccessionNumber = ident["AccessionNumber"]
        ds.Modality = "CT"
        ds.Manufacturer = "pmd-envelope synthetic phantom"
        ds.InstitutionName = ident["InstitutionName"]
        ds.ReferringPhysicianName = ident["ReferringPhysicianName"]
        ds.StationName = ident["StationName"]
        ds.PatientName = ident["PatientName"]
        ds.PatientID = ident["PatientID"]
        ds.PatientBirthDate = ident["PatientBirthDate"]
        ds.PatientSex = "O"
        ds.SliceThickness = f"{slice_thickness:g}"
        ds.KVP = "120"
        ds.GantryDetectorTilt = f"{geo.tilt_deg:g}"
        ds.ConvolutionKernel = "H60s"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        pos = geo.position(k)
        ds.ImagePositionPatient = [f"{x:.6f}" for x in pos]
        ds.ImageOrientationPatient = [f"{x:.6f}" for x in np.concatenate([geo.row_direction, geo.column_direction])]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = geo.rows, geo.columns
        ds.PixelSpacing = [f"{geo.pixel_spacing:g}", f"{geo.pixel_spacing:g}"]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
        ds.PixelData = stored[k].tobytes()
        if compress:
            ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
        path = folder / f"CT{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
