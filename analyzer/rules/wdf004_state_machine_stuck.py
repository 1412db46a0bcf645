"""WDF004 state machine stuck.

Pattern: a device's last PnP, power, power-policy (or other framework) state in the evidence is a
transitional one: a step the framework normally passes through quickly, not a state a device rests in
(Started, D0, Dx armed for wake, WaitingArmed, Stopped, Removed...; see :mod:`analyzer.states`).
Also: the power-idle machine stays "busy" with no request in flight for longer than an idle timeout
would allow, which means a power reference (WdfDeviceStopIdle) was taken and never released.

Why it matters: a machine left mid-transition is waiting for an event that never came: an
acknowledged request, a child's power-down, a callback that never returned, a wake signal. That is
the hang the user sees (sleep that never finishes, removal that never completes). A device whose
idle machine stays busy never idles to Dx and wastes power.

Usual fix: look at what the state waits for (the events before it in the log, !wdfkd.wdfdevice with
state history), find the driver callback or request behind it; pair every WdfDeviceStopIdle with a
WdfDeviceResumeIdle.
"""
from __future__ import annotations

from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, duration_text, hexh, records, seconds_between
from analyzer.states import MACHINE_TITLES, short_name

RULE_ID = "WDF004"
TITLE = "State machine stuck"
DEPENDS_ON = ()

LONG_WAIT_SECONDS = 60.0  # a transition still pending after this long is an error, not a snapshot
IDLE_BUSY_SECONDS = 60.0  # longer than common idle timeouts: busy with no I/O means a held power reference


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per device whose machines are left in transitional states."""
    rows = records(ctx.states, ("device", "devobj", "machine", "state", "index", "transitional"))
    newest, devobj = {}, {}  # (device, machine) -> its last transition; device -> the devobj of its last one
    for at, row in enumerate(rows):
        if row["device"] is not None:
            devobj[row["device"]] = row["devobj"]
            if row["machine"] is not None:
                newest[(row["device"], row["machine"])] = at
    last: dict[int, list[dict]] = {device: [] for device in devobj}  # devices as first seen
    for at in sorted(newest.values()):
        last[rows[at]["device"]].append(rows[at])
    findings = []
    for device, rows in last.items():
        stuck = [r for r in rows if r["transitional"]]
        idle_busy = _idle_busy_without_io(ctx, device, rows)
        if stuck or idle_busy is not None:
            findings.append(_finding(ctx, device, devobj[device], stuck, idle_busy))
    return findings


def _idle_busy_without_io(ctx: RuleContext, device: int, last: list[dict]) -> dict | None:
    idle = [r for r in last if r["machine"] == "idle"]
    if not idle or idle[-1]["state"] != "FxIdleBusy":
        return None
    row = idle[-1]
    if any(r["device"] == device for r in ctx.outstanding()):
        return None
    event = ctx.events[int(row["index"])]
    waited = seconds_between(event.timestamp, ctx.end_time(event.log))
    return row if waited is not None and waited >= IDLE_BUSY_SECONDS else None


def _finding(ctx: RuleContext, device: int, devobj: int | None, stuck: list, idle_busy) -> Finding:
    first = min((int(r["index"]) for r in stuck), default=None)
    if first is None:
        first = int(idle_busy["index"])
    event = ctx.events[first]
    end = ctx.end_time(event.log)
    parts, evidence = [], []
    for r in stuck:
        e = ctx.events[int(r["index"])]
        parts.append(f"{MACHINE_TITLES.get(r['machine'], r['machine'])} in {short_name(r['machine'], r['state'])}"
                     f"{duration_text(e.timestamp, end)}")
        evidence.append(ctx.evidence(int(r["index"]), f"last {MACHINE_TITLES.get(r['machine'], r['machine'])} state"))
    if idle_busy is not None:
        e = ctx.events[int(idle_busy["index"])]
        parts.append(f"power idle busy with no request in flight{duration_text(e.timestamp, end)}")
        evidence.append(ctx.evidence(int(idle_busy["index"]), "idle machine busy (power reference held)"))
    waited = seconds_between(event.timestamp, end)
    if stuck:
        long_wait = waited is not None and waited >= LONG_WAIT_SECONDS
        severity = Severity.ERROR if long_wait or ctx.is_9f() else Severity.WARNING
        cause = ("The evidence ends with the device mid-transition: the framework is waiting for something that "
                 "never happened (a request to be acknowledged, a callback to return, a child or parent to move).")
        fix = (f"Look at the events just before the transition and at !wdfkd.wdfdevice {hexh(device)} ff to see "
               "what the state waits for.")
    else:
        severity = Severity.WARNING
        cause = ("The power idle state machine went busy (a power reference was taken) and never returned to "
                 "idle although no request is in flight: a WdfDeviceStopIdle without its WdfDeviceResumeIdle.")
        fix = "Pair every WdfDeviceStopIdle with WdfDeviceResumeIdle (enable TrackPower to find the call site)."
    return Finding(
        rule=RULE_ID, title=TITLE, severity=severity,
        summary=f"WDFDEVICE {hexh(device)}: " + "; ".join(parts),
        probable_cause=cause, suggested_fix=fix, log=event.log, device=device, evidence=evidence,
        at_index=first, at_time=event.timestamp,
        facts={"devobj": hexh(devobj) if devobj else None,
               "machines": {r["machine"]: r["state"] for r in stuck},
               "idle_busy_without_io": idle_busy is not None, "waited_seconds": waited},
    )
