"""Case files: privacy and validation."""

import pytest

from pmd_envelope.case import load_case
from pmd_envelope.errors import CaseError, InputFileError


def test_sample_case_loads(case_copy):
    case = load_case(case_copy("cranial-001"))
    assert case.case_id == "cranial-001"
    assert case.patient_ref.startswith("PSN-")
    assert case.scan.slice_thickness == 0.625
    assert case.design_mesh.name == "design.stl"


@pytest.mark.parametrize("extra,key", [
    ('patient_name = "Jane Doe"\n', "patient_name"),
    ('birth_date = 1970-01-01\n', "birth_date"),
    ('[scan.dicom]\nPatientName = "DOE^JANE"\n', "scan.dicom.PatientName"),
    ('mrn = "12345"\n', "mrn"),
])
def test_identifying_fields_refused(case_copy, extra, key):
    folder = case_copy("cranial-001")
    p = folder / "case.toml"
    text = p.read_text()
    if extra.startswith("["):
        text = text + extra
    else:
        text = extra + text
    p.write_text(text)
    with pytest.raises(CaseError, match="patient-identifying") as info:
        load_case(folder)
    assert f"[{key}]" in str(info.value)


def test_patient_ref_must_be_pseudonymous(case_copy):
    folder = case_copy("cranial-001")
    p = folder / "case.toml"
    text = p.read_text()
    start = text.index('patient_ref = "')
    end = text.index("\n", start)
    p.write_text(text[:start] + 'patient_ref = "Jane Doe"' + text[end:])
    with pytest.raises(CaseError, match=r"\[patient_ref\]: must be a pseudonymous reference"):
        load_case(folder)


def test_missing_mesh_named(case_copy):
    folder = case_copy("cranial-001")
    (folder / "design.stl").unlink()
    with pytest.raises(InputFileError, match=r"design.stl: design mesh not found"):
        load_case(folder)


def test_dates_consistent(case_copy):
    folder = case_copy("cranial-001")
    p = folder / "case.toml"
    p.write_text(p.read_text().replace("acquired = 2026-09-14", "acquired = 2026-10-14"))
    with pytest.raises(CaseError, match=r"\[scan.acquired\]: scan date is after the request"):
        load_case(folder)
