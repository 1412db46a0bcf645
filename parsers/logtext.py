"""Formatted framework logs as people paste them: ``!wdflogdump``, ``!wdfcrashdump``, ``!rcdrlogdump``,
tracefmt and TraceView output, wrapped in debugger noise, Markdown fences, CRLF and mail wrapping.

Every line is kept. A framework message is found in a line whatever trace prefix precedes it: the
prefix the paste declares (``Trace format prefix is:``, ``!wdfsettraceprefix``, ``!rcdrsettraceprefix``,
see :mod:`parsers.prefix`), the well-known ones, else anywhere in the line (:meth:`Catalog.locate`); the
prefix gives the sequence number, time and function. Lines of one key (the line with its hex digits removed)
have one shape (prefix fields and message: one compiled regular expression). Lines are read in blocks: a line
whose key is that of a framework line already read (or of a record line of a driver's own message) is put aside,
and the lines of each key are matched together (one ``findall`` of an expression made for the key, the arguments
read once per distinct message text) and kept as columns; the other lines are read one by one (see
:class:`_BlockReader`). The messages come back as :class:`TextMessages`, in line order: the event table is
filled from the columns, and a typed line's TraceMessage is built only when something reads it. Other record
lines (``1: ``, ``12 : `` sequence prefix, optional time and ``Class::Function - ``; tracefmt; TraceView
tabs) become untyped TraceMessages; a line that is not a record (debugger prompts and chatter, stacks,
fences) becomes a TraceMessage with ``level="debugger"`` and no catalog id. A record cut by a mail/issue
tracker line wrap is joined with its continuation when the joined text is a framework message. Logs are named after the driver
the debugger was asked about (``!wdflogdump foo``, ``There are N log entries for foo``, ``Driver: foo``);
UMDF merged logs tag lines ``FX  - `` (framework) and ``DRV - `` (driver).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate, chain, repeat
from operator import attrgetter, itemgetter
from typing import NamedTuple

import numpy as np

from parsers.analyze_text import AnalyzeReader
from parsers.catalog import Catalog, CatalogEntry, load
from parsers.columns import nullable_int64
from parsers.errors import EvidenceError
from parsers.gcpause import gc_paused
from parsers.numbers import int_or_none, parse_hex_bytes
from parsers.objecttext import ObjectViewReader
from parsers.prefix import FUNCTION, KNOWN, compile_prefix, declared_prefix, ends_with_function, infer_prefix, looks_like_prefix
from parsers.records import (DEBUGGER, GENERAL_MARK, INFERRED_MARK, NAT_NS, ArgColumns, Coded, LazyMessages,
                             LogSet, MessageColumns, SourceRef, TraceMessage)
from parsers.wpp import TIME_RANGE, TimeCheck, pointer_values

_ORIGIN = re.compile(r"^(FX|DRV|UMDF|KMDF)\s*-\s+")
_RECORD = re.compile(r"^\s*(\d+)\s*:\s+(?:(\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d+)\s+)?(?:([\w:~<>$]+)\s*-\s+|-\s+)?(.*)$")
_TRACEFMT = re.compile(r"^\s*\[(\d+)\]([0-9A-Fa-f]+)\.([0-9A-Fa-f]+)::(\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d+)\s+\[([^\]]*)\](.*)$")
_PROMPT = re.compile(r"^\s*(?:\d+:\s*)?kd>\s*(.*)$")
_LOGDUMP_CMD = re.compile(r"!(?:wdfkd\.|rcdrkd\.)?(?:wdflogdump|rcdrlogdump)\s+(\S+)", re.IGNORECASE)
_ORIGIN_STARTS = set("FDUK")
_LOG_NAME_STARTS = set("TDL")
_LOG_NAME = re.compile(r"^(?:There are \d+ log entries for (\S+)|Driver:\s*(\S+)|Log at \S+ for (\S+)|Log of (\S+) \(\w+ IFR\))")
_TIME = re.compile(r"(\d{1,4})/(\d\d)/(\d{1,4})-(\d\d):(\d\d):(\d\d)(?:\.(\d+))?")
_TRACE_LEVEL = re.compile(r"TRACE_LEVEL_[A-Z]{1,16}")
_UNKNOWN = re.compile(r"^\w+\(\s*\d+\): GUID=[0-9A-Fa-f-]+ \(No Format Information found\)\.\s*((?:[0-9A-Fa-f]{2}\s?)*)$")
_MAX_LINE = 64 * 1024
_MAX_SHAPES = 50_000  # distinct line shapes remembered (a log has a few hundred; this bounds hostile input)
_MAX_COMPILED = 4096  # compiled (prefix, message) expressions kept
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_MARKERS = ("Trace searchpath is:", "Trace format prefix is:", "TMF file used for formatting", "Gather log:",
            "--- start of log", "---- end of log", "Trying to extract TMF information", "!wdflogdump",
            "!wdfcrashdump", "!rcdrlogdump", "kd>", "!wdfkd.", "!rcdrkd.", "Wdf01000!", "WUDFx02000!")
_MARKER_PATTERN = re.compile(r"There are \d+ log entries|^Log at [0-9a-fA-Fx`]+", re.MULTILINE)
_HEAD = 200_000  # characters of a paste looked at to tell whether it is a log
_SHORT = 24  # a message with less literal text than this, alone on a line, is typed only inside a log
_NOT_HERE = object()  # shape_of: a framework message, but not accepted at this place of the paste
_LOG_START = ("--- start of log", "There are ")
_BLOCK = 1 << 14  # lines read together: lines whose shape is known are typed per shape, many at a time (more
#: lines a block cost more in cache misses than they save in calls)
_STRETCH = 256  # lines of a block looked up at once (again from the next line on after a declared prefix)
_BLOCK_CHARACTERS = 1 << 24  # ... and at most about this many characters (a block is held in memory twice)
#: A line whose key (the line without hex digits, see :meth:`_Reader.typed`) this does not find cannot take
#: another way through :meth:`_Reader.line` than a plain framework line, whatever its hex digits: no origin
#: tag, prompt (``kd>`` -> ``k>``), prefix declaration (``efix``/``EFIX`` -> ``ix``/``IX``), log start/end or
#: log name (``There are`` -> ``Thr r``, ``Driver:`` -> ``rivr:``, ``Log at``/``Log of``). Lines of other keys
#: are typed in bulk only after :func:`_routed` finds none of these in them.
_ROUTED_KEY = re.compile(rb"k>|ix|IX|^\s*(?:X\s*-|RV|UM|KM|---|Thr r|rivr:|Log t|Log o)")
_ROUTED_START = re.compile(r"\n(?:(?:FX|DRV|UMDF|KMDF)\s*-|--- start of log|There are |---- end of log|"
                           r"[^\S\n]*(?:There are|Driver:|Log at|Log of))")  # at a line's start (after a newline)
_SMALL_DECIMALS = re.compile(r"[0-9]{1,9}(?:\n[0-9]{1,9})*")  # record numbers that always fit a ULONG
_LOG_END = ("---- end of log",)
_MARKS = (GENERAL_MARK, INFERRED_MARK)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NO_TIMES = np.zeros(0, dtype=np.int64)
_TIME_RANGE_US = tuple((t - _EPOCH) // timedelta(microseconds=1) for t in TIME_RANGE)


def _routed(text: str) -> bool:
    """Whether a line of ``text`` (lines joined by newlines) may take another way through :meth:`_Reader.line` than a
    framework line (see :data:`_ROUTED_KEY`): plain substring searches, then one expression with a literal start."""
    return "kd>" in text or "efix" in text or "EFIX" in text or _ROUTED_START.search("\n" + text) is not None


def _time(text: str | None) -> datetime | None:
    """``MM/DD/YYYY-HH:MM:SS.fffffff`` or ``YYYY/MM/DD-HH:MM:SS.fff`` as a UTC datetime."""
    m = _TIME.fullmatch(text) if text else None
    if not m:
        return None
    a, b, c, hh, mm, ss, frac = m.groups()
    year, month, day = (int(a), int(b), int(c)) if len(a) == 4 else (int(c), int(a), int(b))
    try:
        return datetime(year, month, day, int(hh), int(mm), int(ss), int((frac or "0")[:6].ljust(6, "0")),
                        tzinfo=timezone.utc)
    except ValueError:
        return None


_TIME_FORM = np.frombuffer(b"00/00/0000-00:00:00.0000000\n", dtype=np.uint8)  # a wdfkd time and its line break
_TIME_DIGITS = np.flatnonzero(_TIME_FORM == ord("0"))
_TIME_MARKS = np.flatnonzero(_TIME_FORM != ord("0"))
_FEW_TIMES = 16  # fewer times than this are converted one by one (numpy's cost per call is higher)
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _wdfkd_times(printed: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(microseconds since 1970, valid date and time) of times printed ``MM/DD/YYYY-HH:MM:SS.fffffff`` (what
    :func:`_time` gives, computed for all at once); (None, None) unless every one has that form."""
    joined = "\n".join(printed) + "\n"
    data = joined.encode("utf-8", "replace")
    if len(data) != len(_TIME_FORM) * len(printed):  # (another length, or a character that is not ASCII)
        return None, None
    chars = np.frombuffer(data, dtype=np.uint8).reshape(-1, len(_TIME_FORM))
    digits = chars - np.uint8(ord("0"))  # (a character below "0" wraps around to more than 9)
    if (digits[:, _TIME_DIGITS] > 9).any() or (chars[:, _TIME_MARKS] != _TIME_FORM[_TIME_MARKS]).any():
        return None, None

    def number(start: int, end: int) -> np.ndarray:
        return digits[:, start:end].astype(np.int64) @ 10 ** np.arange(end - start - 1, -1, -1)

    month, day, year = number(0, 2), number(3, 5), number(6, 10)
    hour, minute, second, microsecond = number(11, 13), number(14, 16), number(17, 19), number(20, 26)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days) & (hour < 24) & \
        (minute < 60) & (second < 60)
    y = year - (month <= 2)  # days since 1970 of a proleptic Gregorian date, years starting in March
    era = np.floor_divide(y, 400)
    of_era = y - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + day_of_year - 719468
    return (((days * 24 + hour) * 60 + minute) * 60 + second) * 1_000_000 + microsecond, valid


