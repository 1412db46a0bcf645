"""Pasted text read in blocks: lines whose shape is already known are typed many at a time. The result must be
that of reading every line in order, which the reader itself falls back to when a shape's lines do not all
match; the reference here is that fallback, forced (every bulk line counts as possibly routed elsewhere)."""
from __future__ import annotations

import re
from dataclasses import astuple
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import parsers.logtext as logtext
from parsers.errors import EvidenceError
from parsers.logtext import read_log_text, read_report_text

REAL = Path(__file__).parent / "data" / "real-logs"
PASTES = sorted(REAL.glob("*.txt")) + sorted((REAL / "msdocs").glob("*.txt")) + sorted((REAL / "analyze").glob("*.txt"))


FIELDS = ("ref", "text", "log", "sequence", "timestamp", "function", "catalog_id", "args", "level", "known", "inferred",
          "general", "pointers")


def _everything(logset) -> tuple:
    return ([tuple(getattr(m, name) for name in FIELDS) for m in logset.messages], logset.logs,
            [str(w) for w in logset.warnings], astuple(logset.bugcheck) if logset.bugcheck else None)


def _line_by_line(monkeypatch, read, *args):
    """``read(*args)`` with every bulk bucket rejected: every window is read again line by line."""
    with monkeypatch.context() as patch:
        patch.setattr(logtext, "_ROUTED_KEY", re.compile(b""))  # every key suspect ...
        patch.setattr(logtext, "_routed", lambda text: True)  # ... and found routed: no line is typed in bulk
        return read(*args)


@pytest.fixture(scope="module")
def pastes() -> str:
    """Every real paste, three times over: most lines of the 2nd and 3rd copies have a known shape."""
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in PASTES)
    return "\n".join([text] * 3)


