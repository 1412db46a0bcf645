"""The triage pipeline: evidence files -> messages -> typed events -> timelines -> rules -> TriageResult.

Nothing here knows which parser produced a message: every source hands over a LogSet.
"""
from __future__ import annotations

from datetime import datetime, timezone
from importlib import metadata

from analyzer.bugcheck import decode
from analyzer.events import to_events
from parsers.decode import DecodeOptions
from parsers.evidence import Evidence, load
from analyzer.result import InputFile, Timelines, TriageResult
from analyzer.rules import run_rules
from analyzer.rules.base import RuleContext
from analyzer.timelines import build_all
from parsers.records import BugCheck, LogSet


def tool_version() -> str:
    """The installed wdftriage version."""
    try:
        return metadata.version("wdftriage")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def analyze(logsets: list[LogSet], bugcheck: BugCheck | None = None, inputs: list[InputFile] | None = None) -> TriageResult:
    """Analyze already-read evidence. ``bugcheck`` overrides any bugcheck found in the evidence."""
    messages = [m for ls in logsets for m in ls.messages]
    events = to_events(messages)
    requests, queues, states = build_all(events)
    bugcheck = bugcheck or next((ls.bugcheck for ls in logsets if ls.bugcheck is not None), None)
    ctx = RuleContext(events=events, requests=requests, queues=queues, states=states, bugcheck=bugcheck)
    findings = run_rules(ctx)
    logs = {name: facts for ls in logsets for name, facts in ls.logs.items()}
    warnings = [str(w) for ls in logsets for w in ls.warnings]
    return TriageResult(
        tool_version=tool_version(), created=datetime.now(timezone.utc), inputs=inputs or [], events=events,
        timelines=Timelines(requests=requests, queues=queues, states=states), findings=findings,
        bugcheck=bugcheck, bugcheck_analysis=decode(bugcheck) if bugcheck else None, logs=logs, warnings=warnings,
    )


def triage(paths: list[str], options: DecodeOptions | None = None, bugcheck: BugCheck | None = None,
           progress=iter) -> TriageResult:
    """Read every evidence file and analyze them together; ``progress`` wraps the file iteration
    (the CLI passes a progress bar)."""
    evidence: list[Evidence] = [load(p, options) for p in progress(paths)]
    inputs = [InputFile(path=e.path, sha256=e.sha256, size=e.size, kind=e.kind) for e in evidence]
    return analyze([e.logset for e in evidence], bugcheck=bugcheck, inputs=inputs)
