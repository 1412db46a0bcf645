"""Crash dumps: the sample dumps open in kdmp-parser itself, every KMDF log comes out whole and in order through
the page tables (checked against the generator's ground truth), triage and crashdump name bugcheck, driver and log."""
from __future__ import annotations

import json
import struct
from importlib import resources

import jsonschema
import kdmp_parser
import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.triage import triage
from paths import SAMPLES
from parsers.decode import DecodeOptions
from parsers.dump import read_dump
from parsers.evidence import load
from parsers.ifr import WDF_TRACE_GUID, parse_ifr
from parsers.memory import ImageMemory, symbol
from reports import render
from samples.dump_samples import busy_log
from samples.dump_writer import DumpImage, DumpSpec, build_dump, write_dump

DUMPS = SAMPLES / "dumps"
SAMPLE_DUMPS = ["kmdf-9f-full", "kmdf-10d-bitmap"]
SMALL = DUMPS / "evtiostop-9f.dmp"


def _truth(name: str) -> dict:
    return json.loads((DUMPS / f"{name}.truth.json").read_text())


@pytest.mark.parametrize("name", SAMPLE_DUMPS)
def test_kdmp_parser_opens_the_sample_and_its_page_tables_map_each_log(name):
    truth = _truth(name)
    dump = kdmp_parser.KernelDumpParser(DUMPS / f"{name}.dmp")
    assert dump.type == (kdmp_parser.DumpType.FullDump if truth["kind"] == "full" else kdmp_parser.DumpType.BMPDump)
    assert [dump.header.BugCheckCode, *dump.header.BugCheckCodeParameter] == [int(v, 16) for v in truth["bugcheck"]]
    for log in truth["logs"].values():
        address = int(log["address"], 16)
        assert [dump.translate_virtual(address + p * 0x1000) for p in range(log["pages"])] == \
               [pfn * 0x1000 for pfn in log["pfns"]]
        assert bytes(dump.read_virtual_page(address)[:16]) == WDF_TRACE_GUID.bytes_le
    multi = max(truth["logs"].values(), key=lambda log: log["pages"])
    assert multi["pages"] > 1 and multi["pfns"] != sorted(multi["pfns"])  # scattered, out of order


@pytest.mark.parametrize("name", SAMPLE_DUMPS)
def test_every_log_whole_and_in_order_through_the_page_tables(name):
    truth = _truth(name)
    dump = read_dump(DUMPS / f"{name}.dmp")
    assert dump.virtual_reads and f"0x{dump.bugcheck.code:x}" == truth["bugcheck"][0]
    logs = {f.driver: f for f in dump.logs}
    assert set(logs) == set(truth["logs"])
    for driver, expected in truth["logs"].items():
        found = logs[driver]
        assert [r.sequence for r in found.log.records] == expected["sequences"]
        assert found.log.wrapped == expected["wrapped"] and not found.log.warnings
        assert found.address == int(expected["address"], 16)
        assert f"pool at VA {expected['address']}" in found.sources
        assert any(s.startswith("secondary data (WdfDumpGuid)") for s in found.sources) == expected["secondary"]
    assert any(log["wrapped"] for log in truth["logs"].values())
    assert all(f.address != int(truth["decoy_va"], 16) for f in dump.logs)
    assert dump.framework.name == truth["framework"]["name"] and list(dump.framework.version) == truth["framework"]["version"]
    assert [(d.name, list(d.version), f"0x{d.globals_address:x}") for d in dump.drivers] == \
           [(d["name"], d["version"], d["globals"]) for d in truth["drivers"]]
    assert dump.bugcheck.module_name == truth["blamed"]
    stale = [w for w in dump.warnings if "does not map to them" in w.message]
    assert len(stale) == 1 and "0x" in str(stale[0])  # the freed copy of a header is seen, and not read


def test_dump_memory_target_reads_across_scattered_pages():
    truth = _truth("kmdf-9f-full")
    from parsers.dump import CrashDump

    log = truth["logs"]["hangdrv"]
    with CrashDump(DUMPS / "kmdf-9f-full.dmp") as dump:
        address = int(log["address"], 16)
        blob = dump.read(address, log["pages"] * 0x1000)
        assert dump.pointer_size == 8 and symbol(dump, "nt!PsLoadedModuleList") == 0xFFFFF8055A2A5E10
        assert symbol(dump, "Wdf01000!FxLibraryGlobals") is None and symbol(ImageMemory({}), "nt!x") is None
        with pytest.raises(Exception, match="not mapped"):
            dump.read(0xFFFF_8000_0000_0000, 8)
    direct = parse_ifr(blob, "memory", arch="x64", address=address)
    assert [r.sequence for r in direct.records] == log["sequences"]