def _sequences(printed) -> np.ndarray:
    """Record numbers (ULONGs) from their printed forms, -1 where a form is not one (unknown)."""
    joined = "\n".join(printed)
    if _SMALL_DECIMALS.fullmatch(joined):
        return np.fromstring(joined, dtype=np.int64, sep="\n").reshape(-1)
    return np.array([-1 if n is None else n for n in (int_or_none(text, bits=32) for text in printed)],
                    dtype=np.int64).reshape(-1)


def _side(origin: re.Match) -> str:
    """The side a UMDF origin tag names: ``FX``/``UMDF``/``KMDF`` the framework, ``DRV`` the driver."""
    return "framework" if origin.group(1) in ("FX", "UMDF", "KMDF") else "driver"


def _tagged(log: str, side: str) -> str:
    """The log name of a line tagged with a UMDF origin."""
    return f"{log or 'umdf'} ({side})"


_NO_TAG = "\n\0"  # stands for a line that lacks the origin tag its key promised (no line holds a newline)


def _untagged(lines: list[str], side: str) -> list[str]:
    """``lines`` without their origin tag of ``side``; :data:`_NO_TAG` for a line with no such tag."""
    out = []
    for line in lines:
        origin = _ORIGIN.match(line)
        out.append(line[origin.end():] if origin and _side(origin) == side else _NO_TAG)
    return out


def looks_like_log_text(text: str) -> bool:
    """True when the text holds formatted WDF log records or wdfkd/rcdrkd output."""
    head = text[:_HEAD]
    if any(marker in head for marker in _MARKERS) or _MARKER_PATTERN.search(head):
        return True
    lines = head.splitlines()[:2000]
    records = sum(1 for line in lines if _RECORD.match(_ORIGIN.sub("", line)))
    traceview = sum(1 for line in lines if line.count("\t") >= 6 and _time(line.split("\t")[4].strip()))
    return records >= 3 or traceview >= 1 or bool(re.search(r"WDFDEVICE 0x[0-9A-Fa-f]+ !devobj", head))


def _prompt_command(line: str) -> str | None:
    """What was typed at a ``kd>`` prompt on this line; None when the line is no prompt."""
    prompt = _PROMPT.match(line) if "kd>" in line else None
    return None if prompt is None else prompt.group(1)


_DIAGNOSTIC = re.compile(r"warning|error|unable|could not|cannot|not available|failed|not found", re.IGNORECASE)
_QUOTED = 2  # debugger lines quoted from a log dump that printed no records
_QUOTE_WIDTH = 160


def _silent_logdump(head: list[str]) -> str:
    """A clause for the 'nothing recognized' error of a paste whose log dump command (``!wdflogdump``,
    ``!rcdrlogdump``) printed no records: the command, what the debugger warned after it (at most two lines) and
    where else the log may be; "" when the paste holds no such command."""
    command, quoted = None, []
    for line in head:
        typed_command = _prompt_command(line)
        if typed_command is not None:
            found = _LOGDUMP_CMD.search(typed_command)
            if found is not None and command is None:
                command = found.group(0)
            elif command is not None:
                break  # the next command: only what the log dump printed is quoted
        elif command is not None and len(quoted) < _QUOTED and _DIAGNOSTIC.search(line):
            text = " ".join(line.split())
            quoted.append(f'"{text[:_QUOTE_WIDTH]}{"..." if len(text) > _QUOTE_WIDTH else ""}"')
    if command is None:
        return ""
    said = f" (the debugger: {'; '.join(quoted)})" if quoted else ""
    return (f"; its {command} printed no log records{said}; a crash dump may hold the framework's own copy of the "
            f"log: wdftriage triage DUMP reads it without the driver's image or symbols")


@lru_cache(maxsize=256)
def _compiled(prefix: str) -> re.Pattern:
    return re.compile(compile_prefix(prefix))


class _Layout(NamedTuple):
    """An expression over framework lines of one shape and where its groups put each field (indices in a row of
    groups; -1: not there; ``body``: the message text). ``pinned``: the function every line of it has (the
    prefix's function group replaced by that text); ``exact``: made for the lines of one sample's function and
    prefix blanks (a faster expression; others do not match it). The message text is the rest of the line: it is
    checked against the message's expression once per distinct text."""

    rx: re.Pattern
    sequence: int
    time: int
    function: int
    log: int
    body: int
    pinned: str | None = None
    exact: bool = False

    @classmethod
    def of(cls, rx: re.Pattern, body: int, pinned: str | None = None, exact: bool = False) -> "_Layout":
        groups = rx.groupindex
        return cls(rx, groups.get("sequence", 0) - 1, groups.get("time", 0) - 1, groups.get("function", 0) - 1,
                   groups.get("log", 0) - 1, body, pinned, exact)

    def rows(self, joined: str, count: int) -> list[tuple] | None:
        """The groups of each of ``count`` lines joined by newlines, in one ``findall``; None unless each line
        matches whole (a line of the same shape key that is another message, or of another function)."""
        found = self.rx.findall(joined)
        if len(found) != count:
            return None
        return [(row,) for row in found] if self.rx.groups == 1 else found


_FUNCTION_GROUP = f"(?P<function>{FUNCTION})"
_MAX_PINNED = 4  # exact layouts (and probes) per shape: lines of a shape have a few functions and blanks at most


