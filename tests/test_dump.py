"""Crash dumps: bugcheck from the real DUMP_HEADER layout, KMDF IFR logs found inside the file."""
from __future__ import annotations

import struct

from click.testing import CliRunner

from analyzer.cli import main
from parsers.decode import DecodeOptions
from parsers.evidence import load
from analyzer.triage import triage
from conftest import SAMPLES
from parsers.dump import read_dump
from parsers.ifr import parse_ifr

DUMP = SAMPLES / "dumps" / "evtiostop-9f.dmp"


def test_header_and_the_ifr_log_inside():
    dump = read_dump(DUMP)
    assert dump.arch == "x64" and dump.dump_type == "triage (small memory dump)"
    assert (dump.bugcheck.code, dump.bugcheck.parameters) == (0x9F, (3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560))
    (offset, log), = dump.logs
    direct = parse_ifr((SAMPLES / "scenarios" / "evtiostop-not-acked.ifr").read_bytes(), "s")
    assert offset == 0x3000 and [r.sequence for r in log.records] == [r.sequence for r in direct.records]
    assert [r.payload for r in log.records] == [r.payload for r in direct.records]


def test_triage_of_the_dump_names_the_hang_and_decodes_the_bugcheck():
    for tmf in ([str(SAMPLES / "tmf")], []):  # with the TMF and with formats recognised by shape
        result = triage([str(DUMP)], DecodeOptions(tmf))
        rules = {f.rule: f.severity.name for f in result.findings}
        assert rules["WDF002"] == "CRITICAL" and rules["WDF001"] == "CRITICAL" and rules["WDF007"] == "CRITICAL"
        assert result.inputs[0].kind == "dump" and result.bugcheck_analysis["name"] == "DRIVER_POWER_STATE_FAILURE"


def test_dump_of_another_driver_still_gives_the_bugcheck(tmp_path):
    header = bytearray(DUMP.read_bytes()[:0x2000])
    struct.pack_into("<I4xQQQQ", header, 0x38, 0x10D, 0x5, 0x7FF356C05ED8, 0x100A, 0)
    path = tmp_path / "no-ifr.dmp"
    path.write_bytes(bytes(header) + bytes(0x4000))
    evidence = load(str(path))
    assert evidence.logset.bugcheck.code == 0x10D and not evidence.logset.messages
    assert "no KMDF IFR log found" in str(evidence.logset.warnings[0])
    run = CliRunner().invoke(main, ["triage", str(path)])
    assert run.exit_code == 0 and "WDF_VIOLATION (10d)" in run.output and "WDF_INVALID_HANDLE" in run.output


def test_32_bit_dump_header(tmp_path):
    header = bytearray(b"PAGE" * 0x400)
    struct.pack_into("<4s4s", header, 0, b"PAGE", b"DUMP")
    struct.pack_into("<IIIII", header, 0x28, 0x9F, 3, 0x86B3E6E8, 0x82D3FAE0, 0x852BC6F0)
    struct.pack_into("<I", header, 0xF88, 4)
    path = tmp_path / "x86.dmp"
    path.write_bytes(bytes(header))
    dump = read_dump(path)
    assert dump.arch == "x86" and dump.bugcheck.parameters == (3, 0x86B3E6E8, 0x82D3FAE0, 0x852BC6F0)
