"""WDF005 completion errors.

Pattern: the framework reports a completion it refused or flagged ("WDFREQUEST 0x... has already been
completed", "Completing Cancelable WDFREQUEST ...", "IRP ... of WDFREQUEST ... cannot be completed"),
or the evidence shows the same request completed twice with no new arrival of that handle in between.

Why it matters: completing a request twice or while it is still cancelable races with the cancel
routine; the second completion touches a freed IRP and ends in memory corruption or a 0x10D/0x44
bugcheck far from the real culprit.

Usual fix: have exactly one owner complete a request; call WdfRequestUnmarkCancelable before
WdfRequestComplete and, if it returns STATUS_CANCELLED, let the cancel routine complete it.
"""
from __future__ import annotations

from analyzer.events import EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, hexh

RULE_ID = "WDF005"
TITLE = "Request completion error"

_ARRIVALS = {EventKind.REQUEST_QUEUED, EventKind.REQUEST_PRESENTED}


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per request with a completion error or a double completion."""
    problems: dict[int, list[tuple[int, str]]] = {}
    completed_at: dict[int, int] = {}
    for e in ctx.events:
        if e.request is None:
            continue
        if e.kind in _ARRIVALS:
            completed_at.pop(e.request, None)
        elif e.kind is EventKind.REQUEST_COMPLETED:
            if e.request in completed_at:
                problems.setdefault(e.request, []).append((completed_at[e.request], "first completion"))
                problems[e.request].append((e.index, "completed again"))
            completed_at[e.request] = e.index
        elif e.kind is EventKind.COMPLETION_ERROR:
            problems.setdefault(e.request, []).append((e.index, e.detail or "completion error"))
    return [_finding(ctx, request, lines) for request, lines in problems.items()]


def _finding(ctx: RuleContext, request: int, lines: list[tuple[int, str]]) -> Finding:
    lines = sorted(set(lines))
    what = sorted({role for _, role in lines if role not in ("first completion", "completed again")})
    if any(role == "completed again" for _, role in lines):
        what.insert(0, "completed twice")
    at = next(i for i, role in lines if role != "first completion")
    event = ctx.events[at]
    queue = next((e.queue for e in ctx.events if e.request == request and e.queue is not None), None)
    return Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.ERROR,
        summary=f"WDFREQUEST {hexh(request)}: {', '.join(what)}",
        probable_cause=("More than one code path completes this request (or completes it while it is still "
                        "cancelable), racing with the cancel routine or another completion."),
        suggested_fix=("Give each request exactly one completing owner; WdfRequestUnmarkCancelable before "
                       "WdfRequestComplete, and leave STATUS_CANCELLED requests to the cancel routine."),
        log=event.log, queue=queue, request=request,
        evidence=[ctx.evidence(i, role) for i, role in lines],
        at_index=at, at_time=event.timestamp, facts={"problems": what},
    )
