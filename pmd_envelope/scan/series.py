"""The planning scan as a DICOM series: headers read from an allow-list, then checked.

Privacy: every slice is read with ``pydicom.dcmread(..., stop_before_pixels=True,
specific_tags=ALLOWED_KEYWORDS)``, so no other data element of the data set (patient name, ID,
birth date, institution, physicians, study/SOP UIDs) is ever parsed into memory. pydicom always
reads the file meta group (0002,xxxx); only its Transfer Syntax UID is used. The Series
Instance UID is read to group the slices and is kept only as a salted HMAC (see
:func:`series_uid_hash`); no UID, name or identifier appears in a record or an error message.

The checks follow the planning-CT protocols of the domain notes (§3): one series, one
orientation and pixel spacing, uniform slice spacing with no missing or duplicated slice, zero
gantry tilt, slice spacing no larger than the slice thickness. A folder that cannot give one
trustworthy volume (not DICOM, two series, a localizer, missing geometry, an unsupported
compression, different orientations or pixel spacings) is refused with :class:`ScanError`; a
volume that can be built but breaks a protocol rule is a failed :class:`Finding`, which makes
the case nonconforming with the reason in words.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pmd_envelope.errors import ScanError

__all__ = ["ALLOWED_KEYWORDS", "SUPPORTED_TRANSFER_SYNTAXES", "ScanSettings", "DEFAULT_SCAN_SETTINGS", "Finding",
           "SliceHeader", "Series", "read_slice_header", "read_series", "series_uid_hash", "UID_SALT_BASIS"]

#: The only data elements ever read from a slice (the DICOM keywords). Everything else,
#: identity included, is skipped by pydicom's parser.
ALLOWED_KEYWORDS = (
    "SOPClassUID", "Modality", "ImageType", "SeriesInstanceUID", "AcquisitionDate", "SeriesDate",
    "SliceThickness", "PixelSpacing", "Rows", "Columns", "ImageOrientationPatient", "ImagePositionPatient",
    "GantryDetectorTilt", "KVP", "ConvolutionKernel", "RescaleSlope", "RescaleIntercept", "NumberOfFrames",
    "SamplesPerPixel", "BitsAllocated", "BitsStored", "PixelRepresentation", "PhotometricInterpretation",
)

#: Transfer syntaxes read here: uncompressed, deflated, and RLE Lossless (decoded by pydicom with
#: numpy alone, so the same pixels on every installation). Any other compression is refused
#: with the decoder package that would read it (:data:`_DECODERS`).
SUPPORTED_TRANSFER_SYNTAXES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}
_DECODERS = {  # transfer syntax prefix -> (name, package that decodes it with pydicom, lossy?)
    "1.2.840.10008.1.2.4.50": ("JPEG Baseline", "pylibjpeg-libjpeg (or pillow)", True),
    "1.2.840.10008.1.2.4.51": ("JPEG Extended", "pylibjpeg-libjpeg", True),
    "1.2.840.10008.1.2.4.57": ("JPEG Lossless", "pylibjpeg-libjpeg", False),
    "1.2.840.10008.1.2.4.70": ("JPEG Lossless SV1", "pylibjpeg-libjpeg", False),
    "1.2.840.10008.1.2.4.80": ("JPEG-LS Lossless", "pyjpegls or pylibjpeg-libjpeg", False),
    "1.2.840.10008.1.2.4.81": ("JPEG-LS Near-Lossless", "pyjpegls or pylibjpeg-libjpeg", True),
    "1.2.840.10008.1.2.4.90": ("JPEG 2000 Lossless", "pylibjpeg-openjpeg", False),
    "1.2.840.10008.1.2.4.91": ("JPEG 2000", "pylibjpeg-openjpeg", True),
    "1.2.840.10008.1.2.4.201": ("HTJ2K Lossless", "pylibjpeg-openjpeg", False),
    "1.2.840.10008.1.2.4.202": ("HTJ2K Lossless RPCL", "pylibjpeg-openjpeg", False),
    "1.2.840.10008.1.2.4.203": ("HTJ2K", "pylibjpeg-openjpeg", True),
}

#: Why the Series Instance UID hash is salted, and with what (copied into the record).
UID_SALT_BASIS = ("HMAC-SHA256 of the Series Instance UID keyed with 'pmd-envelope/series-uid/1:' + the case's "
                  "patient_ref: whoever holds the scan and the case can recompute it to prove which series was "
                  "used; an unkeyed SHA-256 of a UID could be matched against a hospital's UID list by anyone, and "
                  "the per-patient key makes such tables case-specific. The key is the pseudonym, not a secret, so "
                  "the record stays reproducible byte for byte on any machine")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanSettings:
    """Tolerances of the series checks (copied into every record that reads a series).

    Attributes
    ----------
    position_tolerance_mm : float
        Two slice spacings are equal within this [mm]: DS values carry ~6 decimals and
        scanners round positions to 1e-3 mm; 0.01 mm is 1/100 of the thinnest planning slice
        (domain notes §3, 0.5 mm) and far below any missing slice.
    orientation_tolerance : float
        Direction cosines of two slices agree within this (1e-4 rad ~ 0.006 deg).
    tilt_tolerance_deg : float
        Gantry tilt (attribute, or the shear of the slice stack measured from the positions)
        counts as zero below this [deg]: 0.01 deg moves a slice 0.035 mm over 200 mm.
    fit_margin_mm : float
        The bone is segmented inside the design's bounding box grown by this [mm]: 15 mm is ten
        times the cranial envelope's 1.5 mm gap limit, so a design that misses its bone by far
        more than the limit is still measured against the bone nearby (and found nonconforming)
        rather than left without bone; farther bone is "no bone near the design".
    contact_angle_deg : float
        A design face is bone-contacting when its normal is within this angle [deg] of the
        direction to the closest bone point. Narrower than ``Settings.contact_angle_deg`` (60)
        because a plate spans a defect: a face over the defect looks obliquely at the defect's
        cut edge, and at 30 deg it counts only within 0.58 g of that edge (g its gap), so the
        defect does not pose as a gap (measured on the phantoms: max gap 0.87 mm at a true
        0.5 mm gap, against 2.1 mm at 60 deg).
    """

    position_tolerance_mm: float = 0.01
    orientation_tolerance: float = 1e-4
    tilt_tolerance_deg: float = 0.01
    fit_margin_mm: float = 15.0
    contact_angle_deg: float = 30.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


DEFAULT_SCAN_SETTINGS = ScanSettings()


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One named series check: passed or not, the figure it rests on, and the detail in words."""

    name: str
    passed: bool
    value: float | None
    unit: str
    detail: str

    def as_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "value": self.value, "unit": self.unit,
                "detail": self.detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceHeader:
    """The allow-listed header of one slice (no identity; the UID only as its salted hash)."""

    file: str
    transfer_syntax: str
    modality: str
    image_type: tuple[str, ...]
    series_uid_hash: str
    acquired: str | None  # ISO date
    slice_thickness: float | None  # [mm]
    pixel_spacing: tuple[float, float]  # [mm] (between rows, between columns)
    rows: int
    columns: int
    orientation: tuple[float, ...]  # row and column direction cosines
    position: tuple[float, float, float]  # [mm] patient coordinates of the first pixel's centre
    gantry_tilt: float | None  # [deg]
    kvp: float | None
    kernel: str | None
    rescale: tuple[float, float]  # slope, intercept (HU = slope * stored + intercept)
    frames: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """A checked CT series: geometry of the slice stack, its hashes and the named findings.

    ``files`` and ``positions`` are in slice order (increasing coordinate along the normal
    ``row x column``). ``step`` is the mean position step between neighbouring slices [mm]
    (along the normal unless the gantry was tilted).
    """

    folder: str
    files: tuple[str, ...]
    transfer_syntax: str
    modality: str
    acquired: str | None
    slice_thickness: float | None
    pixel_spacing: tuple[float, float]
    rows: int
    columns: int
    row_direction: tuple[float, float, float]
    column_direction: tuple[float, float, float]
    normal: tuple[float, float, float]
    positions: tuple[tuple[float, float, float], ...]
    slice_coordinates: tuple[float, ...]
    spacing: float  # median slice spacing along the normal [mm]
    largest_gap: float  # largest spacing along the normal [mm]
    gantry_tilt: float | None  # attribute [deg]
    stack_shear_deg: float  # angle between the slice stack and the normal, from the positions [deg]
    kvp: float | None
    kernel: str | None
    rescale: tuple[tuple[float, float], ...]
    content_sha256: str
    series_uid_hash: str
    findings: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)

    @property
    def voxel(self) -> tuple[float, float, float]:
        """Voxel size [mm]: between rows, between columns, between slices (median)."""
        return (self.pixel_spacing[0], self.pixel_spacing[1], self.spacing)

    def header_dict(self) -> dict:
        """The allow-listed header values for the record (no identity)."""
        return {"modality": self.modality, "acquired": self.acquired, "slice_thickness": self.slice_thickness,
                "pixel_spacing": list(self.pixel_spacing), "rows": self.rows, "columns": self.columns,
                "slices": len(self.files), "orientation": list(self.row_direction + self.column_direction),
                "gantry_tilt": self.gantry_tilt, "kvp": self.kvp, "convolution_kernel": self.kernel,
                "transfer_syntax": SUPPORTED_TRANSFER_SYNTAXES[self.transfer_syntax],
                "slice_spacing": self.spacing, "largest_gap": self.largest_gap,
                "stack_shear_deg": self.stack_shear_deg,
                "first_position": list(self.positions[0]), "last_position": list(self.positions[-1])}


