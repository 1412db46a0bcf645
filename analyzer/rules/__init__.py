"""The rules, one module each (WDF001-WDF008). Each declares ``DEPENDS_ON``, the rules whose findings it
reads (WDF003 leaves alone the requests WDF001/WDF002 explain; WDF007 cites the findings that explain a
0x9F); they run in an order that honours those declarations."""
from __future__ import annotations

from analyzer.result import Finding
from analyzer.rules import (
    wdf001_stalled_queue, wdf002_evtiostop_not_acknowledged, wdf003_leaked_request, wdf004_state_machine_stuck,
    wdf005_completion_error, wdf006_dropped_events, wdf007_bugcheck, wdf008_reported_failures,
)
from analyzer.rules.base import RuleContext

RULES = (wdf001_stalled_queue, wdf002_evtiostop_not_acknowledged, wdf003_leaked_request, wdf004_state_machine_stuck,
         wdf005_completion_error, wdf006_dropped_events, wdf007_bugcheck, wdf008_reported_failures)


def run_order(rules=RULES) -> list:
    """The rules in an order where every rule runs after the rules it depends on (ties by id)."""
    missing = {d for r in rules for d in r.DEPENDS_ON} - {r.RULE_ID for r in rules}
    if missing:
        raise LookupError(f"rules depend on unknown rules: {sorted(missing)}")
    done: list = []
    pending = sorted(rules, key=lambda r: r.RULE_ID)
    while pending:
        ready = [r for r in pending if all(d in {x.RULE_ID for x in done} for d in r.DEPENDS_ON)]
        if not ready:
            raise LookupError(f"rule dependencies cannot be met: {[r.RULE_ID for r in pending]}")
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def run_rules(ctx: RuleContext) -> list[Finding]:
    """Run every rule on one scope; each finding names the scope's input and its evidence is in event order."""
    found: list[Finding] = []
    for rule in run_order():
        ctx.findings[rule.RULE_ID] = rule.check(ctx)
        found += ctx.findings[rule.RULE_ID]
    for finding in found:
        finding.input = ctx.input
        finding.evidence.sort(key=lambda e: -1 if e.index is None else e.index)
    return found


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by rule id and place in the evidence."""
    return sorted(findings, key=lambda f: (-f.severity, f.rule, f.at_index if f.at_index is not None else -1))


def describe() -> list[dict]:
    """id, title and documentation of every rule (for `wdftriage rules`)."""
    return [{"id": r.RULE_ID, "title": r.TITLE, "doc": (r.__doc__ or "").strip(), "depends_on": list(r.DEPENDS_ON)}
            for r in sorted(RULES, key=lambda r: r.RULE_ID)]
