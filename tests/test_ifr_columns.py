"""The columnar IFR path (parsers.wpp.ifr_messages -> EventTable from columns) against the message path
(messages_from_ifr -> EventTable from TraceMessages): the same frame, cell for cell, the same texts, events,
messages and warnings, on every IFR sample, scenario and dump sample and on randomised rings (x64, x86, v1
records, wrapped, unknown and damaged payloads, times out of range, cut and corrupted buffers), with and without
TMF (recognition by shape)."""
from __future__ import annotations

import random
import struct
import uuid

import pandas as pd
import pytest

from analyzer.events import EventTable
from parsers.dump import read_dump
from parsers.errors import EvidenceError
from parsers.ifr import parse_ifr
from parsers.logtext import read_report_text
from parsers.recognize import learn
from parsers.tmf import TmfDatabase
from parsers.wpp import FILETIME_RANGE, ifr_messages, messages_from_ifr
from paths import DATA, SAMPLES
from samples.ifr_writer import IfrWriter

TMF = TmfDatabase.from_paths([SAMPLES / "tmf"])
BLOBS = sorted(SAMPLES.glob("ifr/*.ifr")) + sorted(SAMPLES.glob("scenarios/*.ifr"))
SCENARIO_RECORDS = [r for path in sorted(SAMPLES.glob("scenarios/*.ifr")) for r in parse_ifr(path.read_bytes()).records]


def _decoded(blob: bytes, name: str, tmf: TmfDatabase | None, arch: str | None = None):
    """(reference messages, their log, columnar messages, their log) of one blob, each path on its own walk."""
    logs = [parse_ifr(blob, name, arch=arch) for _ in range(2)]
    recognized = None if tmf is not None else learn(logs[0], logs[0].records)
    return (messages_from_ifr(logs[0], tmf, name, recognized=recognized), logs[0],
            ifr_messages(logs[1], tmf, name, recognized=recognized), logs[1])


def assert_same_table(reference: EventTable, columnar: EventTable) -> None:
    """The two tables hold the same frame, cell for cell, the same texts and the same events."""
    pd.testing.assert_frame_equal(reference.frame, columnar.frame, check_exact=True)
    for name in ("text", "mentions"):
        assert reference.frame[name].tolist() == columnar.frame[name].tolist()
    assert [reference.text(i) for i in range(len(reference))] == [columnar.text(i) for i in range(len(columnar))]
    assert list(reference) == list(columnar)


def _assert_same(blob: bytes, name: str, tmf: TmfDatabase | None, arch: str | None = None) -> None:
    reference, reference_log, columnar, columnar_log = _decoded(blob, name, tmf, arch)
    assert [str(w) for w in columnar_log.warnings] == [str(w) for w in reference_log.warnings]
    assert_same_table(EventTable.from_messages([(name, reference)]), EventTable.from_messages([(name, columnar)]))
    assert len(columnar) == len(reference) and columnar == reference
    assert columnar.counts() == (sum(not m.known for m in reference), sum(m.inferred for m in reference))


@pytest.mark.parametrize("tmf", [TMF, None], ids=["tmf", "no-tmf"])
@pytest.mark.parametrize("path", BLOBS, ids=lambda p: p.stem)
def test_every_sample_gives_the_message_paths_table(path, tmf):
    try:
        _assert_same(path.read_bytes(), str(path), tmf)
    except EvidenceError:
        pytest.skip("the header cannot be trusted: no records on either path")


@pytest.mark.parametrize("tmf", [TMF, None], ids=["tmf", "no-tmf"])
def test_every_dump_log_gives_the_message_paths_table(tmf):
    logs = [found for path in sorted(SAMPLES.glob("dumps/*.dmp")) for found in read_dump(path).logs]
    assert logs
    for found in logs:
        reference = messages_from_ifr(found.log, tmf, found.driver)
        columnar = ifr_messages(found.log, tmf, found.driver)
        assert_same_table(EventTable.from_messages([("dump", reference)]), EventTable.from_messages([("dump", columnar)]))


def test_many_inputs_in_one_table_mixed_with_pasted_text():
    """Columnar inputs are read a run at a time (plans shared across logs), text inputs between them as messages."""
    paste = DATA / "real-logs" / "nefarius_BthPS3_107_1.txt"
    pasted = read_report_text(paste.read_text(encoding="utf-8", errors="replace"), str(paste)).messages
    reference, columnar = [], []
    for k, path in enumerate(BLOBS[:12]):
        try:
            ref, _, col, _ = _decoded(path.read_bytes(), str(path), TMF if k % 3 else None)
        except EvidenceError:
            continue
        reference.append((path.stem, ref))
        columnar.append((path.stem, col))
        if k == 5:
            reference.append(("paste", pasted))
            columnar.append(("paste", pasted))
    assert_same_table(EventTable.from_messages(reference), EventTable.from_messages(columnar))


