"""Formatted framework logs as people paste them: ``!wdflogdump``, ``!wdfcrashdump``, ``!rcdrlogdump``,
tracefmt and TraceView output, wrapped in debugger noise, Markdown fences, CRLF and mail wrapping.

Every line is kept. A framework message is found in a line whatever trace prefix precedes it: the
prefix the paste declares (``Trace format prefix is:``, ``!wdfsettraceprefix``, ``!rcdrsettraceprefix``,
see :mod:`parsers.prefix`), the well-known ones, else anywhere in the line (:meth:`Catalog.locate`); the
prefix gives the sequence number, time and function. Lines of one shape (the line with its hex digits
removed) share one compiled regular expression, so a long log costs one match per line. Other record
lines (``1: ``, ``12 : `` sequence prefix, optional time and ``Class::Function - ``; tracefmt; TraceView
tabs) become untyped TraceMessages; a line that is not a record (debugger prompts and chatter, stacks,
fences) becomes a TraceMessage with ``level="debugger"`` and no catalog id. A record cut by a mail/issue
tracker line wrap is joined with its continuation when the joined text is a framework message. Logs are named after the driver
the debugger was asked about (``!wdflogdump foo``, ``There are N log entries for foo``, ``Driver: foo``);
UMDF merged logs tag lines ``FX  - `` (framework) and ``DRV - `` (driver).
"""
from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from parsers.analyze_text import AnalyzeReader
from parsers.catalog import Catalog, CatalogEntry, load
from parsers.errors import EvidenceError
from parsers.numbers import int_or_none, parse_hex_bytes
from parsers.prefix import KNOWN, compile_prefix, declared_prefix, ends_with_function, infer_prefix, looks_like_prefix
from parsers.records import DEBUGGER, GENERAL_MARK, INFERRED_MARK, LogSet, SourceRef, TraceMessage
from parsers.wpp import TimeCheck, pointer_values

_ORIGIN = re.compile(r"^(FX|DRV|UMDF|KMDF)\s*-\s+")
_RECORD = re.compile(r"^\s*(\d+)\s*:\s+(?:(\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d+)\s+)?(?:([\w:~<>$]+(?:::[\w~<>$]+)*)?\s*-\s+)?(.*)$")
_TRACEFMT = re.compile(r"^\s*\[(\d+)\]([0-9A-Fa-f]+)\.([0-9A-Fa-f]+)::(\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d+)\s+\[([^\]]*)\](.*)$")
_PROMPT = re.compile(r"^\s*(?:\d+:\s*)?kd>\s*(.*)$")
_LOGDUMP_CMD = re.compile(r"!(?:wdfkd\.|rcdrkd\.)?(?:wdflogdump|rcdrlogdump)\s+(\S+)", re.IGNORECASE)
_ORIGIN_STARTS = set("FDUK")
_LOG_NAME_STARTS = set("TDL")
_LOG_NAME = re.compile(r"^(?:There are \d+ log entries for (\S+)|Driver:\s*(\S+)|Log at \S+ for (\S+)|Log of (\S+) \(\w+ IFR\))")
_TIME = re.compile(r"(\d{1,4})/(\d\d)/(\d{1,4})-(\d\d):(\d\d):(\d\d)(?:\.(\d+))?")
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
_LOG_END = ("---- end of log",)


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


def looks_like_log_text(text: str) -> bool:
    """True when the text holds formatted WDF log records or wdfkd/rcdrkd output."""
    head = text[:_HEAD]
    if any(marker in head for marker in _MARKERS) or _MARKER_PATTERN.search(head):
        return True
    lines = head.splitlines()[:2000]
    records = sum(1 for line in lines if _RECORD.match(_ORIGIN.sub("", line)))
    traceview = sum(1 for line in lines if line.count("\t") >= 6 and _time(line.split("\t")[4].strip()))
    return records >= 3 or traceview >= 1 or bool(re.search(r"WDFDEVICE 0x[0-9A-Fa-f]+ !devobj", head))


@lru_cache(maxsize=256)
def _compiled(prefix: str) -> re.Pattern:
    return re.compile(compile_prefix(prefix))


