"""WDF007 bugcheck decoded: any bugcheck named and explained; WDF_VIOLATION (0x10D) and
DRIVER_POWER_STATE_FAILURE (0x9F) decoded by subcode; KMDF involvement stated with its evidence.

Pattern: a bugcheck code and its parameters are known (from a dump header, pasted `!analyze`/kd text, or
`--bugcheck`). The parameters are explained (the paste's own meanings, else the documented ones) and tied
to what the log shows: for 0x9F, the unacknowledged request or stalled queue found by WDF001/WDF002, else the
object the debugger's WDF analysis names (``Reason: ..., WDFQUEUE 0x...``); for 0x10D the handle named by the
parameters. KMDF involvement is a fact with evidence (a framework log, framework stack frames, 0x10D, framework
names in the bucket, the debugger's own WDF analysis); without it the finding says the driver is not shown to
be a KMDF driver and gives no KMDF advice. Parameters the evidence does not hold are "not in the evidence".

Why it matters: the four numbers are the only evidence many bug reports carry; decoded, they say which
rule of the framework the driver broke or which power IRP was blocked.

Usual fix: depends on the subcode (see the finding); for 0x9F subcode 3 with a KMDF driver, look for
requests the driver did not acknowledge in EvtIoStop.
"""
from __future__ import annotations

import numpy as np

from analyzer.bugcheck import decode, named_objects, shown
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, hexh

RULE_ID = "WDF007"
TITLE = "Bugcheck decoded"
DEPENDS_ON = ("WDF002", "WDF001", "WDF004")  # the log findings that explain a 0x9F, most specific first

_KMDF_ADVICE = ("!wdfkd.wdflogdump <driver> shows what the framework logged about the driver's last calls; the driver "
                "frame that called into the framework is where to start.")
_VIEW_COMMAND = {"WDFDEVICE": "!wdfkd.wdfdevice", "WDFQUEUE": "!wdfkd.wdfqueue", "WDFREQUEST": "!wdfkd.wdfrequest"}
_FINDING_FIELD = {"WDFDEVICE": "device", "WDFQUEUE": "queue", "WDFREQUEST": "request"}
_HANDLE_PARAMETER = {0x3: 1, 0x5: 1, 0x7: 1, 0x8: 1, 0xC: 1, 0xD: 1}  # 0x10D P1 -> index of the handle parameter
_REQUEST_FATAL_HANDLE = {0x2, 0x3, 0x5}  # 0x10D P1 0x6 (request fatal error): the P2 whose P3 is the WDFREQUEST handle


def kmdf_involvement(ctx: RuleContext, decoded: dict) -> list[str]:
    """Evidence that a KMDF driver is involved: the bugcheck's own, then framework messages in the logs."""
    evidence = list(decoded["kmdf_evidence"])
    typed = np.flatnonzero(ctx.scope["catalog_id"].notna().to_numpy())  # positions of framework messages
    if len(typed):
        evidence.append(f"{len(typed)} framework log message(s), first at {ctx.events[ctx.row_numbers(typed[:1])[0]].ref}")
    blamed = (ctx.bugcheck.module_name or "").lower().removesuffix(".sys")
    if blamed and blamed in {str(name).lower() for name in ctx.scope["log"].iloc[typed].unique()}:
        evidence.append(f"the blamed driver {ctx.bugcheck.module_name} has a KMDF log (it is a KMDF driver)")
    return evidence


def _generic_advice(code: int, params: tuple, decoded: dict) -> str:
    if code == 0x9F and params[0] == 0x3:
        return (f"!irp {shown(params[3])} shows the blocked power IRP and the driver holding it; !devstack "
                f"{shown(params[1])} the device stack; !poaction the power action in progress.")
    driver = next((f["frame"] for f in decoded["frames"] if f["role"] == "driver"), None)
    return f"Start from the first driver frame on the stack: {driver}." if driver else ""


def _analysis_reason(bug, objects: list[dict]) -> tuple[str, str]:
    """(cause, advice) sentences from the debugger's WDF analysis: its reason, and where to look at each object it
    names (an object whose handle the paste cut off is said to be so)."""
    if len(bug.framework_analysis) < 2:
        return "", ""
    reason = bug.framework_analysis[1].split(":", 1)[1].strip()
    cut = [o["type"] for o in objects if o["handle"] is None]
    cause = f" The debugger's WDF analysis gives the reason: {reason}" + (
        f" (the {', '.join(cut)} handle is not in the evidence)." if cut else ".")
    views = [f"{_VIEW_COMMAND.get(o['type'], '!wdfkd.wdfhandle')} {hexh(o['handle'])}" for o in objects
             if o["handle"] is not None]
    advice = f"{'; '.join(views)} shows the object the framework waits on. " if views else ""
    return cause, advice


def check(ctx: RuleContext) -> list[Finding]:
    """One finding for a known bugcheck."""
    bug = ctx.bugcheck
    if bug is None:
        return []
    decoded = decode(bug)
    involvement = kmdf_involvement(ctx, decoded)
    related = [f for rule in DEPENDS_ON for f in ctx.findings_of(rule)] if bug.code == 0x9F else []
    cause = decoded["summary"]
    objects = named_objects(bug)
    reason, views = _analysis_reason(bug, objects)
    cause += reason
    if related:
        cause += " The log explains it: " + "; ".join(f"{f.rule} {f.summary}" for f in related[:3]) + "."
    if involvement:
        cause += " KMDF is involved: " + "; ".join(involvement) + "."
        advice = views + (decoded["advice"] or _generic_advice(bug.code, bug.parameters, decoded) or _KMDF_ADVICE)
    else:
        cause += (" The evidence does not show that the driver is a KMDF driver (no framework log, no framework "
                  "stack frames, not a WDF_VIOLATION), so no KMDF advice is given.")
        advice = _generic_advice(bug.code, bug.parameters, decoded)
    handle = None
    if bug.code == 0x10D and bug.parameters[0] in _HANDLE_PARAMETER:
        handle = bug.parameters[_HANDLE_PARAMETER[bug.parameters[0]]]
    if bug.code == 0x10D and bug.parameters[0] == 0x6 and bug.parameters[1] in _REQUEST_FATAL_HANDLE and \
            bug.parameters[2] is not None:
        objects = [*objects, {"type": "WDFREQUEST", "handle": bug.parameters[2]}]
        advice = f"{_VIEW_COMMAND['WDFREQUEST']} {hexh(bug.parameters[2])} shows the request. " + advice
    params = ", ".join(shown(p) for p in bug.parameters)
    named = {_FINDING_FIELD[o["type"]]: o["handle"] for o in reversed(objects)
             if o["type"] in _FINDING_FIELD and o["handle"] is not None}
    return [Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.CRITICAL,
        summary=" ".join(f"{decoded['name']} ({bug.code:#x}) {decoded['subtype'] or ''} {{{params}}}".split()),
        probable_cause=cause.strip(),
        suggested_fix=(advice + (f" Handle named by the bugcheck: {hexh(handle)}." if handle is not None else "")).strip(),
        evidence=[line for f in related[:2] for line in f.evidence[:3]],
        device=next((f.device for f in related if f.device is not None), named.get("device")),
        queue=next((f.queue for f in related if f.queue is not None), named.get("queue")),
        request=next((f.request for f in related if f.request is not None), named.get("request")),
        facts={"decoded": decoded, "source": bug.source, "failure_bucket": bug.failure_bucket,
               "image_name": bug.image_name, "module_name": bug.module_name, "kmdf_shown": bool(involvement),
               "kmdf_evidence": involvement},
    )]