def _blank_spans(source: str) -> list[tuple[int, int]]:
    """Where a pattern source has a blank construct (`` +``, ``\\s*``, ``\\s+``, not quantified again) outside any
    group and character class: what it matches in a line is the same in every line of one key (blanks are no hex
    digits)."""
    spans, depth, i = [], 0, 0
    while i < len(source):
        c = source[i]
        size = 3 if source.startswith((r"\s*", r"\s+"), i) else 2 if source.startswith(" +", i) else 0
        if size and depth == 0 and source[i + size:i + size + 1] not in ("?", "*", "+", "{"):
            spans.append((i, i + size))
            i += size
        elif c == "\\":
            i += 2
        elif c == "[":
            i += 2 if source.startswith(("[^]", "[]"), i) else 1
            while i < len(source) and source[i] != "]":
                i += 2 if source[i] == "\\" else 1
            i += 1
        else:
            depth += (c == "(") - (c == ")")
            i += 1
    return spans


class _Probe(NamedTuple):
    """The blanks of a layout's prefix source made groups, to read what they match in a sample line (whose message
    text the body source matches)."""

    rx: re.Pattern
    prefix: str
    blanks: list[tuple[int, int]]

    @classmethod
    def of(cls, prefix: str, body: str) -> "_Probe":
        blanks = _blank_spans(prefix)
        return cls(re.compile(f"{_marked(prefix, blanks, 'p')}(?:{body})", re.DOTALL), prefix, blanks)

    def pinned(self, sample: str) -> str | None:
        """The prefix source with each blank construct replaced by what it matches in ``sample``."""
        m = self.rx.fullmatch(sample)
        if m is None:
            return None
        return _replaced(self.prefix, self.blanks, [m.group(f"_p{k}") for k in range(len(self.blanks))])


def _marked(source: str, spans: list[tuple[int, int]], mark: str) -> str:
    """``source`` with each span made a named group (``_<mark><k>``)."""
    return _replaced(source, spans, [f"(?P<_{mark}{k}>{source[a:b]})" for k, (a, b) in enumerate(spans)], escape=False)


def _replaced(source: str, spans: list[tuple[int, int]], texts: list[str], escape: bool = True) -> str:
    """``source`` with each span replaced by its text (escaped as a literal unless told)."""
    out, at = [], 0
    for (a, b), text in zip(spans, texts):
        out += [source[at:a], re.escape(text) if escape else text]
        at = b
    return "".join(out + [source[at:]])


@dataclass(slots=True, eq=False)
class _Shape:
    """How to read every line of one shape: prefix fields and the framework message, in one expression
    (``rx``, for one line; :meth:`layout` for many lines at once)."""

    rx: re.Pattern
    entry: CatalogEntry | None  # None: a record holding no framework message (:data:`_RECORDS`)
    prefix: str  # the source of the prefix expression
    body: str  # the source of the message expression, without its argument groups
    arguments: re.Pattern  # the message expression alone, a group per argument
    multi_site: bool = False  # the format is logged at several call sites: the function picks one
    routed_check: bool = False  # lines of this shape in bulk must be checked for another way through the reader
    origin: str | None = None  # lines of this shape in bulk carry a UMDF origin tag of this side (framework/driver)
    variants: dict | None = None  # (routed_check, origin) -> the copy of this shape with them
    layouts: dict | None = None  # (function, prefix) pinned (None: not pinned) -> the layout for lines in bulk
    probes: dict | None = None  # function -> the probe of the prefix with that function

    def variant(self, routed_check: bool, origin: str | None) -> "_Shape":
        """This shape for lines in bulk that may take another way through the reader (checked with
        :func:`_routed`) or that carry an origin tag (removed before matching)."""
        if not routed_check and origin is None:
            return self
        if self.variants is None:
            self.variants = {}
        key = (routed_check, origin)
        if key not in self.variants:
            self.variants[key] = replace(self, routed_check=routed_check, origin=origin, variants=None)
        return self.variants[key]

    def layout(self, sample: str | None = None) -> _Layout:
        """The expression for many lines of this shape joined by newlines: the prefix fields, and the rest of the
        line as the message text (checked and read once per distinct text, :meth:`_Reader.emit`); with a
        ``sample`` line, one for the lines of its key (its function and the prefix's blanks pinned: a faster
        expression) when there is room for it."""
        if self.layouts is None:
            self.layouts, self.probes = {}, {}
        m = self.rx.fullmatch(sample) if sample is not None and self.entry is not None else None
        if m is None:
            found = self.layouts.get(None)
            if found is None:
                found = self.layouts[None] = self._compiled(self.prefix + r"\s*", None, False)
            return found
        function = m.group("function") if "function" in self.rx.groupindex else None
        probe = self.probes.get(function)
        if probe is None:
            if len(self.probes) >= _MAX_PINNED:
                return self.layout()
            prefix = self.prefix if function is None else self.prefix.replace(_FUNCTION_GROUP, re.escape(function), 1)
            probe = self.probes[function] = _Probe.of(prefix + r"\s*", self.body)
        pinned = probe.pinned(sample)
        if pinned is None:
            return self.layout()
        found = self.layouts.get((function, pinned))
        if found is None:
            if len(self.layouts) >= _MAX_PINNED:
                return self.layout()
            found = self.layouts[(function, pinned)] = self._compiled(pinned, function, True)
        return found

    def _compiled(self, prefix: str, function: str | None, exact: bool) -> _Layout:
        rx = re.compile(f"^(?:{prefix}(.*))$", re.MULTILINE)
        return _Layout.of(rx, re.compile(prefix).groups, function, exact)


_COMPILED: dict[tuple[Catalog, str, str], _Shape] = {}  # (catalog, prefix expression, catalog id) -> its shape


class _Unknown(NamedTuple):
    """The catalog entry of a record holding no framework message (no id, no level)."""

    id: None = None
    level: None = None


_NO_ENTRY = _Unknown()
#: Record lines of a driver's own messages (:meth:`_Reader.plain`), read in bulk like framework lines: the groups of
#: :data:`_RECORD` (sequence, time, function, text) with no line break in a blank.
_RECORDS = _Shape(_RECORD, None, "", "", _RECORD, layouts={
    None: _Layout(re.compile(_RECORD.pattern.replace(r"\s", r"[^\S\n]"), re.MULTILINE), 0, 1, 2, -1, 3)})


