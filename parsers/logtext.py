"""Formatted framework logs as people paste them: ``!wdflogdump``, ``!wdfcrashdump``, ``!rcdrlogdump``,
tracefmt and TraceView output, wrapped in debugger noise, Markdown fences, CRLF and mail wrapping.

Every line is kept. A log record line (``1: ``, ``12 : `` sequence prefix, optional
``MM/DD/YYYY-HH:MM:SS.fffffff`` time, optional ``Class::Function - ``) becomes a TraceMessage whose body
is matched against the framework's exact format strings (``catalog_id`` + typed ``args``); a line that
is not a record (debugger prompts and chatter, stacks, fences) becomes a TraceMessage with
``level="debugger"`` and no catalog id. A record cut by a mail/issue tracker line wrap is joined
with its continuation when the joined text is a framework message. Logs are named after the driver
the debugger was asked about (``!wdflogdump foo``, ``There are N log entries for foo``, ``Driver: foo``);
UMDF merged logs tag lines ``FX  - `` (framework) and ``DRV - `` (driver).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from parsers.analyze_text import read_analyze_text
from parsers.catalog import Catalog, load
from parsers.errors import EvidenceError
from parsers.records import LogSet, SourceRef, TraceMessage
from parsers.records import DEBUGGER, GENERAL_MARK, INFERRED_MARK
from parsers.wpp import pointer_values

_ORIGIN = re.compile(r"^(FX|DRV|UMDF|KMDF)\s*-\s+")
_RECORD = re.compile(r"^\s*(\d+)\s*:\s+(?:(\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d+)\s+)?(?:([\w:~<>$]+(?:::[\w~<>$]+)*)?\s*-\s+)?(.*)$")
_TRACEFMT = re.compile(r"^\s*\[(\d+)\]([0-9A-Fa-f]+)\.([0-9A-Fa-f]+)::(\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d+)\s+\[([^\]]*)\](.*)$")
_PROMPT = re.compile(r"^\s*(?:\d+:\s*)?kd>\s*(.*)$")
_LOGDUMP_CMD = re.compile(r"!(?:wdfkd\.|rcdrkd\.)?(?:wdflogdump|rcdrlogdump)\s+(\S+)", re.IGNORECASE)
_LOG_NAME = re.compile(r"^(?:There are \d+ log entries for (\S+)|Driver:\s*(\S+)|Log at \S+ for (\S+)|Log of (\S+) \(\w+ IFR\))")
_TIME_FORMATS = ("%m/%d/%Y-%H:%M:%S.%f", "%Y/%m/%d-%H:%M:%S.%f")
_UNKNOWN = re.compile(r"^\w+\(\s*\d+\): GUID=[0-9A-Fa-f-]+ \(No Format Information found\)\.\s*((?:[0-9A-Fa-f]{2}\s?)*)$")
_MAX_LINE = 64 * 1024
_MARKERS = ("Trace searchpath is:", "Trace format prefix is:", "TMF file used for formatting", "Gather log:",
            "--- start of log", "---- end of log", "Trying to extract TMF information", "!wdflogdump",
            "!wdfcrashdump", "!rcdrlogdump", "kd>", "!wdfkd.", "!rcdrkd.", "Wdf01000!", "WUDFx02000!")
_MARKER_PATTERN = re.compile(r"There are \d+ log entries|^Log at [0-9a-fA-Fx`]+", re.MULTILINE)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    whole, _, frac = text.partition(".")
    frac = (frac + "000000")[:6]
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(f"{whole}.{frac}", fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def looks_like_log_text(text: str) -> bool:
    """True when the text holds formatted WDF log records or wdfkd/rcdrkd output."""
    head = text[:200_000]
    if any(marker in head for marker in _MARKERS) or _MARKER_PATTERN.search(head):
        return True
    lines = head.splitlines()[:2000]
    records = sum(1 for line in lines if _RECORD.match(_ORIGIN.sub("", line)))
    traceview = sum(1 for line in lines if line.count("\t") >= 6 and _time(line.split("\t")[4].strip()))
    return records >= 3 or traceview >= 1 or bool(re.search(r"WDFDEVICE 0x[0-9A-Fa-f]+ !devobj", head))


class _Reader:
    def __init__(self, source: str, catalog: Catalog):
        self.source = source
        self.catalog = catalog
        self.messages: list[TraceMessage] = []
        self.log = ""
        self.logs: dict[str, dict] = {}
        self.warnings: list = []

    def add(self, line_no: int, text: str, **fields) -> None:
        self.messages.append(TraceMessage(ref=SourceRef(self.source, line=line_no, sequence=fields.get("sequence")),
                                          text=text, **fields))

    def record(self, line_no: int, sequence: int | None, when: str | None, function: str | None, body: str,
               log: str) -> None:
        body = body.strip()
        inferred, general = False, False
        for mark in (GENERAL_MARK, INFERRED_MARK):  # wdftriage's own no-TMF output, pasted back
            if body.endswith(mark):
                body, inferred, general = body[:-len(mark)].rstrip(), True, mark == GENERAL_MARK
                break
        match = self.catalog.match_text(body, function)
        unknown = None if match else _UNKNOWN.match(body)
        pointers = ()
        if unknown and unknown.group(1):  # wdftriage prints an unformatted record's raw argument bytes
            raw = bytes.fromhex(unknown.group(1))
            pointers = tuple(dict.fromkeys(pointer_values(raw, 8) + pointer_values(raw, 4)))
        facts = self.logs.setdefault(log, {"kind": "text", "records": 0, "typed": 0})
        facts["records"] += 1
        facts["typed"] += match is not None
        self.add(line_no, body, log=log, sequence=sequence, timestamp=_time(when), function=function,
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

    def line(self, line_no: int, raw: str) -> None:
        text = raw.rstrip("\r\n")
        if len(text) > _MAX_LINE:
            self.warnings.append(f"{self.source} line {line_no}: line of {len(text)} characters cut to {_MAX_LINE}")
            text = text[:_MAX_LINE]
        origin = _ORIGIN.match(text)
        log = self.log
        if origin:
            text = text[origin.end():]
            log = f"{self.log or 'umdf'} ({'framework' if origin.group(1) in ('FX', 'UMDF', 'KMDF') else 'driver'})"
        prompt = _PROMPT.match(text)
        if prompt:
            command = _LOGDUMP_CMD.search(prompt.group(1))
            if command:
                self.log = command.group(1)
            self.add(line_no, text, level=DEBUGGER)
            return
        named = _LOG_NAME.match(text.strip())
        if named:
            self.log = next(g for g in named.groups() if g)
        m = _RECORD.match(text)
        if m and not named:
            self.record(line_no, int(m.group(1)), m.group(2), m.group(3), m.group(4), log)
            return
        m = _TRACEFMT.match(text)
        if m:
            self.record(line_no, None, m.group(4), None, m.group(6), m.group(5) or log)
            return
        cells = text.split("\t")
        if len(cells) >= 7 and _time(cells[4].strip()):
            self.record(line_no, None, cells[4].strip(), cells[1].strip() or None, cells[-1], cells[0].strip() or log)
            return
        if text.strip() and not text.startswith(("#", "[", "`")) and self.rejoin(line_no, text):
            return
        self.add(line_no, text, log=log, level=DEBUGGER)


def read_log_text(text: str, source: str, catalog: Catalog | None = None) -> LogSet:
    """Every line of a pasted log as a TraceMessage, framework messages typed."""
    reader = _Reader(source, catalog or load())
    for line_no, line in enumerate(text.splitlines(), 1):
        reader.line(line_no, line)
    return LogSet(source=source, messages=reader.messages, warnings=reader.warnings, logs=reader.logs)


def read_report_text(text: str, source: str) -> LogSet:
    """A bug report's text: pasted logs and/or ``!analyze -v``; EvidenceError when it holds neither."""
    bugcheck = read_analyze_text(text, source)
    if bugcheck is None and not looks_like_log_text(text):
        raise EvidenceError(source, "no WDF log records, wdfkd/rcdrkd output or !analyze -v found in this text", line=1)
    logset = read_log_text(text, source)
    logset.bugcheck = bugcheck
    return logset