@dataclass(frozen=True, slots=True)
class _Shape:
    """How to read every line of one shape: prefix fields and the framework message, in one expression."""

    rx: re.Pattern
    entry: CatalogEntry
    first_arg: int  # number of the entry's first argument group
    sequence: int = 0  # group numbers of the prefix fields (0: not in the prefix)
    time: int = 0
    function: int = 0
    log: int = 0
    multi_site: bool = False  # the format is logged at several call sites: the function picks one


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
        self.compiled: dict[tuple[str, str], _Shape] = {}
        self.untyped: set[tuple[bytes, str | None]] = set()  # shapes of record bodies that are no framework message
        self.in_log = False  # inside a dumped log (after its start marker or a framework line)

    def add(self, line_no: int, text: str, **fields) -> None:
        self.messages.append(TraceMessage(ref=SourceRef(self.source, line=line_no, sequence=fields.get("sequence")),
                                          text=text, **fields))

    def count(self, log: str, typed: bool) -> None:
        facts = self.logs.get(log)
        if facts is None:
            facts = self.logs[log] = {"kind": "text", "records": 0, "typed": 0}
        facts["records"] += 1
        facts["typed"] += typed

    def declare(self, prefix: str) -> None:
        """A prefix declared in the paste: tried first on the lines that follow."""
        self.prefixes = [_compiled(p) for p in (prefix, *KNOWN)]
        if prefix not in self.caches and len(self.caches) > 64:
            self.caches.clear()
        self.shapes = self.caches.setdefault(prefix, {})

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
        """The shape for a prefix expression and a framework message (compiled once per pair)."""
        key = (prefix, entry.id)
        if key not in self.compiled:
            if len(self.compiled) >= _MAX_COMPILED:
                self.compiled.clear()
            rx = re.compile(f"{prefix}\\s*(?P<body>{self.catalog.pattern_source(entry, ' +')})", re.DOTALL)
            groups = rx.groupindex
            self.compiled[key] = _Shape(rx, entry, groups["body"] + 1, groups.get("sequence", 0), groups.get("time", 0),
                                        groups.get("function", 0), groups.get("log", 0),
                                        entry.skeleton in self.catalog.multi_site)
        return self.compiled[key]

    def typed(self, line_no: int, text: str, log: str) -> bool:
        """Emit the line as a typed framework message if it holds one (False otherwise)."""
        text = text.rstrip()
        key = text.encode("utf-8", "replace").translate(None, _HEX_DIGITS)
        shape = self.shapes.get(key, False)
        m = shape.rx.fullmatch(text) if shape else None
        if m is None and shape is not None:
            shape = self.shape_of(text)
            if shape is _NOT_HERE:
                return False
            if len(self.shapes) >= _MAX_SHAPES:
                self.shapes.clear()
            self.shapes[key] = shape
            m = shape.rx.fullmatch(text) if shape else None
        if m is None:
            return False
        self.in_log = True
        function = m.group(shape.function) if shape.function else None
        entry = shape.entry
        if function and shape.multi_site:
            entry = self.catalog.site(entry, function)
        sequence = int_or_none(m.group(shape.sequence), bits=32) if shape.sequence else None  # a ULONG record number
        log = (m.group(shape.log) if shape.log else None) or log
        self.count(log, True)
        self.messages.append(TraceMessage(
            ref=SourceRef(self.source, line=line_no, sequence=sequence), text=m.group("body"), log=log,
            sequence=sequence, timestamp=self.times.checked(_time(m.group(shape.time)), line=line_no) if shape.time else None,
            function=function,
            catalog_id=entry.id, args=self.catalog.values(entry, m.groups()[shape.first_arg - 1:]), level=entry.level))
        return True

    def record(self, line_no: int, sequence: int | None, when: str | None, function: str | None, body: str,
               log: str) -> None:
        body = body.strip()
        inferred, general = False, False
        for mark in (GENERAL_MARK, INFERRED_MARK):  # wdftriage's own no-TMF output, pasted back
            if body.endswith(mark):
                body, inferred, general = body[:-len(mark)].rstrip(), True, mark == GENERAL_MARK
                break
        key = (body.encode("utf-8", "replace").translate(None, _HEX_DIGITS), function)
        match = None if key in self.untyped else self.catalog.match_text(body, function)
        if match is None and len(self.untyped) < _MAX_SHAPES:
            self.untyped.add(key)  # a driver's own message: its shape is not looked up again
        unknown = None if match else _UNKNOWN.match(body)
        pointers = ()
        if unknown and unknown.group(1):  # wdftriage prints an unformatted record's raw argument bytes
            raw = parse_hex_bytes(unknown.group(1))
            pointers = tuple(dict.fromkeys(pointer_values(raw, 8) + pointer_values(raw, 4)))
        self.count(log, match is not None)
        self.add(line_no, body, log=log, sequence=sequence, timestamp=self.times.checked(_time(when), line=line_no),
                 function=function,
                 catalog_id=match[0].id if match else None, args=match[1] if match else (),
                 level=match[0].level if match else None, inferred=inferred and match is not None,
                 general=general and match is not None, known=unknown is None, pointers=pointers)

    def rejoin(self, line_no: int, continuation: str) -> bool:
        """Join a wrapped continuation to the previous record when that makes a framework message."""
        if not self.messages or self.messages[-1].catalog_id or self.messages[-1].level == DEBUGGER:
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

    def line(self, line_no: int, raw: str) -> bool:
        """Read one line; True when it was a framework message on its own line (so no !analyze text)."""
        text = raw.rstrip("\r\n")
        if len(text) > _MAX_LINE:
            self.warnings.append(f"{self.source} line {line_no}: line of {len(text)} characters cut to {_MAX_LINE}")
            text = text[:_MAX_LINE]
        origin = _ORIGIN.match(text) if text[:1] in _ORIGIN_STARTS else None
        log = self.log
        if origin:
            text = text[origin.end():]
            log = f"{self.log or 'umdf'} ({'framework' if origin.group(1) in ('FX', 'UMDF', 'KMDF') else 'driver'})"
        if text.startswith(_LOG_START) or text.startswith(_LOG_END):
            self.in_log = text.startswith(_LOG_START)
        prompt = _PROMPT.match(text) if "kd>" in text else None
        if prompt:
            self.in_log = False
            command = _LOGDUMP_CMD.search(prompt.group(1))
            if command:
                self.log = command.group(1)
            declared = declared_prefix(prompt.group(1))
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
        elif self.typed(line_no, text, log):
            return True
        m = _RECORD.match(text)
        if m and not named:
            self.record(line_no, int_or_none(m.group(1), bits=32), m.group(2), m.group(3), m.group(4), log)
            return False
        m = _TRACEFMT.match(text)
        if m:
            self.record(line_no, None, m.group(4), None, m.group(6), m.group(5) or log)
            return False
        cells = text.split("\t")
        if len(cells) >= 7 and _time(cells[4].strip()):
            self.record(line_no, None, cells[4].strip(), cells[1].strip() or None, cells[-1], cells[0].strip() or log)
            return False
        if text.strip() and not text.startswith(("#", "[", "`")) and self.rejoin(line_no, text):
            return False
        self.add(line_no, text, log=log, level=DEBUGGER)
        return False