@pytest.mark.parametrize("kind", ["full", "bitmap-kernel", "bitmap-full", "kernel"])
def test_writer_builds_a_dump_from_regions_that_reads_back_through_virtual_memory(tmp_path, kind):
    from parsers.dump import CrashDump

    regions = [(0xFFFFB30C4B000FF0, b"spans two pages" * 3), (0xFFFFF8055A2A5E10, (0xFFFFB30C4B000FF0).to_bytes(8, "little"))]
    path = tmp_path / "regions.dmp"
    path.write_bytes(build_dump(regions, DumpSpec(0x10D, (5, 1, 0, 2), kind)))
    with CrashDump(path) as dump:
        assert dump.bugcheck.code == 0x10D and dump.parser is not None
        assert dump.dump_type == {"full": "full", "kernel": "kernel"}.get(kind, kind.replace("-", " "))
        for address, data in regions:
            assert dump.read(address, len(data)) == data
        pointer = int.from_bytes(dump.read(0xFFFFF8055A2A5E10, 8), "little")
        assert dump.read(pointer, 15) == b"spans two pages"


def test_kernel_rdmp_dump_from_the_writer_opens_in_kdmp_parser_and_gives_the_log(tmp_path):
    from samples.ifr_writer import IfrWriter
    from samples.tmf_writer import SampleTmf, encode_args

    tmf, writer = SampleTmf(), IfrWriter("rdmpdrv", pages=3, header_address=0xFFFFB30C4A7F0000)
    for m in busy_log(0xFFFFC30A5D000000, requests=30).messages:
        writer.write(*tmf.key(m.entry), encode_args(m.entry, m.args, "x64"), m.filetime)
    image = DumpImage(seed=5)
    image.map(0xFFFFB30C4A7F0000, writer.blob())
    path = tmp_path / "kernel.dmp"
    with path.open("wb") as f:
        write_dump(image, DumpSpec(0x9F, (3, 1, 2, 3), "kernel"), f)
    assert kdmp_parser.KernelDumpParser(path).type == kdmp_parser.DumpType.KernelMemoryDump
    dump = read_dump(path)
    (found,) = dump.logs
    assert dump.dump_type == "kernel" and found.driver == "rdmpdrv" and found.log.wrapped is False
    assert [r.sequence for r in found.log.records] == [r.sequence for r in parse_ifr(writer.blob()).records]


def test_triage_of_the_0x9f_dump_names_bugcheck_driver_log_and_finding():
    result = triage([str(DUMPS / "kmdf-9f-full.dmp")], DecodeOptions([str(SAMPLES / "tmf")]))
    assert result.bugcheck_analysis["name"] == "DRIVER_POWER_STATE_FAILURE"
    assert result.bugcheck.module_name == "hangdrv"
    wdf002 = next(f for f in result.findings if f.rule == "WDF002")
    assert wdf002.log == "hangdrv" and str(wdf002.evidence[0].ref).startswith(f"{DUMPS / 'kmdf-9f-full.dmp'}!hangdrv@")
    assert {f.log for f in result.findings if f.rule != "WDF007"} == {"hangdrv"}  # the healthy drivers stay quiet


def test_triage_of_the_0x10d_dump_names_the_guilty_driver_from_parameter_4():
    result = triage([str(DUMPS / "kmdf-10d-bitmap.dmp")], DecodeOptions([str(SAMPLES / "tmf")]))
    assert result.bugcheck_analysis["name"] == "WDF_VIOLATION" and result.bugcheck.module_name == "dblcomp"
    wdf005 = next(f for f in result.findings if f.rule == "WDF005")
    assert wdf005.log == "dblcomp" and f"0x{wdf005.request:x}" == f"0x{result.bugcheck.parameters[1]:x}"


def test_crashdump_command_is_shaped_like_wdfcrashdump():
    run = CliRunner().invoke(main, ["crashdump", str(DUMPS / "kmdf-9f-full.dmp"), "--tmf", str(SAMPLES / "tmf")])
    assert run.exit_code == 0, run.output
    out = run.output
    assert "  Wdf01000       v1.31(19041)" in out and "  hangdrv        v1.15(19041)   0xffffb30c49000000" in out
    assert "Blamed driver: hangdrv" in out
    assert "IFR log of hangdrv: secondary data (WdfDumpGuid) at file offset 0x" in out
    assert out.count("--- start of log ---") == 3 and "Log of busydrv" in out and "Log of okdrv" in out
    one = CliRunner().invoke(main, ["crashdump", str(DUMPS / "kmdf-9f-full.dmp"), "--driver", "BUSYDRV"])
    assert one.exit_code == 0 and one.output.count("--- start of log ---") == 1 and "Log of busydrv" in one.output
    missing = CliRunner().invoke(main, ["crashdump", str(DUMPS / "kmdf-9f-full.dmp"), "--driver", "nosuch"])
    assert missing.exit_code == 2 and "no IFR log of driver 'nosuch'; logs found: busydrv, hangdrv, okdrv" in missing.output


def test_logdump_of_a_dump_prints_every_log_or_one_driver():
    run = CliRunner().invoke(main, ["logdump", str(DUMPS / "kmdf-10d-bitmap.dmp"), "--driver", "dblcomp", "--json"])
    assert run.exit_code == 0
    data = json.loads(run.output[run.output.index("{"):])
    assert set(data["logs"]) == {"dblcomp"} and {m["log"] for m in data["messages"]} == {"dblcomp"}
    facts = data["logs"]["dblcomp"]
    assert facts["kmdf_version"] == "v1.33(19041)" and facts["header_address"] == "0xffffb30c4a001000"


