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

from bisect import bisect_right

import pandas as pd

from analyzer.events import EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, hexh, opt_int

RULE_ID = "WDF003"
TITLE = "Leaked request"
DEPENDS_ON = ("WDF001", "WDF002")  # requests they explain are not reported again here

_REMOVAL_STATES = ("Removing", "Removed", "SurpriseRemove", "Final")
_PURGE = {"purge with in-flight requests", "purge without in-flight requests"}
_ARRIVALS = (EventKind.REQUEST_QUEUED.value, EventKind.REQUEST_PRESENTED.value)
_POWER_ACTION = frozenset({EventKind.QUEUE_POWER_ACTION})


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per outstanding request no earlier rule explained."""
    explained = {r for rule in DEPENDS_ON for f in ctx.findings_of(rule) for r in f.requests_explained}
    rows = [row for row in ctx.outstanding() if row["request"] not in explained]
    if not rows:
        return []
    teardown = _Teardowns(ctx)
    return [_finding(ctx, row, row["request"], teardown) for row in rows]


def _finding(ctx: RuleContext, row, request: int, teardowns: "_Teardowns") -> Finding:
    first, queue, device = int(row["first_index"]), opt_int(row["queue"]), opt_int(row["device"])
    teardown = teardowns.after(first, queue, device)
    power_down = ctx.next_after(first, _POWER_ACTION, "device", device) if device is not None else \
        ctx.next_after(first, _POWER_ACTION)
    event = ctx.events[first]
    evidence = [ctx.evidence(first, "request arrives" if event.kind.value in _ARRIVALS else "request first seen", event)]
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


class _Teardowns:
    """Where queues are purged or shut down and devices removed, for 'the first teardown after row N'."""

    def __init__(self, ctx: RuleContext):
        self.ctx = ctx
        purges = ctx.rows(EventKind.QUEUE_POWER_STOP)
        rows = pd.concat([ctx.rows(EventKind.QUEUE_SHUTDOWN)[["queue"]], purges[purges["detail"].isin(list(_PURGE))][["queue"]]])
        rows = rows[rows["queue"].notna()].sort_index()
        self.by_queue = {int(q): v.index.to_numpy() for q, v in rows.groupby("queue", sort=False)}
        states = ctx.rows(EventKind.STATE)[["machine", "state", "device"]]
        states = states[(states["machine"] == "pnp") &
                        states["state"].astype(object).str.contains("|".join(_REMOVAL_STATES), na=False)]
        self.any_device = states.index.to_numpy()
        self.by_device = {int(d): v.index.to_numpy() for d, v in states[states["device"].notna()].groupby(
            "device", sort=False)}

    def after(self, first: int, queue: int | None, device: int | None) -> int | None:
        candidates = [_first_after(self.by_queue.get(queue, ()) if queue is not None else (), first),
                      _first_after(self.by_device.get(device, ()) if device is not None else self.any_device, first)]
        found = [c for c in candidates if c is not None]
        return min(found) if found else None


def _first_after(positions, after: int) -> int | None:
    at = bisect_right(positions, after)
    return int(positions[at]) if at < len(positions) else None
