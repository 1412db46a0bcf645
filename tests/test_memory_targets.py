"""Memory targets behind one interface: memory images, the recording target capture uses, snapshot files."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from paths import SAMPLES
from parsers.errors import EvidenceError, TargetReadError
from parsers.memory import ImageMemory, RecordingTarget, read_ifr
from parsers.records import BugCheck
from parsers.snapshot import PREFIX, read_snapshot, write_snapshot

HEADER = 0xFFFFB30C4A2F1000
IFR = (SAMPLES / "scenarios" / "evtiostop-not-acked.ifr").read_bytes()
BUGCHECK = BugCheck(0x9F, (3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560))


def test_image_reads_across_touching_regions_and_refuses_gaps():
    image = ImageMemory({0x1000: b"ab", 0x1002: b"cd", 0x2000: b"z"})
    assert image.read(0x1001, 3) == b"bcd"
    with pytest.raises(TargetReadError):
        image.read(0x1003, 2)
    assert image.symbol("Wdf01000!g_WdfTriageInfo") is None


def test_recording_target_keeps_exactly_what_was_read_merged():
    recorder = RecordingTarget(ImageMemory({HEADER: IFR}))
    log = read_ifr(recorder, HEADER, "target")
    assert recorder.regions() == {HEADER: IFR}  # header read, then the log area page by page, merged
    assert len(log.records) > 30


def _snapshot(tmp_path, **changes):
    path = tmp_path / "capture.wdfsnap"
    fields = dict(symbols={"Wdf01000!g_WdfTriageInfo": 0xFFFFF80012345000}, bugcheck=BUGCHECK, logs=[HEADER],
                  layout=None, objects={}, created_by="test")
    fields.update(changes)
    write_snapshot(path, {HEADER: IFR}, 8, **fields)
    return path


def test_snapshot_round_trip(tmp_path):
    snap = read_snapshot(_snapshot(tmp_path))
    assert snap.memory.read(HEADER, len(IFR)) == IFR and snap.logs == [HEADER]
    assert snap.bugcheck.code == 0x9F and snap.bugcheck.parameters == BUGCHECK.parameters
    assert snap.memory.symbol("Wdf01000!g_WdfTriageInfo") == 0xFFFFF80012345000


def test_triage_reads_a_snapshot_like_any_evidence(tmp_path):
    done = CliRunner().invoke(main, ["triage", str(_snapshot(tmp_path)), "--tmf", str(SAMPLES / "tmf")])
    assert done.exit_code == 0, done.output
    assert "DRIVER_POWER_STATE_FAILURE (9f)" in done.output
    assert "WDF002 EvtIoStop never acknowledged" in done.output


def _rewrite_header(path, edit):
    data = path.read_bytes()
    prefix = PREFIX.parse(data)
    header = json.loads(data[16:16 + prefix.HeaderSize])
    edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(PREFIX.build({"Version": 1, "HeaderSize": len(text)}) + text + data[16 + prefix.HeaderSize:])


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["regions"][0].update(size=10 ** 9), "does not fit the file"),
    (lambda h: h["regions"].append({"address": "0x1", "size": 1}), "does not fit the file"),
    (lambda h: h.update(pointer_size=6), "pointer_size 6"),
    (lambda h: h["regions"][0].update(address=123), "is not a hex string"),
    (lambda h: h.update(bugcheck={"code": "0x9f", "parameters": []}), "bugcheck is not"),
    # a bugcheck code is a ULONG; hex digits through the checked parser (no non-ASCII digits, no 65-bit values)
    (lambda h: h.update(bugcheck={"code": "0x10000009f", "parameters": ["0x3"] * 4}), "bugcheck.code .* 32-bit"),
    (lambda h: h["regions"][0].update(address="0x1" + "0" * 16), "64-bit hex number"),
    (lambda h: h["regions"][0].update(address="0x\u0663"), "64-bit hex number"),
])
def test_lying_snapshot_headers_are_one_error(tmp_path, edit, message):
    path = _snapshot(tmp_path)
    _rewrite_header(path, edit)
    with pytest.raises(EvidenceError, match=message):
        read_snapshot(path)


def test_damaged_snapshot_on_the_command_line_is_one_line_exit_2(tmp_path):
    path = _snapshot(tmp_path)
    path.write_bytes(path.read_bytes() + b"extra")
    done = CliRunner().invoke(main, ["triage", str(path)])
    assert done.exit_code == 2
    assert "5 bytes after the last region" in done.output and "Traceback" not in done.output
