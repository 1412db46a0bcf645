"""The triage pipeline: evidence files -> messages -> one event table -> timelines -> rules -> TriageResult.

Nothing here knows which parser produced a message: every source hands over a LogSet. Each input is
analysed on its own (its own timelines, rules and bugcheck), so ``triage A B`` reports exactly what
``triage A`` and ``triage B`` report; ``combine=True`` treats every input as evidence of one incident
(a dump and the paste of its log).
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata

import pandas as pd

from analyzer.bugcheck import decode
from analyzer.events import EventTable
from analyzer.objects.findings import findings_in_memory, merge as merge_object_findings, pasted_findings
from analyzer.result import InputFile, Timelines, TriageResult
from analyzer.rules import run_rules, sort_findings
from analyzer.rules.base import RuleContext
from analyzer.timelines import build_all, by_request
from parsers.decode import DecodeOptions
from parsers.evidence import Evidence, load
from parsers.records import BugCheck, LogSet


@lru_cache(maxsize=1)
def tool_version() -> str:
    """The installed wdftriage version."""
    try:
        return metadata.version("wdftriage")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def analyze(logsets: list[LogSet], bugcheck: BugCheck | None = None, inputs: list[InputFile] | None = None,
            combine: bool = False, object_findings: dict[str, list] | None = None) -> TriageResult:
    """Analyze already-read evidence, each LogSet on its own unless ``combine``. ``bugcheck`` overrides any
    bugcheck found in the evidence. ``object_findings`` (per LogSet source) are the findings of the framework
    objects in that evidence's memory (analyzer/objects/findings.py), merged with the log's, as are those of the
    object views a paste holds (``LogSet.objects``)."""
    table = EventTable.from_messages((ls.source, ls.messages) for ls in logsets)
    scopes = [logsets] if combine else [[ls] for ls in logsets]
    timelines, findings = [], []
    for scope in scopes:
        names = {ls.source for ls in scope}
        rows = table.frame if combine or len(logsets) == 1 else table.frame[table.frame["input"].isin(names)]
        sorted_requests = by_request(rows)  # the requests timeline and WDF005 walk requests in this order
        requests, queues, states = build_all(rows, sorted_requests)
        scope_bugcheck = bugcheck or next((ls.bugcheck for ls in scope if ls.bugcheck is not None), None)
        ctx = RuleContext(events=table, scope=rows, requests=requests, queues=queues, states=states,
                          bugcheck=scope_bugcheck, input=" + ".join(ls.source for ls in scope),
                          sorted_requests=sorted_requests)
        scope_findings = run_rules(ctx)
        if object_findings or any(ls.objects for ls in scope):
            code = scope_bugcheck.code if scope_bugcheck else None
            found = [f for ls in scope for f in (object_findings or {}).get(ls.source, []) + pasted_findings(ls.objects, code)]
            for finding in found:
                finding.input = ctx.input
            scope_findings = merge_object_findings(scope_findings, found)
        findings += scope_findings
        timelines.append((requests, queues, states))
    first_bugcheck = bugcheck or next((ls.bugcheck for ls in logsets if ls.bugcheck is not None), None)
    return TriageResult(
        tool_version=tool_version(), created=datetime.now(timezone.utc), inputs=inputs or [], events=table,
        timelines=Timelines(*(_concat([t[i] for t in timelines]) for i in range(3))) if timelines else
        Timelines(*build_all(table.frame)),
        findings=sort_findings(findings), bugcheck=first_bugcheck,
        bugcheck_analysis=decode(first_bugcheck) if first_bugcheck else None,
        logs=[{"input": ls.source, "name": name, **facts} for ls in logsets for name, facts in ls.logs.items()],
        warnings=[str(w) for ls in logsets for w in ls.warnings],
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def triage(paths: list[str], options: DecodeOptions | None = None, bugcheck: BugCheck | None = None,
           progress=iter, combine: bool = False) -> TriageResult:
    """Read every evidence file and analyze each (or all together with ``combine``); ``progress`` wraps the
    file iteration (the CLI passes a progress bar)."""
    options = options or DecodeOptions()
    evidence: list[Evidence] = [load(p, options) for p in progress(paths)]
    inputs = [InputFile(path=e.path, sha256=e.sha256, size=e.size, kind=e.kind, read_digest=e.read_digest)
              for e in evidence]
    objects = {e.logset.source: findings_in_memory(e.path, options.tmf, bugcheck or e.logset.bugcheck)
               for e in evidence if e.kind in ("snapshot", "dump")}
    return analyze([e.logset for e in evidence], bugcheck=bugcheck, inputs=inputs, combine=combine,
                   object_findings=objects)
