"""WDF007 bugcheck decoded: WDF_VIOLATION (0x10D) and DRIVER_POWER_STATE_FAILURE (0x9F).

Pattern: a bugcheck code and its parameters are known (from a dump header, a pasted `!analyze -v`,
or `--bugcheck`). The parameters are decoded with the documented tables and tied to what the log
shows: for 0x9F, the unacknowledged request or stalled queue found by WDF001/WDF002; for 0x10D the
handle named by the parameters.

Why it matters: the four numbers are the only evidence many bug reports carry; decoded, they say which
rule of the framework the driver broke or which power IRP was blocked.

Usual fix: depends on the subcode (see the finding); for 0x9F subcode 3 with a KMDF driver, look for
requests the driver did not acknowledge in EvtIoStop.
"""
from __future__ import annotations

from analyzer.bugcheck import decode
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, hexh

RULE_ID = "WDF007"
TITLE = "Bugcheck decoded"
DEPENDS_ON = ("WDF002", "WDF001", "WDF004")  # the log findings that explain a 0x9F, most specific first

_HANDLE_PARAMETER = {0x3: 1, 0x5: 1, 0x7: 1, 0x8: 1, 0xC: 1, 0xD: 1}  # 0x10D P1 -> index of the handle parameter


def check(ctx: RuleContext) -> list[Finding]:
    """One finding for a known 0x10D or 0x9F bugcheck."""
    bug = ctx.bugcheck
    if bug is None or bug.code not in (0x9F, 0x10D):
        return []
    decoded = decode(bug)
    related = [f for rule in DEPENDS_ON for f in ctx.findings_of(rule)] if bug.code == 0x9F else []
    cause = decoded["summary"]
    if related:
        cause += " The log explains it: " + "; ".join(f"{f.rule} {f.summary}" for f in related[:3]) + "."
    handle = None
    if bug.code == 0x10D and bug.parameters[0] in _HANDLE_PARAMETER:
        handle = bug.parameters[_HANDLE_PARAMETER[bug.parameters[0]]]
    params = ", ".join(hexh(p) for p in bug.parameters)
    return [Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.CRITICAL,
        summary=f"{decoded['name']} ({bug.code:#x}) {decoded['subtype'] or ''} {{{params}}}".replace("  ", " "),
        probable_cause=cause,
        suggested_fix=decoded["advice"] + (f" Handle named by the bugcheck: {hexh(handle)}." if handle else ""),
        evidence=[line for f in related[:2] for line in f.evidence[:3]],
        device=next((f.device for f in related if f.device is not None), None),
        request=next((f.request for f in related if f.request is not None), None),
        facts={"decoded": decoded, "source": bug.source, "failure_bucket": bug.failure_bucket,
               "image_name": bug.image_name, "module_name": bug.module_name},
    )]