class _TypedLines(NamedTuple):
    """Framework lines of one shape typed together, as columns: what a TraceMessage per line would hold
    (``entries``: the catalog entry of each line; ``args``: :class:`ArgColumns`, or a tuple per line)."""

    source: str
    lines: list[int]
    bodies: Coded  # the message texts
    logs: list[str]
    sequences: np.ndarray  # int64, -1 where unknown
    times: np.ndarray  # int64 nanoseconds since 1970 UTC, NAT_NS where unknown
    functions: list[str | None]
    entries: list[CatalogEntry]
    args: ArgColumns | list[tuple]

    def messages(self, indices: Iterable[int]) -> list[TraceMessage]:
        """The messages of the lines at ``indices``, as the reader made them line by line."""
        columns = self.args if isinstance(self.args, ArgColumns) else None
        out = []
        for i in indices:
            sequence, entry, ns = int(self.sequences[i]), self.entries[i], int(self.times[i])
            sequence = None if sequence < 0 else sequence
            args = tuple([_cell(column, i) for column in columns]) if columns is not None else self.args[i]
            when = None if ns == NAT_NS else _EPOCH + timedelta(microseconds=ns // 1000)
            out.append(TraceMessage(SourceRef(self.source, self.lines[i], None, sequence), _cell(self.bodies, i), self.logs[i],
                                    sequence, when, self.functions[i], entry.id, args, entry.level))
        return out


class _Reader:
    def __init__(self, source: str, catalog: Catalog):
        self.source = source
        self.catalog = catalog
        self.messages: list[TraceMessage] = []
        self.log = ""
        self.logs: dict[str, dict] = {}
        self.warnings: list = []
        self.times = TimeCheck(source)
        self.prefixes = [_compiled(p) for p in KNOWN]
        self.caches: dict[str | None, dict[bytes, _Shape | None]] = {None: {}}  # line shapes per declared prefix
        self.shapes = self.caches[None]
        self.untyped: set[tuple[bytes, str | None]] = set()  # shapes of record bodies that are no framework message
        self.in_log = False  # inside a dumped log (after its start marker or a framework line)
        self.bulk_caches: dict[str | None, dict[bytes, _Shape]] = {None: {}}  # per declared prefix:
        self.bulk = self.bulk_caches[None]  # key of a whole line -> its shape, for lines typed in bulk
        self.not_bulk: set[bytes] = set()  # keys shared by lines that are not all the same message
        self.previous_typed = False  # the line before was a framework message (no wrapped record to rejoin)

    def add(self, line_no: int, text: str, **fields) -> None:
        self.messages.append(TraceMessage(SourceRef(self.source, line_no, None, fields.get("sequence")), text, **fields))

    def count(self, log: str, typed: bool, records: int = 1) -> None:
        """``records`` more records of ``log`` (typed or not)."""
        facts = self.logs.get(log)
        if facts is None:
            facts = self.logs[log] = {"kind": "text", "records": 0, "typed": 0}
        facts["records"] += records
        facts["typed"] += records if typed else 0

    def count_lines(self, logs: list[str], log: str | list[str], typed: bool) -> None:
        """Count the records of lines of these ``logs`` (one per line); ``log``, when a str, is every line's."""
        for name, n in (((log, len(logs)),) if isinstance(log, str) else Counter(logs).items()):
            self.count(name, typed, n)

    def declare(self, prefix: str) -> None:
        """A prefix declared in the paste: tried first on the lines that follow."""
        self.prefixes = [_compiled(p) for p in (prefix, *KNOWN)]
        if prefix not in self.caches and len(self.caches) > 64:
            self.caches.clear()
            self.bulk_caches.clear()
        self.shapes = self.caches.setdefault(prefix, {})
        self.bulk = self.bulk_caches.setdefault(prefix, {})

    def shape_of(self, text: str) -> _Shape | None:
        """The shape of a line holding a framework message (declared or known prefix, else found anywhere).
        Found anywhere, the text before it must look like a prefix (or end with a framework function); a
        short message alone on its line counts only inside a log (``_NOT_HERE`` otherwise: not remembered)."""
        for prefix in self.prefixes:
            m = prefix.match(text)
            if m:
                found = self.catalog.match_text(text[m.end():], m.groupdict().get("function"))
                if found:
                    return self.compile(prefix.pattern, found[0])
        located = self.catalog.locate(text)
        if not located:
            return None
        prefix, entry, functions = " ".join(text.split())[:located[0]], located[1], self.catalog.functions
        if not ends_with_function(prefix, functions):
            if prefix.strip() and not looks_like_prefix(prefix, functions):
                return None
            if not prefix.strip() and entry.literal_size < _SHORT and not self.in_log:
                return _NOT_HERE
        return self.compile(infer_prefix(prefix, functions), entry)

    def compile(self, prefix: str, entry: CatalogEntry) -> _Shape:
        """The shape for a prefix expression and a framework message (compiled once per pair and process: the
        readers of a batch share them)."""
        key = (self.catalog, prefix, entry.id)
        if key not in _COMPILED:
            if len(_COMPILED) >= _MAX_COMPILED:
                _COMPILED.clear()
            body = self.catalog.pattern_source(entry, " +")
            rx = re.compile(f"{prefix}\\s*(?P<body>{body})", re.DOTALL)
            _COMPILED[key] = _Shape(rx, entry, prefix, self.catalog.pattern_source(entry, " +", captured=False),
                                    re.compile(body, re.DOTALL), entry.skeleton in self.catalog.multi_site)
        return _COMPILED[key]

    def typed(self, line_no: int, text: str, log: str, key: bytes | None = None) -> _Shape | None:
        """Emit the line as a typed framework message if it holds one; the line's shape (None otherwise).
        ``key``: the text's key when the caller has it."""
        if key is None or text[-1:].isspace():
            text = text.rstrip()
            key = text.encode("utf-8", "replace").translate(None, _HEX_DIGITS)
        known = self.shapes.get(key, False)
        m = known.rx.fullmatch(text) if known else None
        shape = known
        if m is None and known is not None:
            shape = self.shape_of(text)
            if shape is _NOT_HERE:
                return None
            if len(self.shapes) >= _MAX_SHAPES:
                self.shapes.clear()
            if shape is not None or known is False:  # a line sharing a framework line's key: not forgotten
                self.shapes[key] = shape
            m = shape.rx.fullmatch(text) if shape else None
        if m is None:
            return None
        self.in_log = True
        self.messages.append(self.message(shape, m, line_no, log))
        return shape

    def message(self, shape: _Shape, m: re.Match, line_no: int, log: str) -> TraceMessage:
        """The typed message of one line from its match of ``shape.rx`` (what :meth:`emit` makes of many lines)."""
        fields = m.groupdict()
        sequence = int_or_none(fields["sequence"], bits=32) if "sequence" in fields else None
        when = self.times.checked(_time(fields.get("time")), line=line_no)
        function = fields.get("function") or None
        log = fields.get("log") or log
        entry = self.catalog.site(shape.entry, function) if shape.multi_site else shape.entry
        body = fields["body"]
        args = self.catalog.values(entry, shape.arguments.fullmatch(body).groups())
        self.count(log, True)
        return TraceMessage(SourceRef(self.source, line_no, None, sequence), body, log, sequence, when, function,
                            entry.id, args, entry.level)

    def emit(self, shape: _Shape, layout: _Layout, rows: list[tuple], line_nos: list[int],
             log: str | list[str]) -> _TypedLines | None:
        """The typed lines of one shape from their groups (``rows``, one tuple per line, as ``layout`` places
        them) and their log (one for all, or one per line), as columns; the arguments read once per distinct
        message text. None (nothing changed) when a text is not the shape's message."""
        count = len(rows)
        columns = _transposed(rows)
        bodies = _coded(columns[layout.body])
        matches = list(map(shape.arguments.fullmatch, bodies.values))
        if None in matches:  # another message sharing the key (it differs in hex digits only)
            return None
        printed = [m.groups() for m in matches]
        entry = shape.entry
        sequences = _sequences(columns[layout.sequence]) if layout.sequence >= 0 else np.full(count, -1)
        if layout.function >= 0:
            functions = [f or None for f in columns[layout.function]]
        else:
            functions = [layout.pinned] * count
        if layout.log >= 0:
            logs = [found or name for found, name in zip(columns[layout.log], repeat(log) if isinstance(log, str) else log)]
        else:
            logs = [log] * count if isinstance(log, str) else log
        times = self.time_column(columns[layout.time], line_nos) if layout.time >= 0 else np.full(count, NAT_NS)
        if shape.multi_site:
            sites = {f: self.catalog.site(entry, f) for f in set(functions)}
            entries = list(map(sites.__getitem__, functions))
        else:
            entries = [entry] * count
        if shape.multi_site and len({site.holes for site in sites.values()}) > 1:  # sites differ in argument types
            args = [self.catalog.values(site, printed[code]) for site, code in zip(entries, bodies.codes.tolist())]
        else:
            distinct = self.catalog.value_columns(entry, list(zip(*printed)) if entry.holes else [])
            args = ArgColumns([Coded(bodies.codes, column) for column in distinct])
        self.count_lines(logs, log if layout.log < 0 else logs, True)
        return _TypedLines(self.source, line_nos, bodies, logs, sequences, times, functions, entries, args)

    def emit_records(self, rows: list[tuple], line_nos: list[int], log: str | list[str]) -> _TypedLines | None:
        """Record lines of a driver's own messages from their groups (:data:`_RECORDS`), as columns; None unless
        each text is a plain one (:meth:`plain`, checked once per distinct text and function)."""
        count = len(rows)
        sequences, times, functions, bodies = _transposed(rows)
        bodies = _coded(list(map(str.strip, bodies)))
        functions = [f or None for f in functions]
        pairs = dict.fromkeys(zip(bodies.codes.tolist(), functions))
        if not all(self.plain(bodies.values[code], function) for code, function in pairs):
            return None
        logs = [log] * count if isinstance(log, str) else log
        self.count_lines(logs, log, False)
        return _TypedLines(self.source, line_nos, bodies, logs, _sequences(sequences), self.time_column(times, line_nos),
                           functions, [_NO_ENTRY] * count, ArgColumns())

    def time_column(self, printed: tuple[str, ...], line_nos: list[int]) -> np.ndarray:
        """The record times of typed lines (nanoseconds; NAT_NS where unknown or outside TIME_RANGE, see
        :class:`TimeCheck`): wdfkd's fixed-width form converted all at once (when there are enough lines for that
        to pay), any other form line by line."""
        microseconds, valid = _wdfkd_times(printed) if len(printed) >= _FEW_TIMES else (None, None)
        if microseconds is None:
            return _nanoseconds([self.times.checked(_time(t), line=n) for t, n in zip(printed, line_nos)])
        kept = valid & (microseconds >= _TIME_RANGE_US[0]) & (microseconds <= _TIME_RANGE_US[1])
        ns = np.where(kept, microseconds * 1000, NAT_NS)  # (a time outside the range may overflow: not kept)
        for k in np.flatnonzero(~kept).tolist():  # made unknown (and counted) as line by line
            ns[k] = _nanoseconds([self.times.checked(_time(printed[k]), line=line_nos[k])])[0]
        return ns

    def record(self, line_no: int, sequence: int | None, when: str | None, function: str | None, body: str,
               log: str, level: str | None = None) -> bool:
        """Emit a record line that holds no framework message in its whole; True when its text is a plain
        one (see :meth:`plain`). ``level``: the trace level the line printed (TraceView's column), kept for a
        driver's own message."""
        body = body.strip()
        inferred, general = False, False
        for mark in (GENERAL_MARK, INFERRED_MARK):  # wdftriage's own no-TMF output, pasted back
            if body.endswith(mark):
                body, inferred, general = body[:-len(mark)].rstrip(), True, mark == GENERAL_MARK
                break
        match = self.framework_message(body, function)
        unknown = None if match else _UNKNOWN.match(body)
        pointers = ()
        if unknown and unknown.group(1):  # wdftriage prints an unformatted record's raw argument bytes
            raw = parse_hex_bytes(unknown.group(1))
            pointers = tuple(dict.fromkeys(pointer_values(raw, 8) + pointer_values(raw, 4)))
        self.count(log, match is not None)
        self.add(line_no, body, log=log, sequence=sequence, timestamp=self.times.checked(_time(when), line=line_no),
                 function=function,
                 catalog_id=match[0].id if match else None, args=match[1] if match else (),
                 level=match[0].level if match else level, inferred=inferred and match is not None,
                 general=general and match is not None, known=unknown is None, pointers=pointers)
        return not inferred and match is None and unknown is None

    def framework_message(self, body: str, function: str | None) -> tuple | None:
        """The catalog's match of a record's text (None: a driver's own message, whose shape is then not looked
        up again)."""
        key = (body.encode("utf-8", "replace").translate(None, _HEX_DIGITS), function)
        match = None if key in self.untyped else self.catalog.match_text(body, function)
        if match is None and len(self.untyped) < _MAX_SHAPES:
            self.untyped.add(key)
        return match

    def plain(self, body: str, function: str | None) -> bool:
        """Whether a record's (stripped) text is read as it is: no wdftriage mark, no framework message, not an
        unformatted record's raw bytes."""
        return not body.endswith(_MARKS) and self.framework_message(body, function) is None and \
            _UNKNOWN.match(body) is None

    def learn(self, key: bytes, shape: "_Shape", side: str | None) -> None:
        """Lines of ``key`` are of ``shape`` from now on, to be read in bulk (:class:`_BlockReader`)."""
        if len(self.bulk) >= _MAX_SHAPES:
            self.bulk.clear()
        self.bulk[key] = shape.variant(side is not None or bool(_ROUTED_KEY.search(key)), side)

    def rejoin(self, continuation: str, previous_typed: bool) -> bool:
        """Join a wrapped continuation to the previous record when that makes a framework message."""
        if previous_typed or not self.messages or self.messages[-1].catalog_id or \
                self.messages[-1].level == DEBUGGER:
            return False
        last = self.messages[-1]
        for joined in (last.text + continuation.strip(), last.text + " " + continuation.strip()):
            match = self.catalog.match_text(joined, last.function)
            if match:
                self.messages[-1] = TraceMessage(ref=last.ref, text=joined, log=last.log, sequence=last.sequence,
                                                 timestamp=last.timestamp, function=last.function,
                                                 catalog_id=match[0].id, args=match[1], level=match[0].level)
                self.logs[last.log]["typed"] += 1
                return True
        return False

    def line(self, line_no: int, raw: str, key: bytes | None = None) -> bool:
        """Read one line; True when it was a framework message on its own line (so no !analyze text).
        ``key`` (the line without hex digits) lets a framework line teach its shape to the bulk path."""
        text = raw.rstrip("\r\n")
        previous_typed, self.previous_typed = self.previous_typed, False
        if len(text) != len(raw):  # the key was made of the line with its line break
            key = None
        if len(text) > _MAX_LINE:
            key = None
            self.warnings.append(f"{self.source} line {line_no}: line of {len(text)} characters cut to {_MAX_LINE}")
            text = text[:_MAX_LINE]
        origin = _ORIGIN.match(text) if text[:1] in _ORIGIN_STARTS else None
        log = self.log
        side = None
        if origin:
            text = text[origin.end():]
            side = _side(origin)
            log = _tagged(self.log, side)
        if text.startswith(_LOG_START) or text.startswith(_LOG_END):
            self.in_log = text.startswith(_LOG_START)
        typed_command = _prompt_command(text)
        if typed_command is not None:
            self.in_log = False
            command = _LOGDUMP_CMD.search(typed_command)
            if command:
                self.log = command.group(1)
            declared = declared_prefix(typed_command)
            if declared is not None:
                self.declare(declared)
            elif self.typed(line_no, text, log):  # output pasted onto the prompt line (newlines lost)
                return False
            self.add(line_no, text, level=DEBUGGER)
            return False
        if "efix" in text or "EFIX" in text:
            declared = declared_prefix(text)
            if declared is not None:
                self.declare(declared)
                self.add(line_no, text, level=DEBUGGER)
                return False
        named = _LOG_NAME.match(text.strip()) if text.lstrip()[:1] in _LOG_NAME_STARTS else None
        if named:
            self.log = next(g for g in named.groups() if g)
        elif (shape := self.typed(line_no, text, log, key if origin is None else None)) is not None:
            self.previous_typed = True
            if key is not None and key not in self.not_bulk:
                self.learn(key, shape, side)
            return True
        m = _RECORD.match(text)
        if m and not named:
            plain = self.record(line_no, int_or_none(m.group(1), bits=32), m.group(2), m.group(3), m.group(4), log)
            if plain and origin is None and key is not None and key not in self.not_bulk and \
                    self.shapes.get(key, False) is None:  # (a line of this key is no framework line, wherever it is)
                self.learn(key, _RECORDS, None)
            return False
        m = _TRACEFMT.match(text)
        if m:
            self.record(line_no, None, m.group(4), None, m.group(6), m.group(5) or log)
            return False
        cells = text.split("\t") if text.count("\t") >= 6 else ()
        if cells and _time(cells[4].strip()):
            level = cells[5].strip() if _TRACE_LEVEL.fullmatch(cells[5].strip()) else None
            self.record(line_no, None, cells[4].strip(), cells[1].strip() or None, cells[-1], cells[0].strip() or log,
                        level)
            return False
        if text.strip() and not text.startswith(("#", "[", "`")) and self.rejoin(text, previous_typed):
            return False
        self.add(line_no, text, log=log, level=DEBUGGER)
        return False


class _Checkpoint(NamedTuple):
    """What a window of lines can change, to read the window again line by line."""

    messages: int
    last: TraceMessage | None
    logs: dict
    warnings: int
    times: tuple
    state: tuple


class _LogChanges:
    """The log in force at each line of a block: the log at its start and the lines where another begins."""

    def __init__(self, log: str):
        self.starts: list[int] = [0]
        self.names: list[str] = [log]

    def change(self, line: int, log: str) -> None:
        if self.names[-1] != log:
            self.starts.append(line)
            self.names.append(log)

    def of(self, lines: list[int]) -> str | list[str]:
        """The log of each of ``lines`` (sorted), or the one log of them all."""
        if len(self.names) == 1 or lines[-1] < self.starts[1]:
            return self.names[0]
        at = bisect_right(self.starts, lines[0]) - 1
        if at == len(self.starts) - 1 or lines[-1] < self.starts[at + 1]:
            return self.names[at]
        return [self.names[bisect_right(self.starts, i) - 1] for i in lines]


class _BlockReader(_Reader):
    """:class:`_Reader` over blocks of lines: a line whose key (the line without hex digits) is that of a
    framework line already read is put aside with the other lines of its shape, and each shape's lines are
    matched and typed together (one ``findall`` and one conversion per distinct value); the other lines
    are read one by one in order. Should a shape's lines not all match, the window is read again line by
    line, so the result is always that of reading every line in order."""

    def __init__(self, source: str, catalog: Catalog, readers: tuple = ()):
        super().__init__(source, catalog)
        self.readers = readers  # readers of the other lines (``feed``): !analyze text, object views
        self.typed_lines: list[_TypedLines] = []  # framework lines typed in bulk (the others: ``messages``)

    def read(self, text: str | Iterable[str]) -> list[str]:
        """Read every line (see :func:`_blocks`); the first :data:`_HEAD` characters of the text (for
        :func:`looks_like_log_text`)."""
        head, size, first = [], 0, 1
        for block, keys in _blocks(text):
            self.window(block, keys, first)
            for line in block:
                if size >= _HEAD:
                    break
                head.append(line)
                size += len(line) + 1
            first += len(block)
        return head

    def window(self, block: list[str], keys: list[bytes], first: int) -> None:
        """Read a block: lines whose key is known put aside per shape, the others read in order."""
        saved = self.checkpoint()
        bulk, log = self.bulk, self.log
        shapes: list[_Shape | None] = []
        logs = _LogChanges(log)
        for_analyze: list[int] = []
        last = -1  # the last line read alone

        def alone(i: int) -> None:
            nonlocal last
            if not self.in_log and any(s is not None and s.entry is not None for s in shapes[last + 1:i]):
                self.in_log = True  # after framework lines typed in bulk
            if i and shapes[i - 1] is not None and shapes[i - 1].entry is not None:
                self.previous_typed = True
            if not self.line(first + i, block[i], keys[i]):
                for_analyze.append(i)
            last = i

        for start in range(0, len(keys), _STRETCH):
            end = min(start + _STRETCH, len(keys))
            shapes += map(bulk.get, keys[start:end])
            pending = [i for i in range(start, end) if shapes[i] is None] if None in shapes[start:end] else []
            at = 0
            while at < len(pending):
                i = pending[at]
                at += 1
                shape = bulk.get(keys[i])  # a line before may have taught its key
                if shape is not None:
                    shapes[i] = shape
                    continue
                if i and shapes[i - 1] is not None and shapes[i - 1].entry is None:
                    shapes[i - 1] = None  # the record before is read alone: this line may continue it
                    alone(i - 1)
                alone(i)
                if self.log != log:  # another log from the next line on
                    log = self.log
                    logs.change(i + 1, log)
                if self.bulk is not bulk:  # a declared prefix: the next lines' keys are looked up in its shapes
                    bulk = self.bulk
                    shapes[i + 1:] = map(bulk.get, keys[i + 1:end])
                    pending, at = [j for j in range(i + 1, end) if shapes[j] is None], 0
        if shapes and shapes[-1] is not None and shapes[-1].entry is None:  # the next block's line may continue it
            shapes[-1] = None
            alone(len(shapes) - 1)
        if not self.in_log and any(s is not None and s.entry is not None for s in shapes[last + 1:]):
            self.in_log = True
        if shapes and shapes[-1] is not None:
            self.previous_typed = True
        shaped = _positions(shapes)
        if self.merge(shaped, logs, block, keys, first):
            for_analyze = sorted(for_analyze + [i for shape, lines in shaped.items() if shape is not None and
                                                shape.entry is None for i in lines])
        else:
            self.restore(saved)
            for_analyze = [i for i, key in enumerate(keys) if not self.line(first + i, block[i], key)]
        for other in self.readers:
            for i in for_analyze:
                other.feed(block[i])

    def merge(self, shaped: dict, logs: "_LogChanges", block: list[str], keys: list[bytes], first: int) -> bool:
        """Type the lines put aside (``shaped``: shape -> the indices of its lines; None: lines read alone), kept as
        columns (``typed_lines``; :class:`TextMessages` puts them in line order among the messages); False
        (nothing changed) when some line is not the message its key promised."""
        typed: list | None = []
        for shape, lines in shaped.items():
            if shape is None:
                continue
            raw = list(map(block.__getitem__, lines))
            if shape.origin is not None:
                texts = list(map(str.rstrip, _untagged(raw, shape.origin)))
            elif keys[lines[0]].decode("utf-8", "replace")[-1:].isspace():  # (the lines' last blank, if any)
                texts = list(map(str.rstrip, raw))
            else:
                texts = raw
            joined = "\n".join(texts)
            routed = shape.routed_check and _routed(joined)
            rows = None
            if not routed and (len(joined) <= _MAX_LINE or max(map(len, raw)) <= _MAX_LINE):
                layout = shape.layout(texts[0])
                rows = layout.rows(joined, len(texts))
                if rows is None and layout.exact:  # lines of other functions or blanks: the shape's expression
                    layout = shape.layout()
                    rows = layout.rows(joined, len(texts))
            if rows is not None:
                if typed is None:
                    continue  # (the window is read again line by line)
                log = logs.of(lines)
                if shape.origin is not None:
                    log = _tagged(log, shape.origin) if isinstance(log, str) else [_tagged(n, shape.origin) for n in log]
                if shape.entry is None:
                    records = self.emit_records(rows, list(map(first.__add__, lines)), log)
                    if records is None:
                        self.forget(keys[lines[0]])
                        typed = None
                    else:
                        typed.append(records)
                    continue
                done = self.emit(shape, layout, rows, list(map(first.__add__, lines)), log)
                if done is not None:
                    typed.append(done)
                    continue
            for i, line, text in zip(lines, raw, texts):  # lines of another message: their keys are read alone
                if len(line) > _MAX_LINE or text == _NO_TAG or not shape.rx.fullmatch(text) or \
                        (routed and _routed(text)):
                    self.forget(keys[i])
            typed = None
        if typed is None:
            return False
        self.typed_lines += typed
        return True

    def forget(self, key: bytes) -> None:
        """Lines of this key are not all one message: read them one by one from now on."""
        if len(self.not_bulk) >= _MAX_SHAPES:  # bounded like the shape caches (hostile input)
            self.not_bulk.clear()
            for cache in self.bulk_caches.values():
                cache.clear()
        self.not_bulk.add(key)
        for cache in self.bulk_caches.values():
            cache.pop(key, None)

    def checkpoint(self) -> _Checkpoint:
        return _Checkpoint(len(self.messages), self.messages[-1] if self.messages else None,
                           {name: dict(facts) for name, facts in self.logs.items()}, len(self.warnings),
                           (self.times.outside, self.times.first),
                           (self.log, self.in_log, self.previous_typed, self.prefixes, self.shapes, self.bulk))

    def restore(self, saved: _Checkpoint) -> None:
        del self.messages[saved.messages:]
        if saved.last is not None:
            self.messages[-1] = saved.last
        self.logs = saved.logs
        del self.warnings[saved.warnings:]
        self.times.outside, self.times.first = saved.times
        self.log, self.in_log, self.previous_typed, self.prefixes, self.shapes, self.bulk = saved.state


class TextMessages(LazyMessages):
    """The messages of a paste in line order, each as the reader made it: those read one by one (``singles``) and
    the framework lines typed in bulk, held as columns (``typed``) and built when read. :meth:`columns` hands them
    to the event table without building a message."""

    def __init__(self, source: str, singles: list[TraceMessage], typed: list[_TypedLines]):
        self.source, self.singles, self.typed = source, singles, typed
        self.starts = [0, *accumulate([len(singles)] + [len(t.lines) for t in typed])]  # of singles and each part
        lines = np.fromiter(chain([m.ref.line for m in singles], *(t.lines for t in typed)), dtype=np.int64,
                            count=self.starts[-1])
        self.order = np.argsort(lines, kind="stable")  # row -> its place (singles first, then each typed part)
        self.lines = lines[self.order]
        self.rows = np.empty_like(self.order)  # place -> row
        self.rows[self.order] = np.arange(len(lines))
        if typed:
            self._items = [None] * len(lines)
            for row, message in zip(self.rows[:len(singles)].tolist(), singles):
                self._items[row] = message
        else:
            self._items = singles

    def __len__(self) -> int:
        return self.starts[-1]

    def _build(self, rows: list[int]) -> list[TraceMessage]:
        places = self.order[rows]
        parts = np.searchsorted(self.starts, places, side="right") - 1
        out = []
        with gc_paused():
            for place, part in zip(places.tolist(), parts.tolist()):  # only typed rows: the singles are there
                out += self.typed[part - 1].messages((place - self.starts[part],))
        return out

    @classmethod
    def columns(cls, parts: list[TextMessages]) -> MessageColumns:
        """The columns of every message of ``parts``: a block per catalog id of its typed lines' argument columns
        (and of the singles' argument tuples), the other fields a column each."""
        sizes = [len(p) for p in parts]
        bases = [0, *accumulate(sizes)]
        n = bases[-1]
        order = np.concatenate([p.order + base for p, base in zip(parts, bases)] + [np.zeros(0, dtype=np.int64)])
        singles = [m for p in parts for m in p.singles]
        single_rows = np.concatenate([p.rows[:len(p.singles)] + base for p, base in zip(parts, bases)] +
                                     [np.zeros(0, dtype=np.int64)])

        def placed(of_single, of_typed) -> list:  # a field of every message, singles then typed lines of each part
            return list(chain.from_iterable(chain(map(of_single, p.singles), *map(of_typed, p.typed)) for p in parts))

        def coded(of_single, of_typed) -> Coded:
            index: dict = {None: -1}  # value -> its code
            codes = [index.setdefault(value, len(index) - 1) for value in placed(of_single, of_typed)]
            return Coded(np.array(codes, dtype=np.int64).reshape(-1)[order], [v for v in index if v is not None])

        chunks: dict[str | None, list] = {}
        by_id: dict[str | None, list[int]] = {}
        for k, message in enumerate(singles):
            by_id.setdefault(message.catalog_id, []).append(k)
        for catalog_id, ks in by_id.items():
            chunks.setdefault(catalog_id, []).append((single_rows[ks], [singles[k].args for k in ks]))
        for p, base in zip(parts, bases):
            for j, t in enumerate(p.typed):
                rows = p.rows[p.starts[j + 1]:p.starts[j + 2]] + base
                if t.entries.count(t.entries[0]) == len(t.entries):
                    chunks.setdefault(t.entries[0].id, []).append((rows, t.args))
                    continue
                for catalog_id, ks in _indices_by([e.id for e in t.entries]).items():  # a multi-site format
                    chunks.setdefault(catalog_id, []).append((rows[ks], _rows_of(t.args, ks)))
        inferred, general = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        inferred[single_rows] = [m.inferred for m in singles]
        general[single_rows] = [m.general for m in singles]
        mentions = np.empty(n, dtype=object)
        mentions.fill(())
        mentions[single_rows] = np.fromiter((m.pointers for m in singles), dtype=object, count=len(singles))
        sources = list(dict.fromkeys(p.source for p in parts))
        no = np.zeros(n, dtype=bool)
        return MessageColumns(
            messages=list(parts), log=coded(attrgetter("log"), attrgetter("logs")),
            file=Coded(np.repeat([sources.index(p.source) for p in parts], sizes).astype(np.int64), sources),
            line=(np.concatenate([p.lines for p in parts] + [np.zeros(0, dtype=np.int64)]), no),
            offset=(np.zeros(n, dtype=np.int64), ~no),
            sequence=tuple(column[order] for column in _sequence_columns(parts)),
            timestamp=np.concatenate([times for p in parts for times in (
                _nanoseconds([m.timestamp for m in p.singles]), *(t.times for t in p.typed))] + [_NO_TIMES])[order],
            level=coded(attrgetter("level"), lambda t: [e.level for e in t.entries]),
            inferred=inferred, general=general, mentions=mentions,
            blocks=[(catalog_id, *_joined(found)) for catalog_id, found in chunks.items()])


def _coded(values: tuple | list) -> Coded:
    """``values`` (hashable, none None) as a coded column."""
    code_of = {value: code for code, value in enumerate(dict.fromkeys(values))}
    return Coded(np.fromiter(map(code_of.__getitem__, values), dtype=np.int64, count=len(values)), list(code_of))


def _cell(column, i: int):
    """Row ``i`` of an argument column (a list or a :class:`Coded` column)."""
    if isinstance(column, Coded):
        code = int(column.codes[i])
        return None if code < 0 else column.values[code]
    return column[i]


def _expanded(column) -> list:
    """An argument column as a list."""
    if isinstance(column, Coded):
        return np.array(column.values + [None], dtype=object)[column.codes].tolist()
    return list(column)


def _positions(values: list) -> dict:
    """Each distinct value of ``values`` (hashable) -> the indices where it is, in order (numpy's sort: faster
    than a dict of lists for long lists of a few values)."""
    codes_of = {value: code for code, value in enumerate(dict.fromkeys(values))}
    codes = np.fromiter(map(codes_of.__getitem__, values), dtype=np.int64, count=len(values))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(codes_of) + 1)).tolist()
    return {value: order[bounds[code]:bounds[code + 1]].tolist() for value, code in codes_of.items()}


