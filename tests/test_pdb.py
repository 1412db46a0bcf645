"""WPP annotations from a real PDB (clang-cl + lld-link + llvm-pdbutil, see samples/pdb/build.sh)."""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from paths import SAMPLES
from parsers.catalog import load
from parsers.errors import EvidenceError
from parsers.pdb import read_annotations, tmf_messages_from_pdb
from parsers.tmf import parse_tmf_file, write_tmf_files
from samples.pdb.restore_annotations import source_annotations

PDB = SAMPLES / "pdb" / "wpp_annotations.pdb"
REAL_TMF = Path(__file__).parent / "data" / "tmf"


def _without_origin(messages):
    return [dataclasses.replace(m, origin="") for m in messages]


def test_annotations_are_exactly_the_source_strings():
    expected = source_annotations((SAMPLES / "pdb" / "wpp_annotations.c").read_text())
    assert [list(a) for a in read_annotations(PDB)] == expected and len(expected) == 3


def test_extracted_tmf_equals_the_annotation_text_and_the_framework_catalog():
    messages = tmf_messages_from_pdb(PDB)
    assert _without_origin(messages) == _without_origin(parse_tmf_file(SAMPLES / "pdb" / "expected.tmf"))
    catalog = load()
    assert [catalog.match_format(m.format)[0].format for m in messages] == [
        "Power Stop Notifying Driver, WDFQUEUE 0x%p, WDFREQUEST 0x%p",
        "Completing WDFREQUEST 0x%p for IRP 0x%p with Information 0x%I64x, %!STATUS!",
        "WDFDEVICE 0x%p !devobj 0x%p entering PnP State %!WDF_DEVICE_PNP_STATE! from %!WDF_DEVICE_PNP_STATE!"]


@pytest.mark.skipif(shutil.which("llvm-pdbutil") is None, reason="llvm-pdbutil not installed (Debian package llvm)")
def test_llvm_pdbutil_sees_the_same_records():
    dump = subprocess.run(["llvm-pdbutil", "dump", "--symbols", str(PDB)], capture_output=True, text=True, timeout=60)
    assert len(re.findall(r"\bS_ANNOTATION\b", dump.stdout)) == len(read_annotations(PDB))


def test_tmf_extract_command_writes_files_tracefmt_style(tmp_path):
    run = CliRunner().invoke(main, ["tmf", "extract", str(PDB), "-o", str(tmp_path)])
    assert run.exit_code == 0, run.output
    files = sorted(tmp_path.glob("*.tmf"))
    assert len(files) == 3 and all(f.stem in f.read_text() for f in files)
    reread = [m for f in files for m in parse_tmf_file(f)]
    key = lambda m: (str(m.guid), m.number)  # noqa: E731
    assert sorted(_without_origin(reread), key=key) == sorted(_without_origin(tmf_messages_from_pdb(PDB)), key=key)


def test_tmf_writer_round_trips_real_tracepdb_files(tmp_path):
    """Our TMF model of a real tracepdb file survives writing and reading back: the writer used by
    `tmf extract` produces what tracepdb produces, as far as the model goes (names, numbers, formats
    with embedded quotes, trailer keys, item types, enum lists)."""
    for path in sorted(REAL_TMF.glob("*.tmf")):
        original = parse_tmf_file(path)
        written = write_tmf_files(original, tmp_path / path.stem, ("x.pdb",))
        assert _without_origin([m for f in written for m in parse_tmf_file(f)]) == _without_origin(original)


def test_pdb_decodes_ifr_records_like_the_tmf(tmp_path):
    run = CliRunner().invoke(main, ["logdump", str(SAMPLES / "ifr" / "healthy-x64.ifr"), "--pdb", str(PDB)])
    assert run.exit_code == 0
    assert "entering PnP State WdfDevStatePnpInit from WdfDevStatePnpObjectCreated" in run.output
    pnp = [line for line in run.output.splitlines() if "entering PnP State" in line]
    assert pnp and not any("[inferred" in line for line in pnp)  # formats from the PDB, not guessed
    assert any("[inferred" in line for line in run.output.splitlines())  # the rest: not in this small PDB


@pytest.mark.parametrize("cut", [0, 40, 100, 4096, 9000, 30000])
def test_truncated_or_foreign_pdb_is_a_clear_error(tmp_path, cut):
    bad = tmp_path / "bad.pdb"
    bad.write_bytes(PDB.read_bytes()[:cut])
    with pytest.raises(EvidenceError) as exc:
        read_annotations(bad)
    assert str(bad) in exc.value.one_line()
