"""The rules, one module each (WDF001-WDF007), run in an order where the more specific explanation
of a request (EvtIoStop not acknowledged, stalled queue) comes before the generic one (leaked)."""
from __future__ import annotations

from analyzer.result import Finding
from analyzer.rules import (
    wdf001_stalled_queue, wdf002_evtiostop_not_acknowledged, wdf003_leaked_request, wdf004_state_machine_stuck,
    wdf005_completion_error, wdf006_dropped_events, wdf007_bugcheck,
)
from analyzer.rules.base import RuleContext

RULES = (wdf002_evtiostop_not_acknowledged, wdf001_stalled_queue, wdf005_completion_error, wdf003_leaked_request,
         wdf004_state_machine_stuck, wdf006_dropped_events, wdf007_bugcheck)


def run_rules(ctx: RuleContext) -> list[Finding]:
    """Run every rule; findings come back worst first, then by rule id and place in the evidence."""
    for rule in RULES:
        ctx.findings.extend(rule.check(ctx))
    for finding in ctx.findings:
        finding.evidence.sort(key=lambda e: -1 if e.index is None else e.index)
    return sorted(ctx.findings, key=lambda f: (-f.severity, f.rule, f.at_index if f.at_index is not None else -1))


def describe() -> list[dict]:
    """id, title and documentation of every rule (for `wdftriage rules`)."""
    return [{"id": r.RULE_ID, "title": r.TITLE, "doc": (r.__doc__ or "").strip()} for r in
            sorted(RULES, key=lambda r: r.RULE_ID)]
