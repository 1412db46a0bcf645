"""WDF008 failures the framework or the driver reports: failed driver callbacks, verifier breaks and errors,
framework pool leaked at unload, other error-level framework messages.

Pattern: the framework says so itself. ``EvtDeviceD0Exit WDFDEVICE ... failed, 0xc000009d(STATUS_DEVICE_NOT_CONNECTED)``
(a driver callback returned a failure status: each with its NTSTATUS name), ``FX_POOL ... leaked non-paged memory
alloc ...`` (FxPoolDump at driver unload: KMDF verifier found framework pool the driver never freed), a
verifier message (a ``Vf_`` call site of the framework) or ``Wdf01000!FxVerifierDbgBreakPoint`` in a stack the
paste shows (KMDF verifier stopped in the debugger), and any other framework message at TRACE_LEVEL_ERROR or
above (grouped per message; those that usually mean a caller probing a size or an optional registry value are
informational). The driver's own trace lines too: a line that says something failed (``failed``, ``failure``,
``error``) with an error NTSTATUS (``0xC...``, or a known name of one), or that the trace printed at an error level
(TraceView's level column), grouped per message (the line without its hex digits) and status, the first
:data:`_MAX_DRIVER_MESSAGES` messages each a finding.

Why it matters: these are the lines a person sees at a glance in a log; each names what failed and with what
status.

Usual fix: see each finding: a power callback must not fail for a device that is gone; leaked pool means an
object the driver allocated (WdfMemoryCreate, WdfObjectAllocateContext...) was never deleted or a reference
never released; a verifier break is preceded in the framework log by the message that names the violation.
"""
from __future__ import annotations

import re
from functools import lru_cache

from analyzer.events import ERROR_LEVELS, EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext
from analyzer.timelines import is_in
from parsers import ntstatus
from parsers.catalog import load
from parsers.records import DEBUGGER

RULE_ID = "WDF008"
TITLE = "Failure reported by the framework or driver"
DEPENDS_ON = ()

_CALLBACK = re.compile(r"^(Evt\w+?)(?:%s(\w+))? WDFDEVICE .* failed, %!STATUS!$")
_LEAK = re.compile(r"leaked")
_VERIFIER_BREAK = "FxVerifierDbgBreakPoint"
_BENIGN = {0xC0000023, 0x80000005, 0xC0000034, 0x8000001A}  # buffer too small/overflow, name not found, no more entries
_FAILED = re.compile(r"\b(?:fail(?:ed|s|ure)?|error)\b", re.IGNORECASE)
_STATUS_TOKEN = re.compile(r"\b0[xX]([0-9A-Fa-f]{8})\b|\b(STATUS_[A-Z0-9_]{1,64})\b")
_PRINTED_NAME = re.compile(r"\b0[xX]([0-9A-Fa-f]{8})\s*\(\s*(STATUS_[A-Z0-9_]{1,64})\s*\)")  # 0xc020020b (STATUS_...)
_HEX = str.maketrans("", "", "0123456789abcdefABCDEF")
_MAX_DRIVER_MESSAGES = 50  # distinct failure messages of the driver's own trace reported one by one
_CALLBACK_FIX = {
    "D0Exit": "EvtDeviceD0Exit must not fail a power-down, least of all for hardware that is gone (return "
              "STATUS_SUCCESS when the device is disconnected) and must not block on I/O that cannot complete; a "
              "failure here makes the framework fail the device (PnP Failed) and can hang the power IRP (DRIVER_POWER_STATE_FAILURE).",
    "D0Entry": "EvtDeviceD0Entry failed to power the device up: the framework fails the device and tears the stack "
               "down; check the hardware access and the status returned on every path.",
    "PrepareHardware": "EvtDevicePrepareHardware failed: check the resource list handling and mappings; the device "
                       "does not start.",
}


def _status(text: str) -> str:
    value = ntstatus.parse(text) if isinstance(text, str) else text
    if isinstance(value, int):
        name = ntstatus.name(value)
        return f"0x{value:08x}" + (f" ({name})" if name else "")
    return str(value)


@lru_cache(maxsize=1)
def _sites() -> dict[str, frozenset[str]]:
    """Catalog ids of the messages this rule reads: failed callbacks, leak reports, FxPoolDump's other lines."""
    entries = load().entries
    return {"callback": frozenset(e.id for e in entries if _CALLBACK.match(e.format)),
            "leak": frozenset(e.id for e in entries if _LEAK.search(e.format)),
            "pool": frozenset(e.id for e in entries if e.function == "FxPoolDump" and not _LEAK.search(e.format))}


def _events(ctx: RuleContext, sites: str | None, *kinds: EventKind) -> list:
    """This scope's events of ``kinds`` (whose message is one of ``_sites()[sites]``), in order."""
    at = ctx.where(*kinds)
    if sites is not None:
        at = at[is_in(ctx.scope["catalog_id"], _sites()[sites], at)]
    return [ctx.events[i] for i in ctx.row_numbers(at)]


