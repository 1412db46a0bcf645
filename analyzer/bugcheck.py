"""What a bugcheck says: its name, what each parameter means, and whether KMDF is shown to be involved.

Names of every code come from Microsoft's bug check code reference (parsers/wdfdata/bugcheck-names.tsv);
parameter meanings from the paste's own ``Arg`` lines when it printed them, else from the decode tables of
0x10D WDF_VIOLATION and 0x9F DRIVER_POWER_STATE_FAILURE below (bug-check-0x10d---wdf-violation,
bug-check-0x9f--driver-power-state-failure), else from the reference pages (parsers/wdfdata/
bugcheck-parameters.tsv, tools/bugcheck_parameters.py). A parameter the evidence does not hold is None and
shown as "not in the evidence". :func:`decode` returns the dict the reports render:
``{"code", "name", "subtype", "summary", "parameters": [{"name", "value", "shown", "meaning"}], "advice",
"details", "frames": [{"frame", "role"}], "kmdf_evidence"}``.
"""
from __future__ import annotations

import re
from functools import lru_cache

from parsers.analyze_text import bugcheck_names, reference_table
from parsers.numbers import int_or_none, parse_int
from parsers.records import BugCheck

NOT_IN_EVIDENCE = "not in the evidence"
FRAMEWORK_MODULES = {"wdf01000", "wdf", "wudfx02000", "wdfldr", "wudfhost", "wudfplatform"}
OS_MODULES = {"nt", "hal", "ntkrnlmp", "ntoskrnl", "ntkrpamp", "ntkrnlpa"}
_DETAILS = ("MODULE_NAME", "IMAGE_NAME", "SYMBOL_NAME", "FAILURE_BUCKET_ID", "PROCESS_NAME")


names = bugcheck_names


@lru_cache(maxsize=1)
def documented_meanings() -> dict[int, tuple[str, str, str, str]]:
    """Bugcheck code -> meanings of its four parameters, for the codes whose reference page has one table."""
    found: dict[int, list[str]] = {}
    for code, number, meaning in reference_table("bugcheck-parameters.tsv"):
        found.setdefault(int(code, 16), ["", "", "", ""])[int(number) - 1] = meaning
    return {code: tuple(m) for code, m in found.items()}