def series_uid_hash(uid: str, salt: str) -> str:
    """Salted HMAC-SHA256 of a Series Instance UID (hex); see :data:`UID_SALT_BASIS`.

    Examples
    --------
    >>> series_uid_hash("1.2.3", "PSN-0001")[:12]
    '2a30b82a514e'
    """
    return hmac.new(f"pmd-envelope/series-uid/1:{salt}".encode(), uid.encode(), hashlib.sha256).hexdigest()


def _float(ds, keyword) -> float | None:
    v = ds.get(keyword)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _date(v) -> str | None:
    if not v:
        return None
    s = str(v).strip()
    try:
        return _dt.date(int(s[:4]), int(s[4:6]), int(s[6:8])).isoformat()
    except (ValueError, IndexError):
        return None


def read_slice_header(path: str | Path, *, salt: str, name: str | None = None, data: bytes | None = None) -> SliceHeader:
    """Read the allow-listed header of one DICOM file (no pixel data).

    Parameters
    ----------
    path : path
        The file.
    salt : str
        Salt of the Series Instance UID hash (the case's patient_ref).
    name : str, optional
        How the file is named in messages (default: ``path``).
    data : bytes, optional
        The file's bytes when already read.

    Raises
    ------
    ScanError
        Not DICOM, an unsupported transfer syntax, a localizer, a multi-frame image, or a
        missing geometry attribute; the message names the file and the problem.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    where = name or str(path)
    try:
        if data is None:
            data = Path(path).read_bytes()
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=list(ALLOWED_KEYWORDS))
    except OSError as exc:
        raise ScanError(where, f"cannot read file ({exc.strerror or exc})") from None
    except InvalidDicomError:
        raise ScanError(where, "not a DICOM file (no 'DICM' marker after the 128-byte preamble); remove it from the "
                               "series folder") from None
    except Exception as exc:  # pydicom raises many types on malformed files; the value is never echoed
        raise ScanError(where, f"not a readable DICOM file ({type(exc).__name__}); remove or replace it") from None
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if ts not in SUPPORTED_TRANSFER_SYNTAXES:
        known = _DECODERS.get(ts)
        if known is not None:
            what, pkg, lossy = known
            raise ScanError(where, f"compressed with {what} ({ts}), which this tool does not decode; "
                                   f"{'lossy compression changes CT numbers: ask for the original series' if lossy else 'decompress it (e.g. gdcmconv --raw) or read it with pydicom and ' + pkg}")
        raise ScanError(where, f"transfer syntax '{ts or 'missing'}' is not supported; use an uncompressed, deflated "
                               "or RLE Lossless series")
    image_type = tuple(str(x).upper() for x in (ds.get("ImageType") or ()))
    if "LOCALIZER" in image_type:
        raise ScanError(where, "a localizer (scout) image is mixed into the series; remove it from the folder")
    frames = int(ds.get("NumberOfFrames") or 1)
    if frames != 1:
        raise ScanError(where, f"multi-frame image ({frames} frames) is not supported; export one file per slice")
    missing = [k for k in ("SeriesInstanceUID", "PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient",
                           "Rows", "Columns") if ds.get(k) in (None, "")]
    if missing:
        raise ScanError(where, f"missing {', '.join(missing)}: the slice cannot be placed in patient coordinates")
    try:
        ps = tuple(float(x) for x in ds.PixelSpacing)
        pos = tuple(float(x) for x in ds.ImagePositionPatient)
        iop = tuple(float(x) for x in ds.ImageOrientationPatient)
    except (TypeError, ValueError):
        raise ScanError(where, "PixelSpacing, ImagePositionPatient or ImageOrientationPatient is not numeric") from None
    if len(ps) != 2 or len(pos) != 3 or len(iop) != 6 or not all(math.isfinite(x) for x in ps + pos + iop) \
            or not min(ps) > 0:
        raise ScanError(where, "PixelSpacing (2 positive numbers), ImagePositionPatient (3) or "
                               "ImageOrientationPatient (6) is malformed")
    slope, intercept = _float(ds, "RescaleSlope"), _float(ds, "RescaleIntercept")
    return SliceHeader(
        file=where, transfer_syntax=ts, modality=str(ds.get("Modality") or ""), image_type=image_type,
        series_uid_hash=series_uid_hash(str(ds.SeriesInstanceUID), salt),
        acquired=_date(ds.get("AcquisitionDate")) or _date(ds.get("SeriesDate")),
        slice_thickness=_float(ds, "SliceThickness"), pixel_spacing=ps, rows=int(ds.Rows), columns=int(ds.Columns),
        orientation=iop, position=pos, gantry_tilt=_float(ds, "GantryDetectorTilt"), kvp=_float(ds, "KVP"),
        kernel=(str(ds.get("ConvolutionKernel")) if ds.get("ConvolutionKernel") else None),
        rescale=(1.0 if slope is None else slope, 0.0 if intercept is None else intercept), frames=frames)


#: The child process of :class:`_ChildDigests`: file names (NUL-separated) on stdin, one hex
#: SHA-256 per line on stdout ("-" for a file it cannot read), written once all are hashed (so a
#: full pipe never stops the child half-way while the parent is still parsing).
_DIGEST_CHILD = (
    "import hashlib, sys\n"
    "out = []\n"
    "for name in sys.stdin.buffer.read().split(b'\\0'):\n"
    "    try:\n"
    "        with open(name, 'rb') as f:\n"
    "            out.append(hashlib.sha256(f.read()).hexdigest())\n"
    "    except OSError:\n"
    "        out.append('-')\n"
    "sys.stdout.write('\\n'.join(out) + '\\n')\n"
)


class _ChildDigests:
    """The SHA-256 of each file of a series, hashed by a child process while this one parses headers.

    Why a process: hashing a 300-slice 512 x 512 series takes ~0.09 s and parsing its headers
    ~0.18 s (pure Python). hashlib releases the GIL while it hashes, but a hashing thread must
    take the GIL back after every ~0.5 MB file, which the parsing thread holds for up to the
    5 ms switch interval: measured, a thread made it no faster (0.28 -> 0.29-0.31 s), a child
    on the other core overlaps the whole hash. Each file is read twice, once by each process:
    the second read comes from the page cache (0.04 s for the 150 MB series), cheaper than
    sending the bytes through a pipe. The result does not depend on who hashed: a
    digest the child could not give (no child, a file it could not read, a malformed line) is
    computed here, from the file, by the same ``hashlib.sha256``.
    """

    def __init__(self, paths: list[Path], label: str):
        import subprocess
        import sys

        self.paths = paths
        self.label = label
        self.proc = None
        #: how many digests :meth:`result` had to compute in this process (0 when the child gave all)
        self.hashed_here = 0
        try:
            self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _DIGEST_CHILD], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            # the child reads all names before it writes a line, so this write cannot deadlock
            self.proc.stdin.write(b"\0".join(bytes(p) for p in paths))
            self.proc.stdin.close()
        except (OSError, ValueError):  # no interpreter to start, or the child died at once
            self.close()

    def close(self) -> None:
        """Stop the child (on an error in the parent)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.stdout.close()
            self.proc.wait()
            self.proc = None

    def result(self) -> list[bytes]:
        """The digest of each path, in order (:class:`ScanError` if this process cannot read a file)."""
        lines = []
        if self.proc is not None:
            out = self.proc.stdout.read()
            self.proc.stdout.close()
            lines = out.decode("ascii", "replace").splitlines() if self.proc.wait() == 0 else []
            self.proc = None
        if len(lines) != len(self.paths):
            lines = ["-"] * len(self.paths)
        digests = []
        for p, line in zip(self.paths, lines):
            if len(line) == 64 and all(ch in "0123456789abcdef" for ch in line):
                digests.append(bytes.fromhex(line))
                continue
            self.hashed_here += 1
            try:
                digests.append(hashlib.sha256(p.read_bytes()).digest())
            except OSError as exc:
                raise ScanError(f"{self.label}/{p.name}", f"cannot read file ({exc.strerror or exc})") from None
        return digests