def _callback_findings(ctx: RuleContext, catalog, claimed: set[int]) -> list[Finding]:
    """One finding per failure of a driver callback (same message, device and status), however often it
    repeats (a stress test fails the same callback on every cycle)."""
    repeats: dict[tuple, list] = {}
    for e in _events(ctx, "callback", EventKind.FRAMEWORK_ERROR, EventKind.FRAMEWORK):
        claimed.add(e.index)
        repeats.setdefault((e.log, e.catalog_id, e.text), []).append(e)
    findings = []
    for events in repeats.values():
        e = events[0]
        entry = catalog.by_id[e.catalog_id]
        m = _CALLBACK.match(entry.format)
        match = catalog.match_text(e.text)
        args = match[1] if match else ()
        callback = m.group(1) + (str(args[0]) if m.group(2) and args else "") + (m.group(2) or "")
        device = next((a for a, h in zip(args, entry.holes) if h == "p"), e.device)  # the format's first pointer
        status = _status(args[-1]) if args else "a failure status"
        fix = next((text for key, text in _CALLBACK_FIX.items() if callback.endswith(key)),
                   f"Check the error paths of the driver's {callback}: the framework acts on the failure it returns.")
        times = f" x{len(events)}" if len(events) > 1 else ""
        findings.append(Finding(
            rule=RULE_ID, title=TITLE, severity=Severity.ERROR, log=e.log, device=device, at_index=e.index,
            at_time=e.timestamp, summary=f"the driver's {callback} failed with {status}{times}",
            probable_cause=f"The framework reports that the driver's {callback} callback returned {status}"
                           + (f", {len(events)} times." if times else "."),
            suggested_fix=fix, evidence=[ctx.evidence(x.index, f"{callback} failed") for x in events[:5]],
            facts={"kind": "callback failed", "callback": callback, "status": status, "count": len(events)}))
    return findings


def _leak_findings(ctx: RuleContext, claimed: set[int]) -> list[Finding]:
    kinds = (EventKind.FRAMEWORK_ERROR, EventKind.FRAMEWORK)
    leaks = _events(ctx, "leak", *kinds)
    if not leaks:
        return []
    summary = _events(ctx, "pool", *kinds)  # the pool totals FxPoolDump prints with the leaks
    claimed.update(e.index for e in leaks + summary)
    return [Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.ERROR, log=leaks[0].log, at_index=leaks[0].index,
        at_time=leaks[0].timestamp, summary=f"framework memory leaked at driver unload ({len(leaks)} allocation(s))",
        probable_cause="KMDF verifier (FxPoolDump) found framework allocations the driver never freed when it unloaded: "
                       "an object it created was never deleted or a reference it took was never released.",
        suggested_fix="Delete every object the driver creates without a parent that is deleted for it (WdfObjectDelete), "
                      "balance WdfObjectReference with WdfObjectDereference; !wdfkd.wdfdriverinfo <driver> 0x10 and "
                      "!wdfkd.wdftagtracker show the objects still alive and who referenced them.",
        evidence=[ctx.evidence(e.index, "leaked allocation") for e in leaks[:5]]
        + [ctx.evidence(e.index, "pool totals at unload") for e in summary[:2]], facts={"kind": "leak", "count": len(leaks)})]


def _verifier_break(ctx: RuleContext) -> list[Finding]:
    raw = ctx.where(EventKind.RAW)
    texts = ctx.scope["text"].to_numpy(dtype=object)[raw].tolist()
    frames = [ctx.events[i] for i, text in zip(ctx.row_numbers(raw), texts)
              if isinstance(text, str) and _VERIFIER_BREAK in text]
    from_bugcheck = ctx.bugcheck is not None and any(_VERIFIER_BREAK in f for f in ctx.bugcheck.frames)
    if not frames and not from_bugcheck:
        return []
    return [Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.ERROR, log=frames[0].log if frames else "",
        at_index=frames[0].index if frames else None,
        summary="KMDF verifier broke into the debugger (FxVerifierDbgBreakPoint)",
        probable_cause="The framework's verifier found a driver error and stopped in the debugger; the framework log "
                       "(!wdflogdump) just before the break names the violation.",
        suggested_fix="Read the last framework log messages before the break (and the caller frames below "
                      "FxVerifierDbgBreakPoint): they name the object and the rule the driver broke.",
        evidence=[ctx.evidence(e.index, "verifier break in the stack") for e in frames[:2]],
        facts={"kind": "verifier break"})]