def test_bulk_typing_equals_reading_line_by_line(pastes, monkeypatch):
    bulk = read_report_text(pastes, "all.txt")
    once = read_report_text(pastes[:len(pastes) // 3], "once.txt")
    assert sum(m.catalog_id is not None for m in bulk.messages) == 3 * sum(m.catalog_id is not None for m in once.messages) > 200
    assert _everything(bulk) == _everything(_line_by_line(monkeypatch, read_report_text, pastes, "all.txt"))


def test_bulk_typing_from_a_stream_equals_a_string(pastes, monkeypatch):
    """Blocks of a stream of lines (a file read line by line) end anywhere: same result as the whole text."""
    monkeypatch.setattr(logtext, "_BLOCK", 97)
    lines = pastes.splitlines(keepends=True)
    assert _everything(read_log_text(iter(lines), "all.txt")) == _everything(read_log_text(pastes, "all.txt"))


def test_a_line_sharing_a_framework_lines_key_is_read_for_what_it_is(monkeypatch):
    """Same key (the text without hex digits), another text: ``WDFDEVICB`` differs from ``WDFDEVICE`` only
    in a hex letter. The bulk path must not type it as the framework message it resembles."""
    framework = ("{n}: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x00001F7F2E8B7FD8 !devobj 0xFFFFE0817D4D4030 "
                 "entering PnP State WdfDevStatePnpInit from WdfDevStatePnpObjectCreated")
    lines = [framework.format(n=n) for n in range(1, 6)]
    lines.insert(3, lines[2].replace("WDFDEVICE", "WDFDEVICB").replace(": 3:", ": 33:"))
    text = "\n".join(lines * 2)
    logset = read_log_text(text, "paste.txt")
    typed = [m.catalog_id is not None for m in logset.messages]
    assert typed == [True, True, True, False, True, True] * 2
    assert _everything(logset) == _everything(_line_by_line(monkeypatch, read_log_text, text, "paste.txt"))


def test_logs_named_between_framework_lines_keep_their_names():
    """A log name changes between lines of one shape: each line keeps the log it was printed under."""
    line = ("{n}: FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x00003FFF8E8C2F68 on WDFQUEUE 0x00003FFF8B6DA5C8")
    text = "\n".join(["kd> !wdflogdump first.sys"] + [line.format(n=n) for n in range(1, 4)] +
                     ["kd> !wdflogdump second.sys"] + [line.format(n=n) for n in range(1, 4)])
    messages = [m for m in read_log_text(text, "paste.txt").messages if m.catalog_id]
    assert [m.log for m in messages] == ["first.sys"] * 3 + ["second.sys"] * 3


def test_umdf_origin_tags_in_bulk(monkeypatch):
    """UMDF merged logs tag each line ``FX - `` or ``DRV - ``: lines typed in bulk keep the side in their log
    name, and a line whose key looks tagged but is not (``AX`` for ``FX``) is read for what it is."""
    framework = ("FX  - {n}: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x00001F7F2E8B7FD8 !devobj 0xFFFFE0817D4D4030 "
                 "entering PnP State WdfDevStatePnpInit from WdfDevStatePnpObjectCreated")
    driver = "DRV - {n}: MyDriver::EvtDeviceAdd - created device 0x{n:x}"
    lines = ["kd> !wdflogdump MyDriver"]
    for n in range(1, 5):
        lines += [framework.format(n=n), driver.format(n=n)]
    lines.insert(5, framework.format(n=9).replace("FX ", "AX "))
    text = "\n".join(lines * 2)
    logset = read_log_text(text, "umdf.txt")
    logs = {m.ref.line: m.log for m in logset.messages if m.catalog_id}
    tagged = [n for n, line in enumerate(text.split("\n"), 1) if line.startswith("FX ")]
    assert len(tagged) == 8 and all(logs[n] == "MyDriver (framework)" for n in tagged)
    assert logs[6] == logs[len(lines) + 6] == "MyDriver"  # the AX line: a framework message, but in no tagged log
    assert _everything(logset) == _everything(_line_by_line(monkeypatch, read_log_text, text, "umdf.txt"))


def _pool() -> list[str]:
    """Lines people paste, of every way through the reader: framework lines (and look-alikes differing only in a
    hex letter), driver records, UMDF tags, prompts naming logs, prefix declarations, log markers, !analyze
    lines, wrapped records, blank lines."""
    real = [line for p in PASTES[:6] for line in p.read_text(encoding="utf-8", errors="replace").splitlines()[:60]]
    framework = [line for line in real if " - WDF" in line][:12]
    return real[:80] + framework + [line.replace("WDFDEVICE", "WDFDEVICB") for line in framework[:3]] + \
        ["FX  - " + line for line in framework[:4]] + ["DRV - 12: MyDriver::Evt - created 0x1f", "AX  - " + framework[0],
         "kd> !wdflogdump other.sys", "There are 4 log entries for third.sys", "Trace format prefix is: %7!u!: %!FUNC! - ",
         "--- start of log ---", "---- end of log ----", "Arg1: 0000000000000003, A device object has been blocking",
         "BugCheck 9F, {3, ffffe000aaaa0000, fffff80000000000, ffffe000bbbb0000}", "", "   continued text"]


POOL = _pool()


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(POOL) - 1), min_size=1, max_size=400), st.integers(1, 50))
def test_any_mix_of_lines_reads_the_same_in_bulk_and_line_by_line(picks, block):
    text = "\n".join(POOL[i] for i in picks)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logtext, "_BLOCK", block)
        bulk = _everything(read_report_text_or_none(text))
        patch.setattr(logtext, "_ROUTED_KEY", re.compile(b""))
        patch.setattr(logtext, "_routed", lambda text: True)
        assert bulk == _everything(read_report_text_or_none(text))


def read_report_text_or_none(text: str):
    """read_report_text, or the messages of read_log_text when the text is neither a log nor !analyze."""
    try:
        return read_report_text(text, "mix.txt")
    except EvidenceError:
        return read_log_text(text, "mix.txt")


