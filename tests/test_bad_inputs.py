"""The bad-input catalogue: every command, every kind of bad file, one table (issue 10, item 1).

Each row builds one bad input in a fresh copy of a sample case, its envelopes and an evidence
folder, runs the command in-process through :func:`pmd_envelope.cli.main`, and asserts the
contract: exit 2, exactly one line on stderr naming the file (and key), with the words the row
expects, and not one file written or changed anywhere in the work folder.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ENVELOPES, SAMPLES, latest_record, latest_rel
from pmd_envelope.cli import main

ENV_ID = "cranial-plate-ti64-lpbf"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 40


@dataclass
class Area:
    """A work folder: ``envelopes/``, ``case/`` (cranial-001) and ``ev/`` (a ledger with one record)."""

    root: Path

    @property
    def case(self) -> Path:
        return self.root / "case"

    @property
    def case_toml(self) -> Path:
        return self.case / "case.toml"

    @property
    def envelope(self) -> Path:
        return self.root / "envelopes" / ENV_ID / "1.0.0.toml"

    @property
    def ev(self) -> Path:
        return self.root / "ev"

    @property
    def record(self) -> Path:
        return latest_record(self.ev, "cranial-001")

    @property
    def ledger(self) -> Path:
        return self.ev / "ledger.sqlite"

    def edit(self, path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    def file(self, name: str, data: bytes | str) -> Path:
        p = self.root / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def validate(self) -> list[str]:
        return ["validate", str(self.case), "--out", str(self.root / "out"), "--envelopes", str(self.root / "envelopes")]

    def measure(self, mesh: Path, units: str = "mm") -> list[str]:
        return ["measure", str(mesh), "--units", units]

    def check(self) -> list[str]:
        return ["envelope", "check", str(self.envelope)]


@pytest.fixture(scope="module")
def evidence(validations, tmp_path_factory):
    """An evidence folder with one record, written once and copied per row."""
    from pmd_envelope.ledger import commit_evidence

    ev = tmp_path_factory.mktemp("evidence") / "ev"
    commit_evidence(ev, validations["cranial-001"].record, b"%PDF-1.4 placeholder report\n")
    return ev


@pytest.fixture
def area(tmp_path, evidence):
    shutil.copytree(ENVELOPES, tmp_path / "envelopes")
    shutil.copytree(SAMPLES / "cranial-001", tmp_path / "case")
    shutil.copytree(evidence, tmp_path / "ev")
    return Area(tmp_path)


# -- builders: each returns (argv, words the one-line message must hold) ---------------------------

def _toml(a: Area, data: bytes):
    a.case_toml.write_bytes(data)
    return a.validate(), ["case.toml", "not valid TOML"]


def _case_key(a: Area, old: str, new: str, *words):
    a.edit(a.case_toml, old, new)
    return a.validate(), ["case.toml", *words]


def _env_key(a: Area, old: str, new: str, *words):
    a.edit(a.envelope, old, new)
    return a.check(), ["1.0.0.toml", *words]


def _mesh(a: Area, name: str, data: bytes | str, *words, units: str = "mm"):
    return a.measure(a.file(name, data), units), [name, *words]


def _zip(parts: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


_MODEL = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
          b'<model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
          b'<resources><object id="1" type="model"><mesh><vertices>'
          b'<vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/><vertex x="0" y="1" z="0"/><vertex x="0" y="0" z="1"/>'
          b'</vertices><triangles><triangle v1="0" v2="2" v3="1"/><triangle v1="0" v2="1" v3="3"/>'
          b'<triangle v1="1" v2="2" v3="3"/><triangle v1="0" v2="3" v3="2"/></triangles></mesh></object></resources>'
          b'<build><item objectid="1"/></build></model>')


def _xxe(a: Area):
    secret = a.file("secret.txt", "TOP-SECRET")
    model = _MODEL.replace(b"?>\n", f'?>\n<!DOCTYPE model [<!ENTITY x SYSTEM "file://{secret}">]>\n'.encode(), 1)
    model = model.replace(b'x="1"', b'x="&x;"', 1)
    return _mesh(a, "xxe.3mf", _zip({"3D/3dmodel.model": model}), "DTD", "XXE")


def _laughs(a: Area):
    ents = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    model = _MODEL.replace(b"?>\n", f"?>\n<!DOCTYPE model [{ents}]>\n".encode(), 1)
    return _mesh(a, "laughs.3mf", _zip({"3D/3dmodel.model": model.replace(b'x="1"', b'x="&a9;"', 1)}), "DTD")


def _zip_bomb(a: Area):
    # 300 MiB of zeros deflate to ~0.3 MB (ratio ~1000): refused from the central directory
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("3D/3dmodel.model", "w", force_zip64=True) as fh:
            chunk = b"\0" * (1 << 24)
            for _ in range(300 // 16):
                fh.write(chunk)
    return _mesh(a, "bomb.3mf", buf.getvalue(), "zip bomb")


def _zip_bomb_declared(a: Area):
    # the central directory declares 5 GiB for a part (zip64): refused without expanding anything
    data = bytearray(_zip({"3D/3dmodel.model": _MODEL}, zipfile.ZIP_STORED))
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 0xFFFFFFFF)  # uncompressed size -> zip64 extra field
    name_len, extra_len = struct.unpack_from("<HH", data, cd + 28)
    extra = struct.pack("<HHQ", 1, 8, 5 << 30)
    data[cd + 46 + name_len:cd + 46 + name_len] = extra
    struct.pack_into("<H", data, cd + 30, extra_len + len(extra))
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, eocd + 12, struct.unpack_from("<I", data, eocd + 12)[0] + len(extra))
    return _mesh(a, "declared.3mf", bytes(data), "GiB uncompressed")


def _huge_stl(a: Area):
    # a sparse 2 GiB file whose header claims 10^9 triangles: refused by its size before reading
    p = a.root / "huge.stl"
    with open(p, "wb") as fh:
        fh.write(b"\0" * 80 + struct.pack("<I", 10**9))
        fh.truncate(2 * 2**30)
    return a.measure(p), ["huge.stl", "GiB"]


def _symlink_out(a: Area):
    outside = a.root / "elsewhere"
    outside.mkdir()
    shutil.move(a.case / "design.stl", outside / "design.stl")
    (a.case / "design.stl").symlink_to(outside / "design.stl")
    return a.validate(), ["case.toml", "[design.mesh]", "out of the case folder"]


def _symlink_dir_out(a: Area):
    outside = a.root / "elsewhere"
    outside.mkdir()
    shutil.copy(a.case / "design.stl", outside / "design.stl")
    (a.case / "meshes").symlink_to(outside)
    a.edit(a.case_toml, 'mesh = "design.stl"', 'mesh = "meshes/design.stl"')
    return a.validate(), ["case.toml", "[design.mesh]", "out of the case folder"]


def _deep_case(a: Area):
    a.edit(a.case_toml, 'notes = "', "deep = " + "[" * 5000 + "]" * 5000 + '\nnotes = "')
    return a.validate(), ["case.toml", "nested too deeply"]


def _deep_case_tables(a: Area):
    a.edit(a.case_toml, 'notes = "', "deep = " + "{ a = " * 40 + "1" + " }" * 40 + '\nnotes = "')
    return a.validate(), ["case.toml", "nested more than"]


def _deep_envelope(a: Area):
    text = a.envelope.read_text()
    a.envelope.write_text("deep = " + "[" * 5000 + "]" * 5000 + "\n" + text)
    return a.check(), ["1.0.0.toml", "nested too deeply"]


def _slow_expression(a: Area):
    # a tower of powers and a long chain: refused by the parser's size limits before evaluation
    return _env_key(a, 'plate_radius = "span / 2"', 'plate_radius = "' + "+".join(["span ** 9 ** 9 ** 9"] * 200) + '"',
                    "[metrics.yield_load.inputs.plate_radius]")


def _nested_expression(a: Area):
    return _env_key(a, 'plate_radius = "span / 2"', 'plate_radius = "' + "(" * 500 + "span" + ")" * 500 + '"',
                    "[metrics.yield_load.inputs.plate_radius]", "nested")


def _missing_version(a: Area):
    a.edit(a.case_toml, 'version = "1.0.0"', 'version = "9.9.9"')
    return a.validate(), ["9.9.9.toml", "not found", "1.0.0, 1.1.0"]


def _record_text(a: Area, text: str, *words):
    a.record.write_text(text)
    return ["report", str(a.record), "-o", str(a.root / "r.pdf")], ["record.json", *words]


def _record_field(a: Area, old: str, new: str, *words):
    a.edit(a.record, old, new)
    return ["report", str(a.record), "-o", str(a.root / "r.pdf")], ["record.json", *words]


def _ledger_bytes(a: Area, cut: int | None, *words, garbage: bytes | None = None):
    raw = a.ledger.read_bytes()
    a.ledger.write_bytes(garbage if garbage is not None else raw[:cut])
    return ["records", "verify", "--ledger", str(a.ledger)], ["ledger.sqlite", *words]


def _key(a: Area, data: bytes | None, *words):
    key = a.root / "key.pem"
    if data is not None:
        key.write_bytes(data)
    return (["sign", str(a.record), "--name", "A. Reviewer", "--role", "reviewer", "--meaning", "reviewed",
             "--key", str(key), "--ledger", str(a.ledger)], ["key.pem", *words])


def _rsa_key() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP256R1())
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


CATALOGUE = {
    # case files
    "case: not TOML": lambda a: _toml(a, b"schema = = 1\n"),
    "case: not UTF-8": lambda a: (a.case_toml.write_bytes(b"\xff\xfe\x00binary") and a.validate(), ["case.toml", "not UTF-8"]),
    "case: unknown key (typo)": lambda a: _case_key(a, "designer =", "designr =", "[designr]", "unknown key"),
    "case: required key missing": lambda a: _case_key(a, 'designer = "sample-designer"', "", "[designer]", "missing"),
    "case: patient name": lambda a: _case_key(a, "[scan]", 'patient_name = "Jane Doe"\n[scan]', "patient_name",
                                              "patient-identifying"),
    "case: patient_ref is a name": lambda a: _case_key(a, 'patient_ref = "PSN-685EB34B"', 'patient_ref = "Jane Doe"',
                                                       "[patient_ref]", "pseudonymous"),
    "case: unknown unit": lambda a: _case_key(a, 'units = "mm"', 'units = "furlong"', "[design.units]", "furlong"),
    "case: scan unit cm": lambda a: _case_key(a, 'length_unit = "mm"', 'length_unit = "cm"', "[scan.length_unit]",
                                              "use mm"),
    "case: schema unknown": lambda a: _case_key(a, 'schema = "pmd-envelope/case/1"', 'schema = "x/2"', "[schema]"),
    "case: scan after request": lambda a: _case_key(a, "acquired = 2026-09-14", "acquired = 2026-10-14",
                                                    "[scan.acquired]", "after the request"),
    "case: negative slice": lambda a: _case_key(a, "slice_thickness = 0.625", "slice_thickness = -1",
                                                "[scan.slice_thickness]", "positive"),
    "case: mesh path ..": lambda a: _case_key(a, 'mesh = "design.stl"', 'mesh = "../ev/design.stl"', "[design.mesh]",
                                              "inside the case folder"),
    "case: mesh path absolute": lambda a: _case_key(a, 'mesh = "design.stl"', 'mesh = "/etc/passwd"',
                                                    "[design.mesh]", "inside the case folder"),
    "case: mesh symlink out": _symlink_out,
    "case: folder symlink out": _symlink_dir_out,
    "case: mesh missing": lambda a: _case_key(a, 'mesh = "design.stl"', 'mesh = "nothere.stl"', "nothere.stl",
                                              "not found"),
    "case: deeply nested TOML": _deep_case,
    "case: deeply nested tables": _deep_case_tables,
    "case: envelope version does not exist": _missing_version,
    "case: folder does not exist": lambda a: (["validate", str(a.root / "nocase"), "--out", str(a.root / "out")],
                                              ["nocase", "not found"]),
    # envelope files
    "envelope: not TOML": lambda a: (a.file("envelopes/" + ENV_ID + "/1.0.0.toml", "x = [") and a.check(),
                                     ["1.0.0.toml", "not valid TOML"]),
    "envelope: non-table variable": lambda a: _env_key(a, "[variables.thickness_deviation]",
                                                       "[variables]\nx = 1\n[variables.thickness_deviation]",
                                                       "[variables.x]", "must be a table"),
    "envelope: unknown construct key": lambda a: _env_key(a, "wall_thickness = 1.0\nspan = 80.0",
                                                          "wall_thicknes = 1.0\nwall_thickness = 1.0\nspan = 80.0",
                                                          "configuration.wall_thicknes]", "not a parameter"),
    "envelope: unit cm": lambda a: _env_key(a, 'length = "mm"', 'length = "cm"', "[units.length]", "use mm"),
    "envelope: attribute in expression": lambda a: _env_key(a, 'plate_radius = "span / 2"',
                                                            'plate_radius = "span.__class__"',
                                                            "[metrics.yield_load.inputs.plate_radius]", "not allowed"),
    "envelope: call to import": lambda a: _env_key(a, 'plate_radius = "span / 2"', 'plate_radius = "__import__(1)"',
                                                   "[metrics.yield_load.inputs.plate_radius]", "not allowed"),
    "envelope: expression built to take forever": _slow_expression,
    "envelope: expression nested deeply": _nested_expression,
    "envelope: deeply nested TOML": _deep_envelope,
    "envelope: unknown status": lambda a: _env_key(a, 'status = "released"', 'status = "approved"', "[status]",
                                                   "not one of"),
    "envelope: wrong file name": lambda a: (shutil.copy(a.envelope, a.envelope.with_name("2.0.0.toml")) and
                                            ["envelope", "check", str(a.envelope.with_name("2.0.0.toml"))],
                                            ["2.0.0.toml", "must be named"]),
    "envelope: missing file": lambda a: (["envelope", "check", str(a.root / "none.toml")], ["none.toml"]),
    # meshes
    "mesh: PNG renamed .stl": lambda a: _mesh(a, "image.stl", PNG, "not a readable STL"),
    "mesh: truncated binary STL": lambda a: _mesh(a, "cut.stl", (SAMPLES / "cranial-001" / "design.stl").read_bytes()[:5000],
                                                  "truncated"),
    "mesh: header claims 10^9 triangles": lambda a: _mesh(a, "claims.stl", b"\0" * 80 + struct.pack("<I", 10**9) + b"\0" * 50,
                                                          "announces 1000000000 triangles"),
    "mesh: 2 GiB STL claiming 10^9 triangles": _huge_stl,
    "mesh: empty file": lambda a: _mesh(a, "empty.stl", b"", "not a readable STL"),
    "mesh: ASCII STL with NaN": lambda a: _mesh(a, "nan.stl", "solid x\nfacet normal 0 0 1\nouter loop\nvertex nan 0 0\n"
                                                "vertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid x\n", "non-finite"),
    "mesh: unsupported suffix": lambda a: _mesh(a, "part.step", "ISO-10303-21;", "unsupported mesh format"),
    "mesh: unknown unit": lambda a: _mesh(a, "u.stl", "solid x\nendsolid x\n", "furlong", units="furlong"),
    "mesh: PLY garbage": lambda a: _mesh(a, "junk.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 99\n"
                                         b"property float x\nend_header\n\x00\x01", "junk.ply"),
    "mesh: OBJ face out of range": lambda a: _mesh(a, "bad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "bad.obj"),
    "mesh: OBJ without faces": lambda a: _mesh(a, "nofaces.obj", "v 0 0 0\nv 1 0 0\n", "no triangles"),
    "mesh: 3MF not a zip": lambda a: _mesh(a, "notzip.3mf", b"this is not a zip", "not a valid zip"),
    "mesh: 3MF zip bomb": _zip_bomb,
    "mesh: 3MF declaring 5 GiB": _zip_bomb_declared,
    "mesh: 3MF with XXE": _xxe,
    "mesh: 3MF billion laughs": _laughs,
    # records
    "record: not JSON": lambda a: _record_text(a, "{not json", "not valid JSON"),
    "record: unknown schema version": lambda a: _record_field(a, '"schema_version": "1.1"', '"schema_version": "9.0"',
                                                              "schema version"),
    "record: field breaks the schema": lambda a: _record_field(a, '"verdict": "conforming"', '"verdict": "fine"',
                                                               "[verdict]", "schema"),
    "record: missing": lambda a: (["report", str(a.root / "none.json")], ["none.json", "cannot read"]),
    # ledgers
    "ledger: not SQLite": lambda a: _ledger_bytes(a, None, "not a pmd-envelope ledger", garbage=b"hello" * 200),
    "ledger: truncated": lambda a: _ledger_bytes(a, 1000, "ledger"),
    "ledger: missing": lambda a: (["records", "list", "--ledger", str(a.root / "none.sqlite")], ["none.sqlite", "no ledger"]),
    "ledger: unknown record id": lambda a: (["records", "show", "ffffffff", "--ledger", str(a.ledger)],
                                            ["ledger.sqlite", "no record with id"]),
    "ledger: bad date": lambda a: (["records", "list", "--expiring-before", "soon", "--ledger", str(a.ledger)],
                                   ["--expiring-before", "YYYY-MM-DD"]),
    # key files
    "key: missing file": lambda a: _key(a, None, "cannot read signing key"),
    "key: garbage": lambda a: _key(a, b"not a key", "not an unencrypted PEM"),
    "key: 63 hex digits": lambda a: _key(a, b"a" * 63, "not an unencrypted PEM"),
    "key: not Ed25519": lambda a: _key(a, _rsa_key(), "not an Ed25519 key"),
    "key: trusted keys garbage": lambda a: (a.file("trusted.txt", "zz not-a-key\n") and
                                            ["records", "verify", "--ledger", str(a.ledger), "--trusted-keys",
                                             str(a.root / "trusted.txt")], ["trusted.txt", "line 1"]),
}


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or p.is_dir():
            out[p.relative_to(root).as_posix()] = "link" if p.is_symlink() else "dir"
        elif p.stat().st_size > 2**28:  # the sparse 2 GiB file: size and head only
            with open(p, "rb") as fh:
                out[p.relative_to(root).as_posix()] = f"{p.stat().st_size}:{fh.read(1024).hex()}"
        else:
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_catalogue_has_at_least_40_kinds():
    assert len(CATALOGUE) >= 40
    families = {k.split(":")[0] for k in CATALOGUE}
    assert families == {"case", "envelope", "mesh", "record", "ledger", "key"}


@pytest.mark.parametrize("kind", sorted(CATALOGUE))
def test_bad_input_exit_2_one_line_nothing_written(kind, area, capsys):
    argv, words = CATALOGUE[kind](area)
    before = _snapshot(area.root)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (kind, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmd-envelope: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert _snapshot(area.root) == before, "a bad input wrote or changed a file"
    assert "TOP-SECRET" not in out + err
