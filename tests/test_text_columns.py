"""The columnar text path (framework lines typed in bulk held as columns, parsers.logtext.TextMessages -> EventTable
from columns) against the message path (every line read one by one into a TraceMessage -> EventTable from
TraceMessages): the same frame, cell for cell, the same texts, events, messages, warnings and log facts, on every
real paste in tests/data (logs, msdocs and !analyze pastes), all of them at once and repeated, and on the bench's
pastes (bench/text_ingest.py build_paste)."""
from __future__ import annotations

import importlib.util
import re

import pytest
from hypothesis import given, settings, strategies as st

import parsers.logtext as logtext
from analyzer.events import EventTable
from parsers.errors import EvidenceError
from parsers.logtext import TextMessages, read_log_text, read_report_text
from paths import DATA, ROOT
from test_ifr_columns import assert_same_table
from test_logtext_bulk import POOL

REAL = DATA / "real-logs"
PASTES = sorted(REAL.glob("*.txt")) + sorted((REAL / "msdocs").glob("*.txt")) + sorted((REAL / "analyze").glob("*.txt"))
_spec = importlib.util.spec_from_file_location("wdftriage_text_ingest", ROOT / "bench" / "text_ingest.py")
text_ingest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(text_ingest)


def _line_by_line(monkeypatch, read, *args):
    """``read(*args)`` on the message path: every bulk bucket rejected, every line read one by one."""
    with monkeypatch.context() as patch:
        patch.setattr(logtext, "_ROUTED_KEY", re.compile(b""))
        patch.setattr(logtext, "_routed", lambda text: True)
        return read(*args)


def _assert_same(monkeypatch, read, text: str, name: str, typed_in_bulk: bool = True) -> None:
    reference = _line_by_line(monkeypatch, read, text, name)
    columnar = read(text, name)
    assert isinstance(columnar.messages, TextMessages)
    assert not reference.messages.typed  # the reference holds TraceMessages only
    assert bool(columnar.messages.typed) == typed_in_bulk
    assert columnar.logs == reference.logs
    assert [str(w) for w in columnar.warnings] == [str(w) for w in reference.warnings]
    assert_same_table(EventTable.from_messages([(name, list(reference.messages))]),
                       EventTable.from_messages([(name, columnar.messages)]))
    assert columnar.messages == list(reference.messages)


def _read(path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("path", PASTES, ids=lambda p: p.name)
def test_every_paste_gives_the_message_paths_table(path, monkeypatch):
    text = _read(path)
    try:
        reference = read_log_text(text, path.name)
    except EvidenceError:
        pytest.skip("not read on either path")
    _assert_same(monkeypatch, read_log_text, text, path.name, typed_in_bulk=bool(reference.messages.typed))
    try:
        _assert_same(monkeypatch, read_report_text, text, path.name, typed_in_bulk=bool(reference.messages.typed))
    except EvidenceError:
        with pytest.raises(EvidenceError):
            _line_by_line(monkeypatch, read_report_text, text, path.name)


def test_every_paste_at_once_repeated_gives_the_message_paths_table(monkeypatch):
    """Most lines of the 2nd and 3rd copies are typed in bulk, among every kind of line read one by one."""
    text = "\n".join([_read(p) for p in PASTES] * 3)
    _assert_same(monkeypatch, read_report_text, text, "all.txt")


@pytest.mark.parametrize("framework_only", [False, True], ids=["as-pasted", "framework-only"])
def test_the_bench_pastes_give_the_message_paths_table(framework_only, monkeypatch):
    _assert_same(monkeypatch, read_report_text, text_ingest.build_paste(30_000, framework_only), "bench.txt")


@settings(max_examples=30, derandomize=True, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(POOL) - 1), min_size=1, max_size=400), st.integers(1, 50))
def test_any_mix_of_lines_gives_the_message_paths_table(picks, block):
    """Small blocks: many typed parts per shape, lines of one id read one by one and in bulk, tagged UMDF lines,
    logs named and prefixes declared between them, look-alike lines."""
    text = "\n".join(POOL[i] for i in picks)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logtext, "_BLOCK", block)
        _assert_same(patch, read_log_text, text, "mix.txt", typed_in_bulk=bool(read_log_text(text, "mix.txt").messages.typed))


def test_many_pastes_in_one_table():
    """Pastes of a table are read as columns together (rows, sources and catalog ids of each kept apart)."""
    inputs = [(p.name, read_log_text(_read(p), p.name).messages) for p in PASTES[:6]] * 2
    reference = [(name, list(messages)) for name, messages in inputs]
    assert_same_table(EventTable.from_messages(reference), EventTable.from_messages(inputs))


def test_the_table_builds_no_typed_message_until_one_is_read():
    """Framework lines typed in bulk are built only when read (record lines of a driver's own messages read in
    bulk are built for their text: the event table keeps the text of a message that is not the framework's)."""
    messages = read_report_text(text_ingest.build_paste(3_000, True), "bench.txt").messages
    table = EventTable.from_messages([("bench.txt", messages)])
    singles = {id(m) for m in messages.singles}
    untyped = {i for i, m in enumerate(messages._items) if m is not None and m.catalog_id is None}
    assert untyped - {i for i, m in enumerate(messages._items) if id(m) in singles}  # some read in bulk
    assert len(messages.typed) > 1 and all(m is None or id(m) in singles or m.catalog_id is None
                                           for m in messages._items)
    row = next(i for i, m in enumerate(messages._items) if m is None and i > messages.BLOCK)
    text = table.text(row)
    start = row - row % messages.BLOCK
    built = {i for i, m in enumerate(messages._items) if m is not None and id(m) not in singles} - untyped
    assert built and built <= set(range(start, start + messages.BLOCK)) and text == messages[row].text


@pytest.mark.parametrize("block", [7, 64, 1 << 16])
def test_a_wrapped_record_among_driver_lines_read_in_bulk_is_joined(block, monkeypatch):
    """A record cut by a mail wrap looks like a driver's own message: lines of its shape are read in bulk, yet the
    one followed by its continuation is joined with it (as reading line by line does), in a block or across two."""
    cut = "{}: FxPkgPnp::PowerPolicyEnterNewState - WDFDEVICE 0x{:016X} !devobj 0x{:016X} entering power policy state"
    driver = "{}: MyDriverEvtIoRead - read request 0x{:016X} of {} bytes"
    lines = []
    for n in range(60):
        lines += [cut.format(2 * n, 0x5000 + n, 0xFFFF0000 + n), driver.format(2 * n + 1, 0x7000 + n, n)]
        if n % 9 == 4:
            lines += [cut.format(1000 + n, 0x9000, 0xFFFF9000), "WdfDevStatePwrPolStarting from WdfDevStatePwrPolStopped"]
    text = "kd> !wdflogdump mydriver\n" + "\n".join(lines)
    monkeypatch.setattr(logtext, "_BLOCK", block)
    _assert_same(monkeypatch, read_report_text, text, "wrapped.txt")
    joined = [m for m in read_report_text(text, "wrapped.txt").messages if m.text.endswith("WdfDevStatePwrPolStopped")]
    assert len(joined) == 7 and all(m.catalog_id for m in joined)
