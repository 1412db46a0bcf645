"""The IFR ring decoder against the generator's ground truth (samples/ifr/*.truth.json)."""
from __future__ import annotations

import json

import pytest

from paths import SAMPLES
from parsers.errors import EvidenceError
from parsers.ifr import parse_ifr
from samples.ifr_writer import IfrWriter

GOOD = ["healthy-x64", "wrapped-x64", "x86", "v1-records", "dropped-size"]


def _load(name):
    return (SAMPLES / "ifr" / f"{name}.ifr").read_bytes(), json.loads((SAMPLES / "ifr" / f"{name}.truth.json").read_text())


@pytest.mark.parametrize("name", GOOD)
def test_records_equal_ground_truth(name):
    blob, truth = _load(name)
    log = parse_ifr(blob, name)
    got = [(r.sequence, r.offset, str(r.message_guid), r.message_number) for r in log.records]
    want = [(t["sequence"], t["offset"], t["guid"], t["number"]) for t in truth["records"]]
    assert got == want
    assert log.header.arch == truth["arch"] and log.header.driver_name == truth["driver_name"]
    assert log.wrapped == truth["wrapped"] and log.dropped == truth["dropped"]
    assert not log.warnings


def test_wrapped_ring_keeps_stale_bytes_and_counts_overwritten():
    blob, truth = _load("wrapped-x64")
    log = parse_ifr(blob, "wrapped")
    current = log.header.current
    assert log.wrapped and log.overwritten == truth["records"][0]["sequence"] - 1 > 0
    tail = blob[0x48 + current:]
    assert tail.count(b"L2") > 0  # the older lap's records are left in place, not zeroed
    older_lap = [r for r in log.records if r.offset >= current]
    assert older_lap and max(r.sequence for r in older_lap) < min(r.sequence for r in log.records if r.offset < current)


def test_oversized_message_leaves_a_sequence_gap():
    blob, truth = _load("dropped-size")
    log = parse_ifr(blob, "dropped")
    assert log.gaps == [(truth["dropped_after_sequence"], 1)]


def test_v1_records_have_no_timestamps_and_x86_pointer_layout():
    v1 = parse_ifr(_load("v1-records")[0], "v1")
    assert {r.version for r in v1.records} == {1} and all(r.timestamp is None for r in v1.records)
    x86 = parse_ifr(_load("x86")[0], "x86")
    assert x86.header.header_size == 0x44 and x86.header.arch == "x86"


@pytest.mark.parametrize("name, offset", [("corrupt-bad-guid", 0), ("corrupt-offset-past-size", 0x1C)])
def test_untrustworthy_header_is_one_error_with_offset(name, offset):
    blob, truth = _load(name)
    with pytest.raises(EvidenceError) as exc:
        parse_ifr(blob, name)
    assert exc.value.offset == offset and truth["error"] in exc.value.message
    assert "\n" not in exc.value.one_line()


@pytest.mark.parametrize("name", ["corrupt-prevoffset-loop", "corrupt-truncated"])
def test_damaged_ring_salvages_trusted_records_with_a_warning(name):
    blob, truth = _load(name)
    log = parse_ifr(blob, name)
    assert [r.sequence for r in log.records] == truth["salvaged"]
    assert log.warnings and any(truth["warning"] in str(w) for w in log.warnings)


def test_truncation_anywhere_never_raises_unexpectedly_or_invents_records():
    blob, truth = _load("healthy-x64")
    valid = {t["sequence"] for t in truth["records"]}
    for cut in range(0, len(blob), 97):
        try:
            log = parse_ifr(blob[:cut], "cut")
        except EvidenceError:
            continue
        assert {r.sequence for r in log.records} <= valid


def test_writer_and_decoder_agree_on_the_framework_wrap_rule():
    import uuid
    w = IfrWriter("drv", pages=1)
    guid = uuid.UUID(int=7)
    for i in range(500):
        w.write(guid, 10, [bytes([i % 251]) * (i % 37)], 0x01DB000000000000 + i)
    log = parse_ifr(w.blob(), "w")
    seqs = [r.sequence for r in log.records]
    assert seqs == list(range(seqs[0], 501)) and log.wrapped and not log.warnings
    assert all(r.payload[: r.length - 0x24][:1] in (b"", bytes([(r.sequence - 1) % 251])) for r in log.records)


def test_concurrent_writers_out_of_order_sequences_are_kept_and_reported():
    """Two writers reserve space first and take sequence numbers after, so neighbours can be inverted."""
    import struct
    import uuid
    w = IfrWriter("drv", pages=1)
    offsets = [w.write(uuid.UUID(int=9), 10, [bytes(8)], 0x01DB000000000000 + i)[0] for i in range(6)]
    area_seq = lambda off: 0x48 + off + 4  # noqa: E731
    blob = bytearray(w.blob())
    a, b = struct.unpack_from("<i", blob, area_seq(offsets[2]))[0], struct.unpack_from("<i", blob, area_seq(offsets[3]))[0]
    struct.pack_into("<i", blob, area_seq(offsets[2]), b)
    struct.pack_into("<i", blob, area_seq(offsets[3]), a)
    log = parse_ifr(bytes(blob), "concurrent")
    assert [r.sequence for r in log.records] == [1, 2, 4, 3, 5, 6]
    assert log.out_of_order == [(4, 3)] and not log.warnings and log.dropped == 0


def test_records_read_from_the_area_are_the_construct_declarations_fields():
    """The walk keeps offsets; each record read from the log area is what the construct declaration parses there."""
    from parsers.ifr import IFR_RECORD_V1, IFR_RECORD_V2
    for name in GOOD + ["corrupt-prevoffset-loop", "corrupt-truncated"]:
        log = parse_ifr(_load(name)[0], name)
        assert log.offsets == [r.offset for r in log.records] and log.sequences == [r.sequence for r in log.records]
        for r in log.records:
            layout = IFR_RECORD_V2 if r.version == 2 else IFR_RECORD_V1
            parsed = layout.parse(log.area[r.offset:r.offset + layout.sizeof()])
            assert (r.length, r.sequence, r.prev_offset, r.message_number, r.message_guid.bytes_le) == \
                (parsed.Length, parsed.Sequence, parsed.PrevOffset, parsed.MessageNumber, parsed.MessageGuid)
            assert r.filetime == (parsed.TimeStampHigh << 32 | parsed.TimeStampLow if r.version == 2 else None)
            assert r.payload == log.area[r.offset + layout.sizeof():r.offset + r.length]