def _lines(text: str | Iterable[str]) -> Iterable[str]:
    """The lines of a text or of a stream of chunks (a file read line by line), split as str.splitlines does."""
    if isinstance(text, str):
        yield from text.splitlines()
        return
    for chunk in text:
        yield from chunk.splitlines() or [""]


@contextmanager
def _bulk():
    """Millions of small acyclic records: no cyclic garbage collection passes while they are made."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_log_text(text: str | Iterable[str], source: str, catalog: Catalog | None = None) -> LogSet:
    """Every line of a pasted log (a str, or a stream of lines) as a TraceMessage, framework messages typed."""
    reader = _Reader(source, catalog or load())
    with _bulk():
        for line_no, line in enumerate(_lines(text), 1):
            reader.line(line_no, line)
    return LogSet(source=source, messages=reader.messages, warnings=reader.warnings + reader.times.warnings(),
                  logs=reader.logs)


def read_report_text(text: str | Iterable[str], source: str) -> LogSet:
    """A bug report's text (a str, or a stream of lines read from a file): pasted logs and/or ``!analyze``
    output; EvidenceError when it holds neither."""
    reader = _Reader(source, load())
    analyze = AnalyzeReader(source)
    head: list[str] = []
    size = 0
    with _bulk():
        for line_no, line in enumerate(_lines(text), 1):
            if not reader.line(line_no, line):  # a framework message is no !analyze text
                analyze.feed(line)
            if size < _HEAD:
                head.append(line)
                size += len(line) + 1
    bugcheck = analyze.result()
    typed = any(facts["typed"] for facts in reader.logs.values())
    records = any(m.level != DEBUGGER for m in reader.messages)
    if bugcheck is None and not typed and not (records and looks_like_log_text("\n".join(head))):
        raise EvidenceError(source, "nothing recognized: no WDF log records (!wdflogdump/!wdfcrashdump/!rcdrlogdump/"
                                    "tracefmt/TraceView lines) and no bugcheck (!analyze, kd banner, BugCheck line)")
    return LogSet(source=source, messages=reader.messages, warnings=reader.warnings + reader.times.warnings(),
                  logs=reader.logs, bugcheck=bugcheck)