# P1 -> (WDF_BUGCHECK_CODES name, P2 meaning, P3 meaning, summary)
_WDF_VIOLATION = {
    0x1: ("WDF_POWER_ROUTINE_TIMED_OUT", "WDF_POWER_ROUTINE_TIMED_OUT_DATA (power state, power policy state, "
          "device object, WDFDEVICE, timed-out thread)", "Reserved",
          "A driver timed out during a power operation: a power or power-policy callback did not return within "
          "the watchdog time (often a pageable operation after the paging stack powered down)."),
    0x2: ("WDF_RECURSIVE_LOCK", "Reserved", "Reserved", "An attempt was made to acquire a lock that is already held."),
    0x3: ("WDF_VERIFIER_FATAL_ERROR", "WDFREQUEST handle", "Outstanding references on the request's buffers",
          "A request was completed but cannot be deleted: references to its input/output buffer remain."),
    0x4: ("WDF_REQUIRED_PARAMETER_IS_NULL", "Reserved", "Caller's address",
          "A NULL parameter was passed to a framework method that requires a non-NULL value."),
    0x5: ("WDF_INVALID_HANDLE", "Handle value passed in", "Reserved",
          "A framework object handle of the wrong type was passed to a framework method."),
    0x6: ("WDF_REQUEST_FATAL_ERROR", "Request fatal error code (see subtype)", "Depends on the subtype",
          "A fatal error on a framework request."),
    0x7: ("WDF_OBJECT_ERROR", "Handle of the framework object", "Reserved",
          "A driver deleted a framework object incorrectly (WdfObjectDereference instead of WdfObjectDelete)."),
    0x8: ("WDF_DMA_FATAL_ERROR", "Handle of the DMA transaction", "Reserved",
          "An operation occurred on a DMA transaction object in the wrong state."),
    0x9: ("WDF_INVALID_INTERRUPT", "Reserved", "Reserved", "Currently unused."),
    0xA: ("WDF_QUEUE_FATAL_ERROR", "WDF_QUEUE_FATAL_ERROR_DATA (queue, request, status)", "Reserved",
          "A fatal error occurred while processing a request that is in the queue."),
    0xB: ("WDF_INVALID_LOCK_OPERATION", "Handle (object or spin lock)", "0: object has no lock, 1: released by another thread",
          "An invalid lock operation."),
    0xC: ("WDF_PNP_FATAL_ERROR", "WDFDEVICE handle", "New PnP IRP",
          "A new state-changing PnP IRP arrived while the driver was processing another state-changing PnP IRP."),
    0xD: ("WDF_POWER_MULTIPLE_PPO", "WDFDEVICE handle", "Power IRP",
          "The power policy owner received a power IRP it did not request: more than one power policy owner in the stack."),
    0xE: ("WDF_VERIFIER_IRQL_MISMATCH", "IRQL at which the callback was called", "IRQL at which it returned",
          "An event callback did not return at the IRQL it was called at."),
    0xF: ("WDF_VERIFIER_CRITICAL_REGION_MISMATCH", "Address of the event callback", "Reserved",
          "An event callback entered a critical region and did not leave it before returning."),
    0x10: ("WDF_API_UNAVAILABLE", "Reserved", "Reserved", "A framework API not available in this framework version was called."),
}
_REQUEST_FATAL = {
    0x1: ("WDF_REQUEST_FATAL_ERROR_NO_MORE_STACK_LOCATIONS", "IRP address",
          "No more I/O stack locations are available to format the underlying IRP."),
    0x2: ("WDF_REQUEST_FATAL_ERROR_NULL_IRP", "WDFREQUEST handle",
          "A request that does not contain an IRP was formatted."),
    0x3: ("WDF_REQUEST_FATAL_ERROR_REQUEST_ALREADY_SENT", "WDFREQUEST handle",
          "The driver sent a request that has already been sent to an I/O target."),
    0x4: ("WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH", "WDR_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH_DATA",
          "The driver completed a request having written more bytes to the output buffer than the IRP allows."),
    0x5: ("WDF_REQUEST_FATAL_ERROR_REQUEST_NOT_IN_QUEUE", "WDFREQUEST handle",
          "The request is not in the queue it was expected to be in."),
}
# P1 -> (P2, P3, P4 meaning, summary)
_POWER_FAILURE = {
    0x1: ("The device object", "Reserved", "Reserved",
          "The device object being freed still has an outstanding power request it has not completed."),
    0x2: ("The target device's device object", "The device object", "The driver object",
          "The device object completed the system power IRP but did not call PoStartNextPowerIrp."),
    0x3: ("Physical device object (PDO) of the stack", "nt!_TRIAGE_9F_POWER", "The blocked IRP",
          "A device object has been blocking a power IRP for too long."),
    0x4: ("Time-out value, in seconds", "Thread holding the PnP lock", "nt!_TRIAGE_9F_PNP",
          "The power transition timed out waiting to synchronize with the PnP subsystem."),
    0x5: ("Physical device object of the stack", "POP_FX_DEVICE object", "Reserved",
          "The device failed to complete a directed power transition within the required time."),
    0x6: ("POP_FX_DEVICE object", "1: directed power down, 0: power up", "Reserved",
          "The device did not complete its directed power transition callback successfully."),
    0x500: ("Reserved", "The target device's device object", "Device object",
            "The device object completed the system power IRP but did not call PoStartNextPowerIrp."),
}
_FRAMEWORK_TOKEN = re.compile(r"(?:^|_)(?:WDF|KMDF|UMDF)(?:_|$)", re.IGNORECASE)  # a bucket's framework part
_NAMED_OBJECT = re.compile(r"\b(WDF[A-Z]+)\b(?:\s*:?\s*(0x[0-9a-fA-F`]{1,17}|[0-9a-fA-F`]{8,17})\b)?")  # in a WDF Reason line
_KMDF_9F_ADVICE = ("Run !wdfkd.wdflogdump <driver> to see whether KMDF is waiting for the driver to acknowledge "
                   "pending requests, and !wdfkd.wdfdevicequeues <WDFDEVICE> to see outstanding requests.")


def shown(value: int | None) -> str:
    """A parameter as the reports print it."""
    return NOT_IN_EVIDENCE if value is None else f"0x{value:x}"


def frame_role(frame: str) -> str:
    """'framework' (Wdf01000, WUDFx02000...), 'os' (nt, hal) or 'driver' for a ``module!symbol+off`` frame."""
    module = frame.split("!", 1)[0].split("+", 1)[0].lower().removesuffix(".sys").removesuffix(".dll")
    return "framework" if module in FRAMEWORK_MODULES else "os" if module in OS_MODULES else "driver"