def _indices_by(values: list) -> dict:
    """Each distinct value of ``values`` -> the indices where it is."""
    out: dict = {}
    for k, value in enumerate(values):
        out.setdefault(value, []).append(k)
    return out


def _rows_of(args: ArgColumns | list[tuple], ks: list[int]) -> ArgColumns | list[tuple]:
    """The arguments of the lines at ``ks``."""
    if isinstance(args, ArgColumns):
        return ArgColumns([Coded(column.codes[ks], column.values) if isinstance(column, Coded) else
                           [column[k] for k in ks] for column in args])
    return [args[k] for k in ks]


def _tuples(args: ArgColumns | list[tuple], count: int) -> list[tuple]:
    """``count`` lines' arguments as a tuple per line."""
    if isinstance(args, ArgColumns):
        return list(zip(*map(_expanded, args))) if args else [()] * count
    return args


def _joined(chunks: list[tuple]) -> tuple:
    """(rows, arguments) of chunks of one catalog id, one after the other: argument columns when every chunk has
    them or a tuple of that many arguments per line (the lines of a shape read one by one before it was known)."""
    if len(chunks) == 1:
        return chunks[0]
    rows = np.concatenate([rows for rows, _ in chunks])
    arity = {len(args) for _, args in chunks if isinstance(args, ArgColumns)}
    if len(arity) == 1 and all(isinstance(args, ArgColumns) or {len(a) for a in args} <= arity for _, args in chunks):
        columns = [args if isinstance(args, ArgColumns) else list(zip(*args)) for _, args in chunks]
        return rows, ArgColumns([_stacked(parts) for parts in zip(*columns)])
    return rows, list(chain.from_iterable(_tuples(args, len(rows)) for rows, args in chunks))