def _error_findings(ctx: RuleContext, catalog, claimed: set[int]) -> list[Finding]:
    groups: dict[str, list] = {}
    for e in _events(ctx, None, EventKind.FRAMEWORK_ERROR):
        if e.index not in claimed:
            groups.setdefault(e.catalog_id, []).append(e)
    findings = []
    for catalog_id, events in groups.items():
        entry = catalog.by_id[catalog_id]
        match = catalog.match_text(events[0].text)
        statuses = [a for a, h in zip(match[1], entry.holes) if h == "STATUS"] if match else []
        verifier = "Vf_" in (entry.function or "")
        benign = not verifier and bool(statuses) and all(isinstance(s, int) and s in _BENIGN for s in statuses)
        what = "verifier error" if verifier else "error-level framework message"
        findings.append(Finding(
            rule=RULE_ID, title=TITLE, severity=Severity.ERROR if verifier else Severity.INFO if benign else Severity.WARNING,
            log=events[0].log, at_index=events[0].index, at_time=events[0].timestamp,
            summary=f"{what} x{len(events)}: {events[0].text[:160]}",
            probable_cause=(f"The framework logged this at {entry.level} ({entry.function or entry.id})"
                            + (": the status usually means a caller probing a size or an optional value, often expected."
                               if benign else ".")),
            suggested_fix=("KMDF verifier refused a driver call: fix the call named by the message."
                           if verifier else "Check the driver call the framework was serving when it logged this "
                                            "(the function in the message) and the status it reports."),
            evidence=[ctx.evidence(e.index, what) for e in events[:5]],
            facts={"kind": "verifier error" if verifier else "error message", "count": len(events), "catalog_id": catalog_id}))
    return findings


def _error_status(text: str) -> int | None:
    """The first error NTSTATUS a line names (severity bits 11: 0xC0000000 and up), as a value."""
    for m in _STATUS_TOKEN.finditer(text):
        value = int(m.group(1), 16) if m.group(1) else ntstatus.parse(m.group(2))
        if isinstance(value, int) and value >= 0xC0000000:
            return value
    return None


def _driver_failures(ctx: RuleContext) -> list[Finding]:
    """One finding per failure message of the driver's own trace (RAW rows that are records, not debugger output)."""
    raw = ctx.where(EventKind.RAW)
    records = raw[(ctx.scope["level"].iloc[raw] != DEBUGGER).to_numpy(dtype=bool)]
    at_error = ctx.scope["level"].iloc[records].isin(ERROR_LEVELS).tolist()
    groups: dict[tuple, list[tuple[int, int | None]]] = {}
    for i, text, error in zip(ctx.row_numbers(records), ctx.scope["text"].iloc[records].tolist(), at_error):
        if not isinstance(text, str):
            continue
        status = _error_status(text) if _FAILED.search(text) else None
        if status is not None or error:
            groups.setdefault((text.translate(_HEX), status), []).append((i, status))
    findings = []
    for rows in list(groups.values())[:_MAX_DRIVER_MESSAGES]:
        first, status = ctx.events[rows[0][0]], rows[0][1]
        shown = "no status" if status is None else _status(status)
        printed = {int(v, 16): name for v, name in _PRINTED_NAME.findall(first.text)}
        if status is not None and ntstatus.name(status) is None and status in printed:
            shown += f" ({printed[status]})"  # a name the table does not hold, as the trace printed it
        said = f"something failed with {shown}" if status is not None else f"this at {first.level}"
        findings.append(Finding(
            rule=RULE_ID, title=TITLE, severity=Severity.INFO if status in _BENIGN else Severity.WARNING,
            log=first.log, at_index=first.index, at_time=first.timestamp,
            summary=f"the driver reports a failure x{len(rows)}: {first.text[:160]}",
            probable_cause=f"The driver's own trace says {said}" + (f", {len(rows)} times." if len(rows) > 1 else "."),
            suggested_fix="Follow the call the message names to the status it returned: the driver's trace lines just "
                          "before it say what it was doing, and the framework's log at that time what the device was "
                          "going through.",
            evidence=[ctx.evidence(i, "failure the driver reports") for i, _ in rows[:5]],
            facts={"kind": "driver failure", "status": shown, "count": len(rows)}))
    if len(groups) > _MAX_DRIVER_MESSAGES:
        findings[-1].facts["messages_not_listed"] = len(groups) - _MAX_DRIVER_MESSAGES
        findings[-1].summary += f" (and {len(groups) - _MAX_DRIVER_MESSAGES} other failure message(s) not listed)"
    return findings


def check(ctx: RuleContext) -> list[Finding]:
    """Findings for failures the framework reports: callbacks, leaks, verifier breaks, other errors; and those
    the driver's own trace reports."""
    catalog, claimed = load(), set()
    findings = _callback_findings(ctx, catalog, claimed) + _leak_findings(ctx, claimed)
    return findings + _verifier_break(ctx) + _error_findings(ctx, catalog, claimed) + _driver_failures(ctx)