def test_the_table_builds_no_message_until_one_is_read():
    writer = IfrWriter("drv", pages=16)
    for i, r in enumerate(SCENARIO_RECORDS * 3):
        writer.write(r.message_guid, r.message_number, [r.payload], 0x01DB5A0000000000 + i)
    _, _, columnar, _ = _decoded(writer.blob(), "w", TMF)
    table = EventTable.from_messages([("w", columnar)])
    assert len(columnar) > 2 * columnar.BLOCK and columnar._items is None  # all framework messages: none built
    text = table.text(columnar.BLOCK + 3)
    built = [i for i, m in enumerate(columnar._items) if m is not None]
    assert built == list(range(columnar.BLOCK, 2 * columnar.BLOCK))  # the block of the row read, nothing else
    assert text == messages_from_ifr(parse_ifr(writer.blob()), TMF, "w")[columnar.BLOCK + 3].text


def _random_ring(rng: random.Random) -> bytes:
    """A ring written the framework's way from scenario messages (some with payloads cut or padded, unknown
    GUIDs and numbers), times anywhere in FILETIME's range, then perhaps corrupted or cut."""
    arch = rng.choice(["x64", "x86", "x86-old"])
    writer = IfrWriter(f"drv{rng.randrange(100)}", arch=arch, pages=rng.randint(1, 3), timestamps=rng.random() < 0.8)
    written = []
    for i in range(rng.randint(1, 400)):
        r = rng.choice(SCENARIO_RECORDS)
        guid, number, payload = r.message_guid, r.message_number, r.payload
        roll = rng.random()
        if roll < 0.05:
            guid = uuid.UUID(int=rng.getrandbits(128))
        elif roll < 0.1:
            number = rng.randrange(0x10000)
        elif roll < 0.2:
            payload = payload[:rng.randrange(len(payload) + 1)]
        elif roll < 0.25:
            payload += bytes(rng.getrandbits(8) for _ in range(rng.randrange(12)))
        filetime = 0x01DB5A0000000000 + i * rng.choice([0, 1, 10, 10_000])
        place = writer.write(guid, number, [payload], filetime)
        if place is not None:
            written.append(place[0])
    blob = bytearray(writer.blob())
    if writer.timestamps:
        for offset in rng.sample(written, min(len(written), rng.randrange(4))):  # times the table cannot hold
            when = rng.choice([0, 1, FILETIME_RANGE[0] - 1, FILETIME_RANGE[0], FILETIME_RANGE[1], FILETIME_RANGE[1] - 1, 1 << 62,
                               (1 << 63) - 1, 1 << 63, (1 << 64) - 1])
            struct.pack_into("<Q", blob, writer.header_size + offset + 0x1C, when)
    if rng.random() < 0.3:
        for _ in range(rng.randint(1, 8)):
            blob[rng.randrange(writer.header_size, len(blob))] = rng.getrandbits(8)
    if rng.random() < 0.2:
        blob = blob[:rng.randrange(writer.header_size, len(blob) + 1)]
    return bytes(blob)


@pytest.mark.parametrize("seed", range(40))
def test_random_rings_give_the_message_paths_table(seed):
    rng = random.Random(seed)
    for k in range(3):
        blob = _random_ring(rng)
        try:
            _assert_same(blob, f"random{seed}-{k}", TMF if k != 2 else None)
        except EvidenceError:
            continue


def test_name_columns_hold_each_values_text():
    """Arguments that land in a name column are told apart by their text (1 and True, 0.0 and -0.0 differ)."""
    from parsers.records import SourceRef, TraceMessage
    values = [1, True, 0.0, -0.0, "D0", None, 1]
    messages = [TraceMessage(SourceRef("paste.txt", line=n), "x", catalog_id="pnpstatemachine.cpp:1181",
                             args=(0x10000, 0x20000, v, "D1")) for n, v in enumerate(values)]
    frame = EventTable.from_messages([("paste.txt", messages)]).frame
    assert frame["state"].tolist()[:5] == ["1", "True", "0.0", "-0.0", "D0"] and frame["state"].isna().tolist()[5]
    assert frame["state"].tolist()[6] == "1" and set(frame["from_state"]) == {"D1"}
