"""Trace prefixes: every framework line of every real log in tests/data, re-rendered under other trace message
prefixes (the grammar of tracefmt's TRACE_FORMAT_PREFIX, which wdfkd and rcdrkd use too), is typed the same as
the original, whether the paste declares the prefix (``Trace format prefix is: ...``) or not."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from parsers.catalog import load
from parsers.logtext import read_log_text, read_report_text
from parsers.prefix import compile_prefix, declared_prefix

REAL = Path(__file__).parent / "data" / "real-logs"
INPUTS = sorted(REAL.rglob("*.txt"))
PREFIXES = {
    "wdfkd default": "%7!u!: %!FUNC! - ",
    "tracefmt default": "[%9!d!]%8!04X!.%3!04X!::%4!s! [%1!s!]",
    "custom (usbip-win2 #34)": "[%9]%3!04x! %!LEVEL! %!FUNC!:",
    "CPU and thread ids": "%9!d!.%3!04X!: ",
    "timestamps only": "%4!s! ",
    "none": "",
    "source line, function, pid.tid, time": "%2!s!: %!FUNC!: %8!04x!.%3!04x!: %4!s!: ",
}
_FIELD = re.compile(r"%(\d{1,2})(?:!([^!]*)!)?|%!(\w+)!")
_BASE = datetime(2024, 7, 11, 19, 49, 33, tzinfo=timezone.utc)


def _framework_lines():
    catalog = load()
    lines = []
    for path in INPUTS:
        for m in read_log_text(path.read_text(encoding="utf-8", errors="replace"), str(path)).messages:
            if m.catalog_id:
                lines.append((m, catalog.entry(m.catalog_id)))
    return lines


def render(prefix: str, index: int, message, entry) -> str:
    """A prefix as tracefmt renders it (FormatMessage: %N!printf format!, a bare %N is a string)."""
    when = message.timestamp or _BASE + timedelta(milliseconds=index)
    values = {1: "Wdf01000", 2: entry.id.replace(".", "_").replace(":", ""), 3: 0x1A3C + index % 5,
              4: when.strftime("%m/%d/%Y-%H:%M:%S.") + f"{when.microsecond:06d}0", 5: 10 * index, 6: 0,
              7: message.sequence if message.sequence is not None else index + 1, 8: 0x4, 9: index % 4}
    items = {"FUNC": message.function or entry.function or "", "LEVEL": entry.level, "FLAGS": entry.flag}

    def field(m: re.Match) -> str:
        number, fmt, item = m.groups()
        if item:
            return items[item]
        value = values[int(number)]
        return ("%" + fmt.replace("u", "d")) % value if fmt and fmt != "s" else str(value)

    return _FIELD.sub(field, prefix) + message.text


def test_prefix_declarations_are_read():
    assert declared_prefix("Trace format prefix is: %7!u!: %!FUNC! - ") == "%7!u!: %!FUNC! - "
    assert declared_prefix('SetTracePrefix: "[%9]%3!04x! %!LEVEL! %!FUNC!:"') == "[%9]%3!04x! %!LEVEL! %!FUNC!:"
    assert declared_prefix("!wdfkd.wdfsettraceprefix [%9]%3!04x! %!LEVEL! %!FUNC!:") == "[%9]%3!04x! %!LEVEL! %!FUNC!:"
    assert declared_prefix("0: kd> !rcdrsettraceprefix %7!u!: ") == "%7!u!: "
    assert declared_prefix("There are 94 log entries for ovpn-dco") is None
    assert re.match(compile_prefix("[%9]%3!04x! %!LEVEL! %!FUNC!:"), "[0]1a3c TRACE_LEVEL_ERROR FxIoQueue::Requeue:x")


def test_every_framework_line_is_typed_the_same_under_every_prefix():
    originals = _framework_lines()
    assert len(originals) >= 60
    table = [f"{'prefix':40} {'lines':>6} {'declared':>9} {'undeclared':>11}"]
    for label, prefix in PREFIXES.items():
        rendered = [render(prefix, i, m, e) for i, (m, e) in enumerate(originals)]
        counts = []
        for declared in (True, False):
            paste = ([f"Trace format prefix is: {prefix}"] if declared else []) + rendered
            typed = [m for m in read_log_text("\n".join(paste), "rendered.txt").messages if m.catalog_id]
            same = sum(_same(prefix, original, entry, again)
                       for (original, entry), again in zip(originals, typed)) if len(typed) == len(originals) else 0
            counts.append(same)
            assert same == len(originals), (label, declared, len(typed), [
                (o.text, a.text) for (o, _), a in zip(originals, typed) if not _same(prefix, o, _, a)][:3])
        table.append(f"{label:40} {len(originals):6} {counts[0]:9} {counts[1]:11}")
    print("\n" + "\n".join(table))


def _same(prefix: str, original, entry, again) -> bool:
    """Same framework message and arguments; same call site, sequence and time where the prefix carries them."""
    catalog = load()
    if catalog.entry(again.catalog_id).format != entry.format or again.args != original.args:
        return False
    if "%!FUNC!" in prefix and again.catalog_id != original.catalog_id:
        return False
    if "%7" in prefix and original.sequence is not None and again.sequence != original.sequence:
        return False
    return "%4" not in prefix or original.timestamp is None or again.timestamp == original.timestamp


@pytest.mark.parametrize("prefix", ["%7!u!: %!FUNC! - ", "[%9]%3!04x! %!LEVEL! %!FUNC!:"])
def test_declared_prefix_gives_sequence_function_and_time(prefix):
    line = ("WDFDEVICE 0x0000587CCCC6DB88 !devobj 0xFFFFA783333F8DF0 entering PnP State WdfDevStatePnpStarted "
            "from WdfDevStatePnpEnableInterfaces")
    rendered = _FIELD.sub(lambda m: {"7": "41", "9": "1", "3": "0a3c"}.get(m.group(1) or "", "")
                          if m.group(1) else {"FUNC": "FxPkgPnp::PnpEnterNewState", "LEVEL": "TRACE_LEVEL_INFORMATION"}[
                              m.group(3)], prefix) + line
    [message] = [m for m in read_log_text(f"Trace format prefix is: {prefix}\n{rendered}\n", "p.txt").messages
                 if m.catalog_id]
    assert message.function == "FxPkgPnp::PnpEnterNewState" and message.text == line
    assert message.sequence == (41 if "%7" in prefix else None)
    assert message.args[2:] == ("WdfDevStatePnpStarted", "WdfDevStatePnpEnableInterfaces")


def test_a_paste_of_custom_prefixed_lines_alone_is_a_log():
    """No marker, no declaration, no wdfkd record shape: the framework messages alone make it a log."""
    line = ("[1]0a3c TRACE_LEVEL_ERROR imp_WdfCollectionRemove:WDFOBJECT 0x6173B070 not in WDFCOLLECTION 0x5E297058, "
            "0xc0000225(STATUS_NOT_FOUND)")
    [message] = [m for m in read_report_text(line + "\n", "one.txt").messages if m.catalog_id]
    assert message.function == "imp_WdfCollectionRemove" and message.args[2] == 0xC0000225