def test_a_plain_line_does_not_teach_its_shape_to_lines_taking_another_way(monkeypatch):
    """``AX  - `` is no origin tag, so that line is a plain framework line; ``FX  - `` lines share its key (A and F
    are hex digits) but are UMDF framework lines: they must keep their tagged log name, not be typed as the
    plain line was."""
    line = ("{tag}  - {n}: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x00001F7F2E8B7FD8 !devobj 0xFFFFE0817D4D4030 "
            "entering PnP State WdfDevStatePnpInit from WdfDevStatePnpObjectCreated")
    text = "\n".join([line.format(tag="AX", n=1)] + [line.format(tag="FX", n=n) for n in range(2, 6)])
    logset = read_log_text(text, "umdf.txt")
    assert [m.log for m in logset.messages] == [""] + ["umdf (framework)"] * 4
    assert _everything(logset) == _everything(_line_by_line(monkeypatch, read_log_text, text, "umdf.txt"))


def test_the_first_time_out_of_range_is_the_first_in_the_text(monkeypatch):
    """Bulk lines are typed after the block's other lines: the warning still names the paste's first line
    whose time is out of range (line 3, of a shape learned in the first block), not the first one checked."""
    monkeypatch.setattr(logtext, "_BLOCK", 2)
    queued = ("{n}: {when} FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x00003FFF8E8C2F68 on WDFQUEUE "
              "0x00003FFF8B6DA5C8")
    state = ("{n}: {when} FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x00001F7F2E8B7FD8 !devobj 0xFFFFE0817D4D4030 "
             "entering PnP State WdfDevStatePnpInit from WdfDevStatePnpObjectCreated")
    now, old = "12/01/2026-10:00:00.000", "01/01/1601-00:00:00.000"
    text = "\n".join([queued.format(n=1, when=now), "", queued.format(n=3, when=old), state.format(n=4, when=old)])
    [warning] = read_log_text(text, "old.txt").warnings
    assert "2 record time(s) outside" in str(warning) and warning.line == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 19), st.integers(0, 39), st.integers(0, 9999), st.integers(0, 29),
                          st.integers(0, 69), st.integers(0, 69), st.integers(0, 9_999_999)), min_size=1, max_size=50))
def test_wdfkd_times_converted_together_are_the_times_read_one_by_one(fields):
    """The record times of lines typed in bulk (numpy, all at once) are what reading each time alone gives: leap
    years, days past a month's end, hour 24, second 60, year 0 (unknown), times outside the timeline's range."""
    printed = ["{:02d}/{:02d}/{:04d}-{:02d}:{:02d}:{:02d}.{:07d}".format(*f) for f in fields]
    microseconds, valid = logtext._wdfkd_times(printed)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for text, us, ok in zip(printed, microseconds.tolist(), valid.tolist()):
        one = logtext._time(text)
        assert ok == (one is not None), text
        if one is not None:
            assert us == (one - epoch) // timedelta(microseconds=1), text
    assert logtext._wdfkd_times(printed + ["2024/07/11-19:49:33.512"]) == (None, None)  # another form: one by one


@pytest.mark.parametrize("source, blanks", [
    (r"\s*(?P<sequence>-?\d+):\s*(?P<function>\w+)\s*\-\s*", [r"\s*", r"\s*", r"\s*", r"\s*"]),
    (r"WDFDEVICE +0x((?:0x)?[0-9A-Fa-f`]{1,17}|NULL) +entering +state", [" +", " +", " +"]),
    (r"a(?: +b|\s*c)\s+d", [r"\s+"]),  # blanks inside a group are not the key's own
    (r"[ +\s*] +x\s*?y \s{2}", [" +"]),  # inside a class, quantified again, or counted: not pinned
    (r"\\s*x[]\s*] +y", [" +"]),  # an escaped backslash, a class starting with ]
])
def test_the_blanks_pinned_to_a_keys_text_are_those_outside_groups_and_classes(source, blanks):
    assert [source[a:b] for a, b in logtext._blank_spans(source)] == blanks
