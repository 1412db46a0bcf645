"""Damaged crash dumps: a clear one-line error and exit 2 when nothing can be read, otherwise the logs that can be
trusted plus a warning; never a hang, a crash inside kdmp-parser, or an allocation sized by a lying field."""
from __future__ import annotations

import json
import struct

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from paths import SAMPLES
from parsers.dump import read_dump
from parsers.dumpformat import HEADER64_SIZE, PAGE
from samples.dump_samples import busy_log
from samples.dump_writer import DumpImage, DumpSpec, dump_bytes
from samples.ifr_writer import IfrWriter
from samples.tmf_writer import SampleTmf, encode_args

DUMPS = SAMPLES / "dumps"
FULL = DUMPS / "kmdf-9f-full.dmp"
BITMAP = DUMPS / "kmdf-10d-bitmap.dmp"
RUN0 = 0x98  # PhysicalMemoryBlock.Runs[0] (BasePage, PageCount)


def _truth(name: str) -> dict:
    return json.loads((DUMPS / f"{name}.truth.json").read_text())


def _variant(tmp_path, source, patch) -> str:
    data = bytearray(source.read_bytes())
    patch(data)
    path = tmp_path / f"bad-{source.name}"
    path.write_bytes(bytes(data))
    return str(path)


def _trusted_only(dump, truth: dict) -> None:
    """Every log read is one of the truth's, and holds only records the truth has."""
    for found in dump.logs:
        assert set(r.sequence for r in found.log.records) <= set(truth["logs"][found.driver]["sequences"])


def _cli(path: str, *extra) -> tuple[int, str]:
    run = CliRunner().invoke(main, ["triage", path, *extra])
    return run.exit_code, run.output


@pytest.mark.parametrize("signature", [b"PAGEDU64", b"PAGEDUMP"])
def test_a_file_that_is_only_a_dump_signature_is_one_line_and_exit_2(tmp_path, signature):
    path = tmp_path / "eight.dmp"
    path.write_bytes(signature)
    for command in ("triage", "crashdump", "logdump"):
        run = CliRunner().invoke(main, [command, str(path)])
        assert run.exit_code == 2 and "Traceback" not in run.output
        (line,) = run.output.strip().splitlines()
        assert str(path) in line and "dump header truncated: the file has 8 of the header's" in line


def test_truncated_dump_keeps_the_logs_still_in_the_file(tmp_path):
    path = tmp_path / "cut.dmp"
    path.write_bytes(FULL.read_bytes()[:0x90000])
    dump = read_dump(path)
    messages = [w.message for w in dump.warnings]
    assert any("more pages than the file holds" in m for m in messages)
    assert any("flat scan" in m for m in messages) and not dump.virtual_reads
    truth = _truth("kmdf-9f-full")
    _trusted_only(dump, truth)
    busy = next(f for f in dump.logs if f.driver == "busydrv")  # one page, before the cut: whole
    assert [r.sequence for r in busy.log.records] == truth["logs"]["busydrv"]["sequences"]
    code, out = _cli(str(path))
    assert code == 0 and "DRIVER_POWER_STATE_FAILURE" in out


def test_runs_past_the_end_of_the_file_and_a_lying_run_count(tmp_path):
    huge = _variant(tmp_path, FULL, lambda d: struct.pack_into("<Q", d, RUN0 + 8, 1 << 40))
    dump = read_dump(huge)
    assert any("more pages than the file holds" in w.message for w in dump.warnings)
    _trusted_only(dump, _truth("kmdf-9f-full"))
    lying = _variant(tmp_path, FULL, lambda d: struct.pack_into("<I", d, 0x88, 0x45474150))
    dump = read_dump(lying)
    assert any("NumberOfRuns 1162297680 is more than fit" in w.message for w in dump.warnings)
    assert dump.bugcheck.code == 0x9F and {f.driver for f in dump.logs} >= {"hangdrv"}  # secondary data copy