def test_small_memory_dump_log_from_its_secondary_data(capfd):
    with pytest.raises(RuntimeError):  # kdmp-parser reads no DumpType 4: this is the construct + flat-scan path
        kdmp_parser.KernelDumpParser(SMALL)
    capfd.readouterr()
    dump = read_dump(SMALL)
    assert dump.arch == "x64" and dump.dump_type == "triage (small memory dump)" and not dump.virtual_reads
    assert (dump.bugcheck.code, dump.bugcheck.parameters) == (0x9F, (3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560))
    (found,) = dump.logs
    direct = parse_ifr((SAMPLES / "scenarios" / "evtiostop-not-acked.ifr").read_bytes(), "s")
    assert found.sources == ["secondary data (WdfDumpGuid) at file offset 0x3030"] and found.file_offset == 0x3030
    assert [r.payload for r in found.log.records] == [r.payload for r in direct.records]
    assert dump.bugcheck.module_name == "wdfsample"


def test_triage_of_the_small_dump_names_the_hang_and_decodes_the_bugcheck():
    for tmf in ([str(SAMPLES / "tmf")], []):  # with the TMF and with formats recognized by shape
        result = triage([str(SMALL)], DecodeOptions(tmf))
        rules = {f.rule: f.severity.name for f in result.findings}
        assert rules["WDF002"] == "CRITICAL" and rules["WDF001"] == "CRITICAL" and rules["WDF007"] == "CRITICAL"
        assert result.inputs[0].kind == "dump" and result.bugcheck_analysis["name"] == "DRIVER_POWER_STATE_FAILURE"


def test_dump_identity_hashes_what_was_read_not_the_whole_file(tmp_path):
    evidence = load(str(DUMPS / "kmdf-9f-full.dmp"))
    assert evidence.read_digest == read_dump(DUMPS / "kmdf-9f-full.dmp").read_digest  # deterministic
    import hashlib

    whole = hashlib.sha256((DUMPS / "kmdf-9f-full.dmp").read_bytes()).hexdigest()
    assert evidence.sha256 is None and evidence.read_digest != whole  # never called the file's sha256
    hashed = load(str(DUMPS / "kmdf-9f-full.dmp"), full_hash=True)
    assert (hashed.sha256, hashed.read_digest) == (whole, evidence.read_digest)
    result = triage([str(DUMPS / "kmdf-9f-full.dmp")])
    doc = json.loads(render(result, "json"))
    jsonschema.validate(doc, json.loads(resources.files("reports").joinpath("schema/triage-result.v2.json").read_text()))
    assert doc["inputs"][0] | {"path": None} == {"path": None, "sha256": None, "read_digest": evidence.read_digest,
                                                 "size": len((DUMPS / "kmdf-9f-full.dmp").read_bytes()), "kind": "dump"}
    assert f"read digest {evidence.read_digest}" in render(result, "text") and "sha256 None" not in render(result, "text")


def test_dump_of_another_driver_still_gives_the_bugcheck(tmp_path):
    header = bytearray(SMALL.read_bytes()[:0x2000])
    struct.pack_into("<I4xQQQQ", header, 0x38, 0x10D, 0x5, 0x7FF356C05ED8, 0x100A, 0)
    path = tmp_path / "no-ifr.dmp"
    path.write_bytes(bytes(header) + bytes(0x4000))
    evidence = load(str(path))
    assert evidence.logset.bugcheck.code == 0x10D and not evidence.logset.messages
    assert "no KMDF IFR log found" in str(evidence.logset.warnings[0])
    run = CliRunner().invoke(main, ["triage", str(path)])
    assert run.exit_code == 0 and "WDF_VIOLATION (10d)" in run.output and "WDF_INVALID_HANDLE" in run.output


def test_32_bit_dump_header_and_flat_scan(tmp_path):
    header = bytearray(b"PAGE" * 0x400)
    struct.pack_into("<4s4s", header, 0, b"PAGE", b"DUMP")
    struct.pack_into("<IIIII", header, 0x28, 0x9F, 3, 0x86B3E6E8, 0x82D3FAE0, 0x852BC6F0)
    struct.pack_into("<I", header, 0xF88, 1)
    ifr = (SAMPLES / "ifr" / "x86.ifr").read_bytes()
    path = tmp_path / "x86.dmp"
    path.write_bytes(bytes(header) + bytes(0x1000) + ifr + bytes(0x1000))
    dump = read_dump(path)
    assert dump.arch == "x86" and dump.bugcheck.parameters == (3, 0x86B3E6E8, 0x82D3FAE0, 0x852BC6F0)
    (found,) = dump.logs
    assert found.file_offset == 0x2000 and [r.sequence for r in found.log.records] == \
           [r.sequence for r in parse_ifr(ifr, arch="x86").records]