def _transposed(rows: list[tuple]) -> list[list]:
    """Rows of groups as a list per group (faster than ``zip(*rows)`` for many rows)."""
    return [list(map(itemgetter(k), rows)) for k in range(len(rows[0]))] if rows else []


def _sequence_columns(parts: list[TextMessages]) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values, missing mask) of the record numbers of every message of ``parts``, singles then typed lines of
    each part."""
    single_values, single_missing = nullable_int64([m.sequence for p in parts for m in p.singles])
    values, missing = [], []
    for p in parts:
        count = len(p.singles)
        values.append(single_values[:count])
        missing.append(single_missing[:count])
        single_values, single_missing = single_values[count:], single_missing[count:]
        for t in p.typed:
            values.append(np.maximum(t.sequences, 0))
            missing.append(t.sequences < 0)
    return (np.concatenate(values + [np.zeros(0, dtype=np.int64)]), np.concatenate(missing + [np.zeros(0, dtype=bool)]))


def _stacked(parts: tuple) -> Coded | list:
    """Argument columns one after the other: a coded column when each is one, else a list."""
    if all(isinstance(part, Coded) for part in parts):
        offsets = accumulate([len(part.values) for part in parts], initial=0)
        codes = [np.where(part.codes < 0, -1, part.codes + offset) for part, offset in zip(parts, offsets)]
        return Coded(np.concatenate(codes), [value for part in parts for value in part.values])
    return list(chain.from_iterable(map(_expanded, parts)))


def _nanoseconds(times: list[datetime | None]) -> np.ndarray:
    """Nanoseconds since 1970 of UTC datetimes (whole microseconds, in TIME_RANGE), NaT for None."""
    microsecond = timedelta(microseconds=1)
    return np.array([NAT_NS if t is None else (t - _EPOCH) // microsecond * 1000 for t in times], dtype=np.int64).reshape(-1)


def _blocks(text: str | Iterable[str]) -> Iterable[tuple[list[str], list[bytes]]]:
    """The lines of a text, or of a stream of pieces of whole lines (a file read in pieces, or line by line), split
    as str.splitlines does, with their keys (:func:`_keys`), in lists of at most :data:`_BLOCK` lines and about
    :data:`_BLOCK_CHARACTERS` characters."""
    lines: list[str] = []
    keys: list[bytes] = []
    size = 0  # characters of the lines held, or more (those of the pieces they come from)
    for piece in [text] if isinstance(text, str) else text:
        more = _lines(piece) if isinstance(text, str) else _lines(piece) or [""]
        lines += more
        keys += _keys(piece, more)
        size += len(piece)
        if len(lines) >= _BLOCK:
            full = len(lines) - len(lines) % _BLOCK
            for start in range(0, full, _BLOCK):
                yield from _sized(lines[start:start + _BLOCK], keys[start:start + _BLOCK], size)
            lines, keys = lines[full:], keys[full:]
            size = sum(map(len, lines))
    if lines:
        yield from _sized(lines, keys, size)


_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines also breaks lines at


def _lines(piece: str) -> list[str]:
    """``piece.splitlines()`` (splitting at ``\\n`` alone when it is the only line break there: faster)."""
    if any(map(piece.__contains__, _OTHER_BREAKS)):
        return piece.splitlines()
    lines = piece.split("\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _keys(piece: str, lines: list[str]) -> list[bytes]:
    """The key of each of the lines of a piece of text: the line without hex digits (UTF-8 bytes)."""
    keys = piece.encode("utf-8", "replace").translate(None, _HEX_DIGITS).split(b"\n")
    if piece.endswith("\n"):
        keys.pop()
    if len(keys) == len(lines) and "\r" not in piece:  # no line break but \n in the piece: a key per line
        return keys
    return "\n".join(lines).encode("utf-8", "replace").translate(None, _HEX_DIGITS).split(b"\n")


def _sized(lines: list[str], keys: list[bytes], most: int) -> Iterable[tuple[list[str], list[bytes]]]:
    """``lines`` and their keys in lists of about :data:`_BLOCK_CHARACTERS` characters at most (``most``: the
    characters of the lines, or more)."""
    if most < _BLOCK_CHARACTERS or sum(map(len, lines)) < _BLOCK_CHARACTERS:
        yield lines, keys
        return
    start, size = 0, 0
    for end, line in enumerate(lines, 1):
        size += len(line)
        if size >= _BLOCK_CHARACTERS:
            yield lines[start:end], keys[start:end]
            start, size = end, 0
    if start < len(lines):
        yield lines[start:], keys[start:]


def read_log_text(text: str | Iterable[str], source: str, catalog: Catalog | None = None) -> LogSet:
    """Every line of a pasted log (a str, or a stream of pieces of whole lines) as a TraceMessage (:class:`TextMessages`),
    framework messages typed."""
    reader = _BlockReader(source, catalog or load())
    with gc_paused():
        reader.read(text)
    return LogSet(source=source, messages=TextMessages(source, reader.messages, reader.typed_lines),
                  warnings=reader.warnings + reader.times.warnings(), logs=reader.logs)


def read_report_text(text: str | Iterable[str], source: str) -> LogSet:
    """A bug report's text (a str, or a stream of pieces of whole lines read from a file): pasted logs, ``!analyze``
    output and/or object views (``LogSet.objects``); EvidenceError when it holds none of them."""
    analyze, views = AnalyzeReader(source), ObjectViewReader()
    reader = _BlockReader(source, load(), (analyze, views))
    with gc_paused():
        head = reader.read(text)
    bugcheck = analyze.result()
    objects = views.shown()
    typed = any(facts["typed"] for facts in reader.logs.values())
    records = bool(reader.typed_lines) or any(m.level != DEBUGGER for m in reader.messages)
    if bugcheck is None and not typed and not objects and not (records and looks_like_log_text("\n".join(head))):
        raise EvidenceError(source, "nothing recognized: no WDF log records (!wdflogdump/!wdfcrashdump/!rcdrlogdump/"
                                    "tracefmt/TraceView lines), no bugcheck (!analyze, kd banner, BugCheck line) and "
                                    "no object view (!wdfdevice/!wdfdevicequeues/!wdfqueue)" + _silent_logdump(head))
    return LogSet(source=source, messages=TextMessages(source, reader.messages, reader.typed_lines),
                  warnings=reader.warnings + reader.times.warnings(), logs=reader.logs, bugcheck=bugcheck,
                  objects=objects)
