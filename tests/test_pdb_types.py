"""Layouts from a compiler-written PDB: samples/objects/wdf_objects.pdb (clang-cl /Z7 + lld-link)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from paths import SAMPLES
from parsers.errors import EvidenceError
from parsers.pdb_types import profile_from_pdb, read_types

PDB = SAMPLES / "objects" / "wdf_objects.pdb"


@pytest.fixture(scope="module")
def profile():
    return profile_from_pdb(PDB)


def test_members_bases_bitfields_and_nesting(profile):
    queue = profile["types"]["FxIoQueue"]["fields"]
    assert queue["m_Type"]["offset"] == 8 and queue["m_Type"]["type"] == "unsigned short"  # from FxObject (base)
    assert queue["FxIoQueue::m_Type"]["type"] == "WDF_IO_QUEUE_DISPATCH_TYPE"  # hides the base's m_Type
    assert queue["m_PowerState"]["type"] == "FXIOQUEUE_POWER_STATE" and queue["m_PowerState"]["size"] == 4
    assert queue["m_Queue.m_RequestCount"]["offset"] == queue["m_Queue"]["offset"] + 32
    has_debug = profile["types"]["FxObject"]["fields"]["m_ObjectFlagsByName.HasDebug"]
    assert (has_debug["bit_position"], has_debug["bit_length"], has_debug["size"]) == (7, 1, 2)
    pnp = profile["types"]["FxPkgPnp"]["fields"]
    assert pnp["m_PnpMachine.m_States.History"] == {"offset": pnp["m_PnpMachine.m_States"]["offset"], "size": 16,
                                                    "type": "unsigned short[8]"}
    irp = profile["types"]["_IRP"]["fields"]
    assert irp["Tail.Overlay.ListEntry"]["offset"] == 0xA8 and irp["Tail.Overlay.DriverContext"]["offset"] == 0x78
    assert profile["pointer_size"] == 8 and profile["types"]["FxObject"]["fields"]["m_Globals"]["type"] == "FX_DRIVER_GLOBALS*"


def test_field_lists_continued_through_lf_index():
    """clang splits a 5000-member field list across LF_FIELDLIST records linked by LF_INDEX."""
    layout = read_types(PDB).layout("LongFieldList")
    assert len(layout["fields"]) == 5000 and layout["fields"]["m_5999"] == {"offset": 19996, "size": 4, "type": "int"}


def _pdbutil_members(type_name: str) -> dict[str, int]:
    """Direct data members and offsets of ``type_name`` as llvm-pdbutil prints them."""
    dump = subprocess.run(["llvm-pdbutil", "dump", "--types", str(PDB)], capture_output=True, text=True, check=True).stdout
    definition = re.search(rf"\| LF_(?:CLASS|STRUCTURE) \[size = \d+\] `{type_name}`\n(?:\s+unique name: .*\n)?.*field list: (0x[0-9A-F]+)\n"
                           r"\s+options: (?!forward ref)", dump)
    fieldlist = re.search(rf"{definition.group(1)} \| LF_FIELDLIST.*?\n(.*?)\n  0x", dump, re.S).group(1)
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"LF_MEMBER \[name = `(\w+)`, Type = \S+(?: \(.*?\))?, offset = (\d+)", fieldlist)}


@pytest.mark.skipif(shutil.which("llvm-pdbutil") is None, reason="llvm-pdbutil not installed")
@pytest.mark.parametrize("type_name", ["FxRequest", "FxDevice", "FX_DRIVER_GLOBALS", "_WDF_TRIAGE_INFO"])
def test_direct_members_agree_with_llvm_pdbutil(profile, type_name):
    theirs = _pdbutil_members(type_name)
    fields = profile["types"][type_name]["fields"]
    assert theirs and all(fields.get(name, fields.get(f"{type_name}::{name}"))["offset"] == offset
                          for name, offset in theirs.items())


@pytest.mark.skipif(shutil.which("clang-cl") is None and shutil.which("clang") is None or shutil.which("lld-link") is None,
                    reason="clang/lld not installed")
def test_rebuilt_pdbs_give_the_committed_layouts(tmp_path):
    subprocess.run(["sh", str(SAMPLES / "objects" / "build.sh"), str(tmp_path)], check=True, capture_output=True)
    for name in ("wdf_objects.pdb", "wdf_objects_x86.pdb"):
        assert profile_from_pdb(tmp_path / name) == profile_from_pdb(SAMPLES / "objects" / name)


def test_layout_extract_writes_a_profile(tmp_path, profile):
    out = tmp_path / "profile.json"
    done = CliRunner().invoke(main, ["layout", "extract", str(PDB), "-o", str(out)])
    assert done.exit_code == 0, done.output
    written = json.loads(out.read_text())
    assert written["format"] == "wdftriage-layout" and written["types"]["FxIoQueue"] == profile["types"]["FxIoQueue"]


def test_damaged_tpi_is_an_evidence_error_or_warning(tmp_path):
    data = bytearray(PDB.read_bytes())
    table = read_types(PDB)
    assert not table.warnings
    bad = tmp_path / "bad.pdb"
    bad.write_bytes(bytes(data[:4096]))
    with pytest.raises(EvidenceError):
        read_types(bad)


@pytest.mark.parametrize("seed", range(8))
def test_damaged_type_records_give_warnings_not_crashes(tmp_path, seed):
    """Seeded byte damage inside the TPI stream's records: the reader keeps what parses and warns."""
    import random

    from parsers.pdb import _Msf
    from parsers.pdb_types import TPI_STREAM

    data = bytearray(PDB.read_bytes())
    msf = _Msf(bytes(data), "pdb")
    size, blocks = msf.streams[TPI_STREAM]
    rng = random.Random(seed)
    for _ in range(200):
        at = rng.randrange(56, size)  # past the TPI header
        block = blocks[at // msf.block_size]
        data[block * msf.block_size + at % msf.block_size] = rng.randrange(256)
    damaged = tmp_path / "damaged.pdb"
    damaged.write_bytes(bytes(data))
    try:
        profile = profile_from_pdb(damaged)
    except EvidenceError as exc:
        assert str(exc)
    else:
        assert isinstance(profile["types"], dict)
