"""The triage result as JSON, following reports/schema/triage-result.v1.json (schema_version "1")."""
from __future__ import annotations

import json
import math
from datetime import datetime

import pandas as pd

from reports.views import render_finding_view
from analyzer.result import EvidenceLine, Finding, TriageResult

SCHEMA_VERSION = "1"
SCHEMA_FILE = "schema/triage-result.v1.json"
_EVENT_FIELDS = ("device", "devobj", "queue", "request", "irp", "machine", "state", "from_state", "event", "status",
                 "information", "count", "detail")


def _time(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.isoformat() if isinstance(value, (datetime, pd.Timestamp)) else str(value)


def _plain(value):
    """A DataFrame or fact value as a JSON type (NaN/NaT/NA -> null, numpy ints -> int)."""
    if value is None:
        return None
    if isinstance(value, (datetime, pd.Timestamp)):
        return _time(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else str(value)


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{c: _plain(v) for c, v in zip(frame.columns, row)} for row in frame.itertuples(index=False, name=None)]


def _evidence(e: EvidenceLine) -> dict:
    return {"ref": str(e.ref), "file": e.ref.file, "line": e.ref.line, "offset": e.ref.offset, "text": e.text,
            "role": e.role, "index": e.index, "sequence": e.sequence, "time": _time(e.timestamp), "inferred": e.inferred}


def _finding(f: Finding) -> dict:
    return {"rule": f.rule, "title": f.title, "severity": f.severity.name.lower(), "summary": f.summary,
            "probable_cause": f.probable_cause, "suggested_fix": f.suggested_fix, "log": f.log, "input": f.input,
            "device": f.device,
            "queue": f.queue, "request": f.request, "at_index": f.at_index, "at_time": _time(f.at_time),
            "evidence": [_evidence(e) for e in f.evidence],
            "facts": _plain({**f.facts, **({"object_view": render_finding_view(f.object_view)}
                                            if f.object_view is not None else {})})}


def to_json_dict(result: TriageResult) -> dict:
    """Plain JSON types, handles as integers."""
    b = result.bugcheck
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "wdftriage", "version": result.tool_version},
        "created": _time(result.created),
        "inputs": [{"path": i.path, "sha256": i.sha256, "size": i.size, "kind": i.kind} for i in result.inputs],
        "logs": _plain(result.logs),
        "bugcheck": None if b is None else {"code": b.code, "parameters": list(b.parameters), "name": b.name,
                                            "failure_bucket": b.failure_bucket, "image_name": b.image_name,
                                            "module_name": b.module_name, "source": b.source},
        "bugcheck_analysis": _plain(result.bugcheck_analysis),
        "findings": [_finding(f) for f in result.findings],
        "timelines": {kind: _records(getattr(result.timelines, kind)) for kind in ("requests", "queues", "states")},
        "events": [{"index": e.index, "kind": e.kind.value, "ref": str(e.ref), "log": e.log, "sequence": e.sequence,
                    "time": _time(e.timestamp), "text": e.text, "catalog_id": e.catalog_id, "level": e.level,
                    "inferred": e.inferred, **{k: getattr(e, k) for k in _EVENT_FIELDS}} for e in result.events],
        "warnings": list(result.warnings),
    }


def render_json(result: TriageResult) -> str:
    """The result as indented JSON text."""
    return json.dumps(to_json_dict(result), indent=1) + "\n"  # ASCII: bidi and control characters stay escaped
