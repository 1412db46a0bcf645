"""WDF001 stalled power-managed queue.

Pattern: a power-managed queue (one the framework powers down and up with its device) that either
(a) began a power stop or purge with in-flight requests and never got to "powered off" or back on:
the framework is still waiting for the driver to complete or acknowledge what it delivered; or
(b) still holds requests, waiting on the queue or owned by the driver, while its device left D0 and
never came back by the end of the evidence.

Why it matters: a power-managed queue only dispatches in D0 and blocks the device's power-down until
every request it delivered is completed, cancelled or acknowledged. (a) hangs the power transition
(0x9F on a system sleep, a device stuck in Dx transitions on idle); (b) leaves applications waiting on
I/O that will not be dispatched until something powers the device up again.

Usual fix: give the queue an EvtIoStop that acknowledges or completes in-flight requests; don't keep
requests delivered from a power-managed queue pending indefinitely (move long-lived requests to a
manual, non-power-managed queue); a driver above the power policy owner must not use power-managed
queues.
"""
from __future__ import annotations

from analyzer.events import EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, duration_text, hexh, records, seconds_between
from analyzer.states import is_d0, short_name

RULE_ID = "WDF001"
TITLE = "Stalled power-managed queue"
DEPENDS_ON = ()

_EPISODE_END = {EventKind.QUEUE_POWERED_OFF.value, EventKind.QUEUE_POWERED_ON.value}
_IN_FLIGHT = ("stop with in-flight requests", "purge with in-flight requests")
_WAITS = {EventKind.QUEUE_WAITING_DRIVER.value, EventKind.QUEUE_WAITING.value, EventKind.POWER_STOP_NOTIFY.value}


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per stalled queue."""
    by_queue: dict[int, list[dict]] = {}  # queues as first seen
    for row in records(ctx.queues, ("queue", "device", "index", "kind", "power_state", "detail")):
        by_queue.setdefault(row["queue"], []).append(row)
    if not by_queue:
        return []
    outstanding_on: dict[int, list[dict]] = {}
    for row in ctx.outstanding():
        if row["queue"] is not None:
            outstanding_on.setdefault(row["queue"], []).append(row)
    findings = []
    for queue, rows in by_queue.items():
        if not any(r["power_state"] is not None or r["kind"] == EventKind.QUEUE_POWER_STOP.value for r in rows):
            continue  # not power-managed: the framework never powered it down or up
        outstanding = outstanding_on.get(queue, [])
        finding = _stop_never_finished(ctx, queue, rows, outstanding) or \
            _held_while_out_of_d0(ctx, queue, rows, outstanding)
        if finding:
            finding.requests_explained = tuple(r["request"] for r in outstanding)
            findings.append(finding)
    return findings


def _stop_never_finished(ctx, queue: int, rows: list[dict], outstanding: list[dict]) -> Finding | None:
    stops = [r for r in rows if r["kind"] == EventKind.QUEUE_POWER_STOP.value and r["detail"] in _IN_FLIGHT]
    if not stops:
        return None
    start = stops[-1]
    after = [r for r in rows if r["index"] > start["index"]]
    if any(r["kind"] in _EPISODE_END for r in after):
        return None
    device = start["device"]
    evidence = [ctx.evidence(start["index"], "queue power-down begins with in-flight requests")]
    waits = [r for r in after if r["kind"] in _WAITS]
    evidence += [ctx.evidence(r["index"], "framework waits on the driver") for r in waits[:4]]
    evidence += _request_lines(ctx, outstanding)
    first = ctx.events[start["index"]]
    states = [r["power_state"] for r in after if r["power_state"] is not None]
    state = states[-1] if states else start["power_state"]
    return Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.CRITICAL if ctx.is_9f() else Severity.ERROR,
        summary=(f"WDFQUEUE {hexh(queue)}{_of(device)} began powering down with in-flight requests and never "
                 f"finished{duration_text(first.timestamp, ctx.end_time(first.log))}"
                 f"{'; queue power state ' + state if state else ''}"),
        probable_cause=("The framework is waiting for the driver to complete or acknowledge requests it delivered "
                        f"from this power-managed queue ({len(outstanding)} still outstanding); the device's "
                        "power-down cannot finish until it does."),
        suggested_fix=("Acknowledge or complete in-flight requests in EvtIoStop; do not keep requests from a "
                       f"power-managed queue pending; inspect with !wdfkd.wdfqueue {hexh(queue)}."),
        log=first.log, device=device, queue=queue, evidence=evidence, at_index=start["index"],
        at_time=first.timestamp,
        facts={"case": "power stop never finished", "outstanding": [hexh(r["request"]) for r in outstanding],
               "queue_power_state": state,
               "waited_seconds": seconds_between(first.timestamp, ctx.end_time(first.log))},
    )


def _held_while_out_of_d0(ctx, queue: int, rows: list[dict], outstanding: list[dict]) -> Finding | None:
    if not outstanding:
        return None
    device = rows[-1]["device"]
    power = ctx.last_state(device, "power")
    if power is None or is_d0(power["state"]) or int(power["index"]) < min(r["first_index"] for r in outstanding):
        return None
    left = ctx.events[int(power["index"])]
    evidence = _request_lines(ctx, outstanding) + [ctx.evidence(int(power["index"]), "device left D0")]
    return Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.CRITICAL if ctx.is_9f() else Severity.WARNING,
        summary=(f"WDFQUEUE {hexh(queue)}{_of(device)} holds {len(outstanding)} request(s) while the device is in "
                 f"{short_name('power', power['state'])}{duration_text(left.timestamp, ctx.end_time(left.log))}"),
        probable_cause=("The device left D0 and did not come back, so its power-managed queue does not dispatch; "
                        "requests waiting on it (or still owned by the driver) do not complete."),
        suggested_fix=("Find out why the device is not powering up (power reference, wake, idle settings); keep "
                       "long-lived requests on a non-power-managed queue."),
        log=left.log, device=device, queue=queue, evidence=evidence, at_index=int(power["index"]),
        at_time=left.timestamp,
        facts={"case": "requests held out of D0", "outstanding": [hexh(r["request"]) for r in outstanding],
               "power_state": power["state"]},
    )


def _request_lines(ctx, outstanding: list[dict]) -> list:
    return [ctx.evidence(r["first_index"], f"request {hexh(r['request'])} arrives, never completed")
            for r in outstanding[:5]]


def _of(device: int | None) -> str:
    return f" of WDFDEVICE {hexh(device)}" if device is not None else ""
