"""WDF006 dropped state-machine events.

Pattern: the framework logged that a PnP, power or power-policy state machine dropped an event
("current power state X dropping event Y", "... because of a full queue", "... is not a known dropped
event").

Why it matters: a dropped event is a transition that will never happen. An event dropped because the
machine's queue is full or closed, or one the framework does not expect in that state, usually
explains a later hang (a wake or power-up that never arrives) and often points at the driver sending
requests or power IRPs the framework did not expect (e.g. two power policy owners).

Usual fix: read the state and event named in the message against the driver's power policy setup
(WdfDeviceInitSetPowerPolicyOwnership, S0/Sx idle and wake settings); a full queue means events arrive
faster than the machine processes them, often because a callback blocks.
"""
from __future__ import annotations

from analyzer.events import EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, hexh
from analyzer.states import MACHINE_TITLES, short_name

RULE_ID = "WDF006"
TITLE = "State machine dropped an event"
DEPENDS_ON = ()


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per (device, machine, event, reason), with every occurrence as evidence."""
    groups: dict[tuple, list] = {}
    for index in ctx.row_numbers(ctx.where(EventKind.DROPPED_EVENT)):
        e = ctx.events[index]
        groups.setdefault((e.device, e.machine, e.event, e.detail), []).append(e)
    return [_finding(ctx, key, events) for key, events in groups.items()]


def _finding(ctx: RuleContext, key: tuple, events: list) -> Finding:
    device, machine, event_name, reason = key
    first = events[0]
    times = f" ({len(events)} times)" if len(events) > 1 else ""
    return Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.WARNING,
        summary=(f"WDFDEVICE {hexh(device)}: {MACHINE_TITLES.get(machine, machine)} machine dropped {event_name} in "
                 f"{short_name(machine, first.state or '?')} ({reason}){times}"),
        probable_cause=("The state machine received an event it could not process in its state, so the transition "
                        "that event should have caused never happened."),
        suggested_fix=("Check the driver's power policy configuration and which component sends this event; a full "
                       "queue points at a blocking callback."),
        log=first.log, device=device, evidence=[ctx.evidence(e.index, "event dropped") for e in events[:10]],
        at_index=first.index, at_time=first.timestamp,
        facts={"machine": machine, "event": event_name, "state": first.state, "reason": reason, "count": len(events)},
    )
