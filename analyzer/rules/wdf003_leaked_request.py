"""WDF003 leaked request.

Pattern: a request the framework queued or presented to the driver that is never completed (or
cancelled on the queue) by the end of the evidence. Error when it is still outstanding after its
queue was purged or shut down or its device was removed: those paths complete or cancel every
request, so one that survives them is lost. Warning when the device went through a power-down or
stop after the request arrived (EvtIoStop should have dealt with it). Information otherwise: a
request in flight at the end of a log may simply be pended on purpose (e.g. an inverted call).

Why it matters: a leaked request keeps its IRP pending forever: the application's I/O never
returns, the queue cannot finish a purge, and device removal hangs waiting for it.

Usual fix: make sure every path completes the request exactly once (WdfRequestComplete*), including
error and cancellation paths; mark long-pended requests cancelable (WdfRequestMarkCancelableEx) or
keep them on a manual queue so the framework can cancel them on purge.
"""
from __future__ import annotations

from analyzer.events import EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, hexh, opt_int

RULE_ID = "WDF003"
TITLE = "Leaked request"

_REMOVAL_STATES = ("Removing", "Removed", "SurpriseRemove", "Final")
_PURGE = {"purge with in-flight requests", "purge without in-flight requests"}


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per outstanding request no earlier rule explained."""
    findings = []
    outstanding = ctx.requests[ctx.requests["outcome"] == "outstanding"]
    for _, row in outstanding.iterrows():
        request = int(row["request"])
        if request in ctx.explained_requests:
            continue
        findings.append(_finding(ctx, row, request))
    return findings


def _finding(ctx: RuleContext, row, request: int) -> Finding:
    first, queue, device = int(row["first_index"]), opt_int(row["queue"]), opt_int(row["device"])
    teardown = _teardown_after(ctx, first, queue, device)
    power_down = _power_down_after(ctx, first, device)
    arrival = ctx.events[first].kind in (EventKind.REQUEST_QUEUED, EventKind.REQUEST_PRESENTED)
    evidence = [ctx.evidence(first, "request arrives" if arrival else "request first seen")]
    presented = opt_int(row["presented_index"])
    if presented is not None and presented != first:
        evidence.append(ctx.evidence(presented, f"presented to the driver ({row['callback']})"))
    if teardown is not None:
        severity, where = Severity.ERROR, "was still outstanding after its queue was purged or its device removed"
        evidence.append(ctx.evidence(teardown, "queue purged / device removed"))
    elif power_down is not None:
        severity, where = Severity.WARNING, "stayed outstanding across a power-down of its device"
        evidence.append(ctx.evidence(power_down, "device powers down"))
    else:
        severity, where = Severity.INFO, "is still in flight at the end of the evidence"
    event = ctx.events[first]
    return Finding(
        rule=RULE_ID, title=TITLE, severity=severity,
        summary=(f"WDFREQUEST {hexh(request)}{' on WDFQUEUE ' + hexh(queue) if queue is not None else ''}"
                 f"{' (' + row['callback'] + ')' if row['callback'] else ''} {where}"),
        probable_cause=("No completion of this request appears after it was delivered: a code path in the driver "
                        "keeps it without completing it (or completes a different handle)."),
        suggested_fix=("Make every path complete the request exactly once; mark long-pended requests cancelable or "
                       f"keep them on a manual queue. Inspect with !wdfkd.wdfrequest {hexh(request)}."),
        log=event.log, device=device, queue=queue, request=request, evidence=evidence,
        at_index=teardown if teardown is not None else first,
        at_time=ctx.events[teardown].timestamp if teardown is not None else event.timestamp,
        facts={"callback": row["callback"], "irp": hexh(opt_int(row["irp"])) if opt_int(row["irp"]) else None},
    )


def _teardown_after(ctx: RuleContext, first: int, queue: int | None, device: int | None) -> int | None:
    for e in ctx.events[first + 1:]:
        if e.queue is not None and e.queue == queue and (
                e.kind is EventKind.QUEUE_SHUTDOWN or (e.kind is EventKind.QUEUE_POWER_STOP and e.detail in _PURGE)):
            return e.index
        if e.kind is EventKind.STATE and e.machine == "pnp" and (device is None or e.device == device) \
                and any(word in (e.state or "") for word in _REMOVAL_STATES):
            return e.index
    return None


def _power_down_after(ctx: RuleContext, first: int, device: int | None) -> int | None:
    for e in ctx.events[first + 1:]:
        if e.kind is EventKind.QUEUE_POWER_ACTION and (device is None or e.device == device):
            return e.index
    return None
