"""WDF002 EvtIoStop never acknowledged.

Pattern: the framework logged "Power Stop Notifying Driver, WDFQUEUE Q, WDFREQUEST R" (or the purge
variant), i.e. it called the driver's EvtIoStop for an in-flight request R while powering the queue
down, and nothing after that acknowledges (WdfRequestStopAcknowledge), completes or requeues R, and
the queue never reaches "powered off".

Why it matters: a power-managed queue cannot power off while a request it delivered is neither
completed nor acknowledged, so the device's power-down never finishes. On a system sleep that is
the classic DRIVER_POWER_STATE_FAILURE (0x9F, subcode 3) hang: the S-IRP is blocked until the
watchdog bugchecks the machine.

Usual fix: in EvtIoStop, for each request either complete it, cancel the I/O you sent for it, or
call WdfRequestStopAcknowledge (with requeue TRUE if it is still on a queue the driver owns); and
make sure the code path that "will complete it later" really runs while the device is going to Dx.
"""
from __future__ import annotations

from analyzer.events import EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, duration_text, hexh, opt_int, seconds_between
from analyzer.states import short_name

RULE_ID = "WDF002"
TITLE = "EvtIoStop never acknowledged"
DEPENDS_ON = ()

_RESOLVES = frozenset({EventKind.REQUEST_ACKNOWLEDGED, EventKind.REQUEST_COMPLETE_CALLED, EventKind.REQUEST_COMPLETED,
                       EventKind.REQUEST_REQUEUED, EventKind.REQUEST_CANCELLED})
_QUEUE_DONE = frozenset({EventKind.QUEUE_POWERED_OFF, EventKind.QUEUE_POWERED_ON})
_POWER_ACTION = frozenset({EventKind.QUEUE_POWER_ACTION})
_WAITS = frozenset({EventKind.QUEUE_WAITING_DRIVER, EventKind.QUEUE_WAITING})


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per request handed to EvtIoStop and never acknowledged or completed."""
    findings, seen = [], set()
    for index in ctx.row_numbers(ctx.where(EventKind.POWER_STOP_NOTIFY)):
        notify = ctx.events[index]
        if notify.request in seen:
            continue
        if ctx.next_after(index, _RESOLVES, "request", notify.request) is not None or \
                ctx.next_after(index, _QUEUE_DONE, "queue", notify.queue) is not None:
            continue
        seen.add(notify.request)
        findings.append(_finding(ctx, notify))
    return findings


def _finding(ctx: RuleContext, notify) -> Finding:
    row = ctx.last_request(notify.request)
    device = opt_int(row["device"]) if row is not None else None
    evidence = []
    if row is not None:
        for column, role in (("queued_index", "request queued"), ("presented_index", "request presented to the driver")):
            at = opt_int(row[column])
            if at is not None and at < notify.index:
                evidence.append(ctx.evidence(at, role))
    start = ctx.last_before(notify.index, _POWER_ACTION, "device", device) if device is not None else \
        ctx.last_before(notify.index, _POWER_ACTION)
    if start is not None:
        evidence.append(ctx.evidence(start, "power-down of the device's queues begins"))
    evidence.append(ctx.evidence(notify.index, f"EvtIoStop called ({notify.detail})"))
    for wait in ctx.all_after(notify.index, _WAITS, "queue", notify.queue, limit=3):
        evidence.append(ctx.evidence(wait, "framework waits for the driver"))
    power = ctx.last_state(device, "power")
    stuck_in = ""
    if power is not None and int(power["index"]) > notify.index:
        evidence.append(ctx.evidence(int(power["index"]), "last power state"))
        stuck_in = f"; the device's power state machine is left in {short_name('power', power['state'])}"
    waited = duration_text(notify.timestamp, ctx.end_time(notify.log))
    return Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.CRITICAL if ctx.is_9f() else Severity.ERROR,
        summary=(f"WDFREQUEST {hexh(notify.request)} on WDFQUEUE {hexh(notify.queue)}"
                 f"{' of WDFDEVICE ' + hexh(device) if device is not None else ''} was handed to EvtIoStop and "
                 f"never acknowledged or completed{waited}"),
        probable_cause=("The driver's EvtIoStop neither completed the request nor called WdfRequestStopAcknowledge, "
                        f"so the power-managed queue cannot power off and the device cannot leave D0{stuck_in}. "
                        "During a system sleep this blocks the power IRP until the 0x9F watchdog fires."),
        suggested_fix=("In EvtIoStop complete the request, cancel the I/O sent for it, or call "
                       "WdfRequestStopAcknowledge(Request, requeue); check with !wdfkd.wdfrequest "
                       f"{hexh(notify.request)} who owns it now."),
        log=notify.log, device=device, queue=notify.queue, request=notify.request, evidence=evidence,
        requests_explained=(notify.request,),
        at_index=notify.index, at_time=notify.timestamp,
        facts={"stop_action": notify.detail, "waited_seconds": seconds_between(notify.timestamp, ctx.end_time(notify.log))},
    )
