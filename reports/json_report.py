"""The triage result as JSON, following reports/schema/triage-result.v2.json (schema_version "2").

Every pointer, handle, IRP, NTSTATUS and bugcheck parameter is a hex string (``"0xffffc0812345d20"``): JSON
readers such as jq and JavaScript hold numbers as doubles and round anything above 2**53, which is every
64-bit kernel address. No number above 2**53 is written anywhere (a larger integer that is not a known handle
field is written as a hex string too). The document is written as a stream: compact JSON per piece (the C
encoder, never the slow ``indent`` path), one event, timeline row or finding per line, and never one dict
of every event in memory.
"""
from __future__ import annotations

import io
import json
import math
from datetime import datetime
from typing import Iterable, Iterator, TextIO

from analyzer.result import EvidenceLine, Finding, TriageResult
from reports.columns import columns
from reports.views import render_finding_view

SCHEMA_VERSION = "2"
SCHEMA_FILE = "schema/triage-result.v2.json"
MAX_SAFE_INTEGER = 2**53  # the largest integer every JSON reader holds exactly
HANDLE_FIELDS = frozenset({"device", "devobj", "queue", "request", "irp", "status", "information"})
_EVENT_FIELDS = ("device", "devobj", "queue", "request", "irp", "machine", "state", "from_state", "event", "status",
                 "information", "count", "detail")


def hex_string(value) -> str | None:
    """A pointer, handle or status as JSON holds it: ``"0x..."`` (lower case, no padding), or None."""
    if isinstance(value, int):
        return f"0x{value:x}"
    return None if value is None or _missing(value) else f"0x{int(value):x}"


def _missing(value) -> bool:
    """NaN, NaT, pandas NA."""
    try:
        return value != value or str(value) in ("<NA>", "NaT")
    except (TypeError, ValueError):
        return str(value) == "<NA>"


def plain(value):
    """A value as a JSON type: times as ISO text, NaN/NaT/NA as null, numpy scalars as Python values, integers
    beyond 2**53 as hex strings."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else f"0x{value & (2**64 - 1):x}"
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, datetime):  # pandas' NaT is a datetime too, and not equal to itself
        return value.isoformat() if value == value else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if _missing(value):
        return None
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return plain(value.item()) if hasattr(value, "item") else str(value)


#: Compact JSON (ASCII: bidi and control characters stay escaped), by one encoder (json.dumps makes one per call).
dumps = json.JSONEncoder(separators=(",", ":")).encode


def _evidence(e: EvidenceLine) -> dict:
    return {"ref": str(e.ref), "file": e.ref.file, "line": e.ref.line, "offset": e.ref.offset, "text": e.text,
            "role": e.role, "index": e.index, "sequence": e.sequence, "time": plain(e.timestamp), "inferred": e.inferred}


def _finding(f: Finding) -> dict:
    return {"rule": f.rule, "title": f.title, "severity": f.severity.name.lower(), "summary": f.summary,
            "probable_cause": f.probable_cause, "suggested_fix": f.suggested_fix, "log": f.log,
            "input": f.input, "device": hex_string(f.device), "queue": hex_string(f.queue), "request": hex_string(f.request),
            "at_index": f.at_index, "at_time": plain(f.at_time), "evidence": [_evidence(e) for e in f.evidence],
            "facts": plain({**f.facts, **({"object_view": render_finding_view(f.object_view)}
                                         if f.object_view is not None else {})})}


def _bugcheck(result: TriageResult) -> dict | None:
    b = result.bugcheck
    if b is None:
        return None
    return {"code": b.code, "parameters": [hex_string(p) for p in b.parameters], "name": b.name,
            "failure_bucket": b.failure_bucket, "image_name": b.image_name, "module_name": b.module_name,
            "source": b.source}


def _bugcheck_analysis(result: TriageResult) -> dict | None:
    analysis = result.bugcheck_analysis
    if analysis is None:
        return None
    parameters = [{**plain(p), "value": hex_string(p["value"])} for p in analysis.get("parameters", [])]
    return {**plain(analysis), "parameters": parameters}


def _event(e) -> dict:
    return {"index": e.index, "kind": e.kind.value, "ref": str(e.ref), "input": e.input, "log": e.log, "sequence": e.sequence,
            "time": plain(e.timestamp), "text": e.text, "catalog_id": e.catalog_id, "level": e.level,
            "inferred": e.inferred, **{name: convert(getattr(e, name)) for name, convert in _EVENT_CONVERTERS}}


_EVENT_CONVERTERS = tuple((name, hex_string if name in HANDLE_FIELDS else plain) for name in _EVENT_FIELDS)


def frame_rows(frame) -> Iterator[dict]:
    """The rows of a timeline DataFrame as JSON records (handles as hex strings), converted a column at a time."""
    if not len(frame):
        return
    cells = columns(frame)
    converted = [list(map(hex_string if name in HANDLE_FIELDS else plain, values)) for name, values in cells.items()]
    names = list(cells)
    for values in zip(*converted):
        yield dict(zip(names, values))


def _array(items: Iterable[dict], indent: str) -> Iterator[str]:
    """A JSON array written one element per line."""
    yield "["
    first = True
    for item in items:
        yield ("\n" if first else ",\n") + indent + dumps(item)
        first = False
    yield "]" if first else "\n" + indent[:-1] + "]"


def iter_json(result: TriageResult) -> Iterator[str]:
    """The document in pieces (one finding, timeline row or event per line)."""
    head = {"schema_version": SCHEMA_VERSION, "tool": {"name": "wdftriage", "version": result.tool_version},
            "created": plain(result.created),
            "inputs": [{"path": i.path, "sha256": i.sha256, "read_digest": i.read_digest, "size": i.size,
                        "kind": i.kind} for i in result.inputs],
            "logs": plain(result.logs), "bugcheck": _bugcheck(result),
            "bugcheck_analysis": _bugcheck_analysis(result)}
    yield dumps(head)[:-1]
    yield ',\n"findings":'
    yield from _array((_finding(f) for f in result.findings), " ")
    yield ',\n"timelines":{'
    for n, kind in enumerate(("requests", "queues", "states")):
        yield ("" if n == 0 else ",") + f'\n "{kind}":'
        yield from _array(frame_rows(getattr(result.timelines, kind)), "  ")
    yield '},\n"events":'
    yield from _array((_event(e) for e in result.events), " ")
    yield ',\n"warnings":' + dumps([str(w) for w in result.warnings]) + "}\n"


def write_json(result: TriageResult, out: TextIO) -> None:
    """Stream the document to ``out``."""
    for piece in iter_json(result):
        out.write(piece)


def render_json(result: TriageResult) -> str:
    """The whole document as one string (for callers that need it in memory)."""
    buffer = io.StringIO()
    write_json(result, buffer)
    return buffer.getvalue()