def kmdf_evidence(bugcheck: BugCheck) -> list[str]:
    """What in the bugcheck itself shows the framework is involved (0x10D, framework frames, names)."""
    found = []
    if bugcheck.code == 0x10D:
        found.append("bugcheck 0x10D WDF_VIOLATION is raised by the framework")
    frames = [f for f in bugcheck.frames if frame_role(f) == "framework"]
    if frames:
        found.append(f"{len(frames)} framework stack frame(s), e.g. {frames[0]}")
    if bugcheck.framework_analysis:
        found.append(f"the debugger's WDF analysis: {bugcheck.framework_analysis[0].rstrip('.')}")
    for label, value in (("MODULE_NAME", bugcheck.module_name), ("IMAGE_NAME", bugcheck.image_name),
                         ("SYMBOL_NAME", bugcheck.symbol_name), ("FAILURE_BUCKET_ID", bugcheck.failure_bucket)):
        if value and (any(m in value.lower() for m in ("wdf01000", "wudfx02000")) or
                      (label == "FAILURE_BUCKET_ID" and _FRAMEWORK_TOKEN.search(value))):
            found.append(f"{label} {value}")
    return found


def named_objects(bugcheck: BugCheck) -> list[dict]:
    """The framework objects the debugger's WDF analysis names (``Reason: ..., WDFQUEUE 0x...``): their type and
    handle (None where the paste does not hold it, e.g. a line cut after the type)."""
    reason = " ".join(bugcheck.framework_analysis[1:])
    return [{"type": kind, "handle": int_or_none(handle, 16) if handle else None}
            for kind, handle in _NAMED_OBJECT.findall(reason)]


def _param(index: int, value: int | None, meaning: str) -> dict:
    return {"name": f"Arg{index + 1}", "value": value, "shown": shown(value), "meaning": meaning}


def _decode_10d(p1, p2) -> tuple[str | None, tuple, str]:
    if p1 is None:
        return None, ("WDF_BUGCHECK_CODES subcode", "", "", "Reserved"), "WDF_VIOLATION; its subcode (Arg1) is not in the evidence."
    subtype, m2, m3, summary = _WDF_VIOLATION.get(p1, (f"unknown WDF_VIOLATION subcode 0x{p1:x}", "", "", ""))
    if p1 == 0x6 and p2 in _REQUEST_FATAL:
        detail, m3, summary = _REQUEST_FATAL[p2]
        subtype = f"{subtype}/{detail}"
    return subtype, (subtype, m2, m3, "Reserved"), summary


def _decode_9f(p1) -> tuple[str | None, tuple, str]:
    if p1 is None:
        return None, ("Subcode", "", "", ""), "DRIVER_POWER_STATE_FAILURE; its subcode (Arg1) is not in the evidence."
    m2, m3, m4, summary = _POWER_FAILURE.get(p1, ("", "", "", f"unknown 0x9F subcode 0x{p1:x}"))
    return f"0x{p1:x}", ("Subcode", m2, m3, m4), summary


def decode(bugcheck: BugCheck) -> dict:
    """Decode a bugcheck: name, subtype, what each parameter means, details and frames the evidence gave."""
    code, params = bugcheck.code, bugcheck.parameters
    name = names().get(code) or bugcheck.name or f"BUGCHECK_{code:X}"
    subtype, summary, advice = None, "", ""
    tables = documented_meanings().get(code, ("", "", "", ""))
    if code == 0x10D:
        subtype, tables, summary = _decode_10d(params[0], params[1])
        advice = "Run !wdfkd.wdflogdump <driver>: the framework logs the violation's details just before the bugcheck."
    elif code == 0x9F:
        subtype, tables, summary = _decode_9f(params[0])
        advice = _KMDF_9F_ADVICE
    meanings = [pasted or table for pasted, table in zip(bugcheck.meanings, tables)]
    details = {label: value for label, value in zip(_DETAILS, (bugcheck.module_name, bugcheck.image_name,
               bugcheck.symbol_name, bugcheck.failure_bucket, bugcheck.process_name)) if value}
    details.update(bugcheck.faulting_source)
    if bugcheck.framework_analysis:
        details["WDF_ANALYSIS"] = " ".join(bugcheck.framework_analysis)
    return {"code": code, "name": name, "subtype": subtype, "summary": summary, "advice": advice,
            "parameters": [_param(i, v, m) for i, (v, m) in enumerate(zip(params, meanings))],
            "details": details, "frames": [{"frame": f, "role": frame_role(f)} for f in bugcheck.frames],
            "kmdf_evidence": kmdf_evidence(bugcheck)}


def parse_cli(text: str) -> BugCheck:
    """Parse ``--bugcheck CODE[,P1[,P2[,P3[,P4]]]]`` (hex, with or without 0x; the code a ULONG, parameters
    64-bit); parameters not given are unknown (None), never 0. ValueError (a NumberError) otherwise."""
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 5 or not parts[0]:
        raise ValueError("expected CODE,P1,P2,P3,P4")
    values = [parse_int(p, 16, bits=32 if n == 0 else 64) if p else None for n, p in enumerate(parts)]
    values += [None] * (5 - len(parts))
    return BugCheck(code=values[0], parameters=tuple(values[1:5]), name=names().get(values[0]), source="--bugcheck")