def read_series(folder: str | Path, *, salt: str, settings: ScanSettings = DEFAULT_SCAN_SETTINGS,
                label: str | None = None) -> Series:
    """Read and check every file of a series folder (headers only).

    Parameters
    ----------
    folder : path
        The series folder; every regular file in it (not in sub-folders) must be a slice of
        one CT series (a ``DICOMDIR`` index file is skipped).
    salt : str
        Salt of the Series Instance UID hash: the case's ``patient_ref`` (:data:`UID_SALT_BASIS`).
    settings : ScanSettings
    label : str, optional
        How the folder is named in messages (default: the path as given).

    Returns
    -------
    Series
        With the findings ``single_series``, ``consistent_geometry``, ``uniform_slice_spacing``,
        ``gantry_tilt`` and ``spacing_vs_thickness``.

    Raises
    ------
    ScanError
        The folder cannot give one trustworthy volume; one line naming the file and the problem.
    """
    folder = Path(folder)
    label = label or str(folder)
    if not folder.is_dir():
        raise ScanError(label, "scan series folder not found")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.name.upper() != "DICOMDIR")
    if len(paths) < 2:
        raise ScanError(label, f"{len(paths)} slice file(s): a series needs at least 2 slices to check its spacing")
    digests = _ChildDigests(paths, label)
    headers = []
    try:
        for p in paths:
            where = f"{label}/{p.name}"
            try:
                data = p.read_bytes()
            except OSError as exc:
                raise ScanError(where, f"cannot read file ({exc.strerror or exc})") from None
            headers.append(read_slice_header(p, salt=salt, name=where, data=data))
    except BaseException:  # a refused slice (or an interrupt): the child is not left running
        digests.close()
        raise
    content = hashlib.sha256()
    for p, digest in zip(paths, digests.result()):
        content.update(p.name.encode() + b"\0" + digest)
    groups: dict[str, list[SliceHeader]] = {}
    for h in headers:
        groups.setdefault(h.series_uid_hash, []).append(h)
    if len(groups) > 1:
        big = max(groups.values(), key=len)
        odd = next(h for h in headers if h.series_uid_hash != big[0].series_uid_hash)
        counts = ", ".join(str(len(g)) for g in sorted(groups.values(), key=len, reverse=True))
        raise ScanError(odd.file, f"belongs to another series: {len(groups)} series are mixed in the folder "
                                  f"({counts} files); put each series in its own folder")
    first = headers[0]
    for h in headers[1:]:
        if h.modality != first.modality:
            raise ScanError(h.file, f"modality {h.modality} differs from {first.modality} of {first.file}")
        if max(abs(a - b) for a, b in zip(h.orientation, first.orientation)) > settings.orientation_tolerance:
            raise ScanError(h.file, "image orientation differs from the first slice; a series must have one orientation")
        if max(abs(a - b) for a, b in zip(h.pixel_spacing, first.pixel_spacing)) > settings.position_tolerance_mm / 10:
            raise ScanError(h.file, f"pixel spacing {list(h.pixel_spacing)} mm differs from {list(first.pixel_spacing)} "
                                    f"mm of the first slice")
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise ScanError(h.file, f"{h.rows} x {h.columns} pixels differs from {first.rows} x {first.columns} "
                                    "of the first slice")
    row = np.array(first.orientation[:3], dtype=np.float64)
    col = np.array(first.orientation[3:], dtype=np.float64)
    if abs(np.linalg.norm(row) - 1) > 1e-3 or abs(np.linalg.norm(col) - 1) > 1e-3 or abs(row @ col) > 1e-3:
        raise ScanError(first.file, "ImageOrientationPatient is not two orthogonal unit vectors")
    normal = np.cross(row, col)
    pos = np.array([h.position for h in headers], dtype=np.float64)
    s = pos @ normal
    order = np.argsort(s, kind="stable")
    headers = [headers[i] for i in order]
    pos, s = pos[order], s[order]
    d = np.diff(s)
    tol = settings.position_tolerance_mm
    spacing = float(np.median(d))
    largest = float(d.max())
    findings = [Finding(name="single_series", passed=True, value=float(len(headers)), unit="1",
                        detail=f"{len(headers)} slices of one series, one modality ({first.modality})")]
    findings.append(Finding(name="consistent_geometry", passed=True, value=None, unit="",
                            detail=f"one orientation and one pixel spacing ({first.pixel_spacing[0]:g} x "
                                   f"{first.pixel_spacing[1]:g} mm) and size ({first.rows} x {first.columns})"))
    dup = int(np.count_nonzero(d <= tol))
    if dup:
        i = int(np.argmax(d <= tol))
        findings.append(Finding(name="uniform_slice_spacing", passed=False, value=largest, unit="mm",
                                detail=f"{dup} duplicated slice position(s), first at {s[i]:.3f} mm along the normal "
                                       f"({headers[i].file.rsplit('/', 1)[-1]} and {headers[i + 1].file.rsplit('/', 1)[-1]})"))
        spacing = float(np.median(d[d > tol])) if np.any(d > tol) else 0.0
    else:
        base = float(d.min())
        off = np.abs(d - base) > tol
        if np.any(off):
            i = int(np.argmax(d))
            missing = int(round(largest / base)) - 1
            findings.append(Finding(name="uniform_slice_spacing", passed=False, value=largest, unit="mm",
                                    detail=f"slice spacing not uniform: {base:.4g} mm, largest gap {largest:.4g} mm "
                                           f"between {s[i]:.3f} and {s[i + 1]:.3f} mm along the normal "
                                           f"(~{missing} slice(s) missing); "
                                           f"{int(np.count_nonzero(off))} gap(s) in all"))
        else:
            findings.append(Finding(name="uniform_slice_spacing", passed=True, value=largest, unit="mm",
                                    detail=f"uniform spacing {spacing:.4g} mm, largest gap {largest:.4g} mm, "
                                           "no missing or duplicated slice"))
    step = (pos[-1] - pos[0]) / max(s[-1] - s[0], 1e-12)  # per mm along the normal
    shear = float(np.degrees(np.arccos(np.clip(1.0 / np.linalg.norm(step), -1.0, 1.0))))
    tilt = first.gantry_tilt
    tilted = shear > settings.tilt_tolerance_deg or (tilt is not None and abs(tilt) > settings.tilt_tolerance_deg)
    findings.append(Finding(
        name="gantry_tilt", passed=not tilted, value=shear, unit="deg",
        detail=(f"gantry tilt {'attribute ' + format(tilt, 'g') + ' deg' if tilt is not None else 'attribute absent'}; "
                f"slice stack sheared {shear:.3g} deg from the slice normal (from the positions)"
                + ("; the protocol asks for zero tilt" if tilted else ""))))
    th = first.slice_thickness
    if th is None:
        findings.append(Finding(name="spacing_vs_thickness", passed=False, value=None, unit="mm",
                                detail="SliceThickness attribute absent: the spacing cannot be checked against it"))
    else:
        ok = spacing <= th + tol
        findings.append(Finding(name="spacing_vs_thickness", passed=ok, value=spacing - th, unit="mm",
                                detail=f"slice spacing {spacing:.4g} mm {'<=' if ok else '>'} slice thickness {th:g} mm"
                                       + ("" if ok else ": the slabs leave gaps between them")))
    dates = sorted({h.acquired for h in headers if h.acquired})
    return Series(
        folder=label, files=tuple(h.file.rsplit("/", 1)[-1] for h in headers), transfer_syntax=first.transfer_syntax,
        modality=first.modality, acquired=dates[0] if dates else None, slice_thickness=th,
        pixel_spacing=first.pixel_spacing, rows=first.rows, columns=first.columns,
        row_direction=tuple(float(x) for x in row), column_direction=tuple(float(x) for x in col),
        normal=tuple(float(x) for x in normal), positions=tuple(tuple(float(x) for x in p) for p in pos),
        slice_coordinates=tuple(float(x) for x in s), spacing=spacing, largest_gap=largest, gantry_tilt=tilt,
        stack_shear_deg=shear, kvp=first.kvp, kernel=first.kernel, rescale=tuple(h.rescale for h in headers),
        content_sha256=content.hexdigest(), series_uid_hash=first.series_uid_hash, findings=tuple(findings))
