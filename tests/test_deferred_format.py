"""Deferred formatting: decoding IFR records and filling the event table format no message text; reading a
message's text formats it, to the string the sample's ground truth holds. The event table's typed columns are
checked against the same truth."""
from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from analyzer.events import EventKind, EventTable
from parsers.ifr import filetime_to_datetime, parse_ifr
from parsers.logtext import read_report_text
from parsers.records import SourceRef, TraceMessage
from parsers.tmf import TmfDatabase
from parsers.wpp import FILETIME_RANGE, TIME_RANGE, messages_from_ifr
from paths import DATA, SAMPLES

TMF = TmfDatabase.from_paths([SAMPLES / "tmf"])


def _sample(name: str, tmf: TmfDatabase | None = TMF) -> tuple[list[TraceMessage], dict]:
    path = SAMPLES / "ifr" / f"{name}.ifr"
    truth = json.loads((SAMPLES / "ifr" / f"{name}.truth.json").read_text())
    return messages_from_ifr(parse_ifr(path.read_bytes(), str(path)), tmf, str(path)), truth


@pytest.mark.parametrize("name", ["wrapped-x64", "x86", "v1-records"])
def test_decoding_formats_no_text_until_it_is_read(name):
    messages, truth = _sample(name)
    assert messages and not any(m.formatted for m in messages)
    assert [(m.sequence, m.catalog_id, list(m.args)) for m in messages] == \
        [(r["sequence"], r["catalog_id"], r["args"]) for r in truth["records"]]
    assert not any(m.formatted for m in messages)  # typed arguments come without the text
    first = messages[0].text
    assert messages[0].formatted and not any(m.formatted for m in messages[1:])
    assert [m.text for m in messages] == [r["text"] for r in truth["records"]]
    assert messages[0].text is first and all(m.formatted for m in messages)


def test_records_with_no_format_keep_their_raw_arguments_until_read():
    messages, truth = _sample("healthy-x64", TmfDatabase())
    assert messages and not any(m.known or m.formatted for m in messages)
    record = truth["records"][0]
    assert any(p >= 0x10000 for m in messages for p in m.pointers)  # handles found without formatting
    assert messages[0].text.startswith(f"Unknown( {record['number']}): GUID={record['guid']} (No Format Information")


def test_event_table_formats_only_the_rows_rules_read_by_text():
    decoded, truth = _sample("wrapped-x64")
    paste_path = DATA / "real-logs" / "nefarius_BthPS3_107_1.txt"
    pasted = read_report_text(paste_path.read_text(encoding="utf-8", errors="replace"), str(paste_path)).messages
    table = EventTable.from_messages([("wrapped.ifr", decoded), ("paste.txt", pasted)])
    assert not any(m.formatted for m in decoded)
    frame = table.frame
    raw = (frame["kind"] == EventKind.RAW.value).to_numpy()
    everything = decoded + pasted
    assert raw.any() and frame["text"][raw].tolist() == [m.text for m, r in zip(everything, raw) if r]
    assert frame["text"][~raw].isna().all()
    assert [table.text(i) for i in range(len(decoded))] == [r["text"] for r in truth["records"]]
    assert [e.text for e in table] == [m.text for m in everything]
    assert frame["input"].tolist() == ["wrapped.ifr"] * len(decoded) + ["paste.txt"] * len(pasted)


def test_event_table_columns_hold_the_truths_arguments():
    messages, truth = _sample("wrapped-x64")
    frame = EventTable.from_messages([("wrapped.ifr", messages)]).frame
    records = truth["records"]
    queued = [i for i, r in enumerate(records) if r["catalog_id"] == "fxioqueue.cpp:2343"]  # Queuing WDFREQUEST on WDFQUEUE
    assert queued and set(frame["kind"][queued]) == {EventKind.REQUEST_QUEUED.value}
    assert [(int(frame["request"][i]), int(frame["queue"][i])) for i in queued] == [tuple(records[i]["args"]) for i in queued]
    assert frame["irp"][queued].isna().all() and frame["state"][queued].isna().all()
    completed = [i for i, r in enumerate(records) if r["catalog_id"] == "fxrequest.hpp:792"]  # Completing WDFREQUEST ...
    assert completed and [[int(frame[c][i]) for c in ("request", "irp", "information", "status")] for i in completed] == \
        [records[i]["args"] for i in completed]
    assert frame["sequence"].tolist() == [r["sequence"] for r in records]
    assert frame["offset"].tolist() == [m.ref.offset for m in messages]
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]" and frame["timestamp"].notna().all()
    x86, truth = _sample("x86")
    frame = EventTable.from_messages([("x86.ifr", x86)]).frame
    states = [i for i, r in enumerate(truth["records"]) if r["catalog_id"] == "pnpstatemachine.cpp:1181"]  # PnP state
    assert states and set(frame["machine"][states]) == {"pnp"} and set(frame["kind"][states]) == {EventKind.STATE.value}
    assert [(int(frame["device"][i]), int(frame["devobj"][i]), frame["state"][i], frame["from_state"][i]) for i in states] == \
        [tuple(truth["records"][i]["args"]) for i in states]