def test_bitmap_lying_about_its_page_count(tmp_path):
    truth = _truth("kmdf-10d-bitmap")
    total = _variant(tmp_path, BITMAP, lambda d: struct.pack_into("<Q", d, HEADER64_SIZE + 0x28, 999999))
    dump = read_dump(total)
    assert any("TotalPresentPages says 999999; the bitmap is used" in w.message for w in dump.warnings)
    assert dump.virtual_reads and {f.driver for f in dump.logs} == set(truth["logs"])  # the bitmap is consistent
    bits = _variant(tmp_path, BITMAP, lambda d: struct.pack_into("<Q", d, HEADER64_SIZE + 0x30, 1 << 50))
    dump = read_dump(bits)
    assert any("does not fit before FirstPage" in w.message for w in dump.warnings) and not dump.virtual_reads
    assert dump.bugcheck.module_name == "dblcomp"  # driver list and secondary data still read

    def more_bits(d):  # every bit set: more present pages than the file holds
        first = HEADER64_SIZE + 0x38
        pages = struct.unpack_from("<Q", d, HEADER64_SIZE + 0x30)[0]
        d[first:first + pages // 8] = b"\xff" * (pages // 8)

    dump = read_dump(_variant(tmp_path, BITMAP, more_bits))
    assert any("more pages than the file holds" in w.message for w in dump.warnings) and not dump.virtual_reads


def _one_log_image(pages: int, mapped_pages: int) -> tuple[DumpImage, int, list[int]]:
    """A dump image with one ``pages``-page log whose first ``mapped_pages`` pages are mapped."""
    tmf, address = SampleTmf(), 0xFFFFB30C4A801000
    writer = IfrWriter("onedrv", pages=pages, header_address=address)
    sequences = []
    for m in busy_log(0xFFFFC30A6E000000, requests=8).messages:
        placed = writer.write(*tmf.key(m.entry), encode_args(m.entry, m.args, "x64"), m.filetime)
        sequences.append(placed[1])
    image = DumpImage(seed=3)
    image.map(address, writer.blob()[:mapped_pages * PAGE])
    return image, address, sequences


def test_header_size_spanning_unmapped_pages_gives_the_readable_records_and_a_warning(tmp_path):
    image, address, sequences = _one_log_image(pages=3, mapped_pages=1)
    path = tmp_path / "unmapped.dmp"
    path.write_bytes(dump_bytes(image, DumpSpec(0x9F, (3, 0, 0, 0))))
    (found,) = read_dump(path).logs
    assert [r.sequence for r in found.log.records] == sequences  # every record sits in the mapped first page
    assert "log area unmapped from VA 0xffffb30c4a802000" in found.log.warnings[0].message
    code, out = _cli(str(path))
    assert code == 0 and "log area unmapped" in out


def test_page_tables_that_loop_or_point_outside_memory(tmp_path):
    image, address, _ = _one_log_image(pages=1, mapped_pages=1)
    table, at = image.entry_location(address, 1)  # the PDPT entry points back at the PML4
    saved = bytes(image.pages[table][at:at + 8])
    image.pages[table][at:at + 8] = (image.dtb | 0x3).to_bytes(8, "little")
    path = tmp_path / "loop.dmp"
    path.write_bytes(dump_bytes(image, DumpSpec(0x9F, (3, 0, 0, 0))))
    dump = read_dump(path)
    assert not dump.logs and any("does not map to them" in w.message for w in dump.warnings)
    image.pages[table][at:at + 8] = saved
    table, at = image.entry_location(address, 3)  # the PTE names a page far outside physical memory
    image.pages[table][at:at + 8] = (0xFFFFF000 | 0x3).to_bytes(8, "little")
    path.write_bytes(dump_bytes(image, DumpSpec(0x9F, (3, 0, 0, 0))))
    dump = read_dump(path)
    assert not dump.logs and any("does not map to them" in w.message for w in dump.warnings)
    code, out = _cli(str(path))
    assert code == 0 and "no KMDF IFR log found" in out


def test_secondary_data_blob_lying_about_its_size(tmp_path):
    data = FULL.read_bytes()
    stream = data.index(b"DumpBlob")
    path = _variant(tmp_path, FULL, lambda d: struct.pack_into("<I", d, stream + 0x10 + 0x14, 0xFFFFFFF0))
    dump = read_dump(path)
    assert any("secondary data blob sizes run past the end of the file" in w.message for w in dump.warnings)
    assert {f.driver for f in dump.logs} == {"hangdrv", "busydrv", "okdrv"} and not dump.drivers


def test_secondary_data_stream_header_cut_by_the_end_of_the_file(tmp_path):
    """The DumpBlob signature in the file's last bytes (fuzz class "StreamError @ parsers/dump.py:_blobs"): no
    blob is read, a warning says why, the logs found in memory are kept."""
    data = FULL.read_bytes()
    stream = data.index(b"DumpBlob")
    path = tmp_path / "cut.dmp"
    path.write_bytes(data[:stream] + data[stream:stream + 9])
    dump = read_dump(str(path))
    assert any("secondary data stream header cut" in w.message for w in dump.warnings)
    code, _ = _cli(str(path))
    assert code in (0, 1)


def test_context_record_kdmp_parser_refuses_falls_back_to_the_flat_scan(tmp_path):
    path = _variant(tmp_path, FULL, lambda d: struct.pack_into("<I", d, 0x348 + 0x118, 0))  # MxCsr2 != MxCsr
    dump = read_dump(path)
    assert not dump.virtual_reads and any("kdmp-parser does not open this dump" in w.message for w in dump.warnings)
    _trusted_only(dump, _truth("kmdf-9f-full"))
    assert "hangdrv" in {f.driver for f in dump.logs} and dump.framework is not None


@pytest.mark.parametrize("metadata", [0, 0x10, 1 << 60, 0xFE8])
def test_kernel_dump_whose_rdmp_metadata_lies(tmp_path, metadata):
    image, address, sequences = _one_log_image(pages=1, mapped_pages=1)
    data = bytearray(dump_bytes(image, DumpSpec(0x9F, (3, 0, 0, 0), "kernel")))
    struct.pack_into("<Q", data, HEADER64_SIZE + 0x10, metadata)
    path = tmp_path / "rdmp.dmp"
    path.write_bytes(bytes(data))
    dump = read_dump(path)
    assert any("RDMP MetadataSize" in w.message for w in dump.warnings) and not dump.virtual_reads
    (found,) = dump.logs  # the one-page log is contiguous in the file: the flat scan still finds it
    assert [r.sequence for r in found.log.records] == sequences