def test_damaged_arguments_leave_their_columns_unknown():
    ref = SourceRef("paste.txt", line=1)
    queued = dict(catalog_id="fxioqueue.cpp:2343", level="TRACE_LEVEL_VERBOSE")
    messages = [TraceMessage(ref, "q1", args=(0xFFFFC00012340000, 0xFFFFC00056780000), **queued),
                TraceMessage(ref, "q2", args=(-1, 1 << 64), **queued),  # no handle is negative or wider than 64 bits
                TraceMessage(ref, "q3", args=("not a handle", 0x1000), **queued),
                TraceMessage(ref, "q4", args=(0x2000,), **queued),  # one argument short
                TraceMessage(ref, "q5", args=(True, 2.0), **queued)]
    frame = EventTable.from_messages([("paste.txt", messages)]).frame
    assert frame["request"].tolist()[:1] == [0xFFFFC00012340000] and frame["queue"].tolist()[:1] == [0xFFFFC00056780000]
    assert frame["request"].isna().tolist() == [False, True, True, False, False]
    assert frame["queue"].isna().tolist() == [False, True, False, True, True]
    assert int(frame["request"][3]) == 0x2000 and int(frame["queue"][2]) == 0x1000
    assert set(frame["kind"]) == {EventKind.REQUEST_QUEUED.value}


def test_trace_message_needs_text_or_a_formatter():
    with pytest.raises(TypeError):
        TraceMessage(SourceRef("x"))
    calls = []
    deferred = TraceMessage(SourceRef("x"), formatter=lambda data: calls.append(data) or f"value {data}", format_data=7)
    given = TraceMessage(SourceRef("x"), "value 7")
    assert not calls and deferred == given and calls == [7]
    assert deferred.text == "value 7" and calls == [7]  # formatted once
    assert "text='value 7'" in repr(deferred)


def test_a_decoded_message_pickles_with_its_text():
    messages, truth = _sample("x86")
    copy = pickle.loads(pickle.dumps(messages[0]))
    assert copy == messages[0] and copy.text == truth["records"][0]["text"] and copy.formatted


def test_filetime_range_is_exactly_the_times_timelines_hold():
    first, end = FILETIME_RANGE  # the decoder's integer test for TIME_RANGE
    assert filetime_to_datetime(first - 1) < TIME_RANGE[0] <= filetime_to_datetime(first)
    assert filetime_to_datetime(end - 1) <= TIME_RANGE[1] < filetime_to_datetime(end)


def test_event_table_times_the_table_cannot_hold_are_unknown():
    ref, tick = SourceRef("paste.txt", line=1), datetime(2026, 12, 2, 7, 0, tzinfo=timezone.utc)
    times = [tick, tick, None, datetime(3000, 1, 1, tzinfo=timezone.utc), tick + timedelta(microseconds=1)]
    frame = EventTable.from_messages([("paste.txt", [TraceMessage(ref, "x", timestamp=t) for t in times])]).frame
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["timestamp"].tolist()[:2] == [pd.Timestamp(tick)] * 2 and frame["timestamp"][2:4].isna().all()
    assert frame["timestamp"][4] == pd.Timestamp(tick) + pd.Timedelta(microseconds=1)


def test_a_row_read_as_an_event_holds_the_frame_cells():
    """``table[i]`` and iteration read rows with each column taken apart once (no pandas per cell); every
    Event holds what pandas gives for the same cell, missing values as None, for every row of a real paste
    and of a decoded sample."""
    from analyzer.events import HANDLE_FIELDS, NAME_FIELDS
    from analyzer.triage import triage
    from parsers.decode import DecodeOptions

    def cell(value):
        return None if value is None or pd.isna(value) else value

    for path in (DATA / "real-logs" / "nefarius_BthPS3_12_1.txt", SAMPLES / "scenarios" / "evtiostop-not-acked.ifr"):
        table = triage([str(path)], DecodeOptions(tmf=[str(SAMPLES / "tmf")])).events
        frame = table.frame
        events = list(table)
        assert len(events) == len(frame) and [table[i] for i in range(len(table))] == events
        for i, e in enumerate(events):
            assert e.kind.value == frame["kind"].iloc[i] and e.input == frame["input"].iloc[i]
            for name in ("catalog_id", "level", "count") + HANDLE_FIELDS + NAME_FIELDS:
                assert getattr(e, name) == cell(frame[name].iloc[i]), (path.name, i, name)
