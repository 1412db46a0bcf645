"""Decoding the two bugchecks WDF drivers cause most: 0x10D WDF_VIOLATION and 0x9F DRIVER_POWER_STATE_FAILURE.

The parameter meanings are the documented ones (bug-check-0x10d---wdf-violation,
bug-check-0x9f--driver-power-state-failure). :func:`decode` returns the dict the reports render:
``{"code", "name", "subtype", "summary", "parameters": [{"name", "value", "meaning"}], "advice"}``.
"""
from __future__ import annotations

from parsers.records import BugCheck

NAMES = {0x9F: "DRIVER_POWER_STATE_FAILURE", 0x10D: "WDF_VIOLATION"}

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
_KMDF_9F_ADVICE = ("Run !wdfkd.wdflogdump <driver> to see whether KMDF is waiting for the driver to acknowledge "
                   "pending requests, and !wdfkd.wdfdevicequeues <WDFDEVICE> to see outstanding requests.")


def _param(name: str, value: int, meaning: str) -> dict:
    return {"name": name, "value": value, "meaning": meaning}


def decode(bugcheck: BugCheck) -> dict:
    """Decode a bugcheck's parameters; unknown codes get their raw parameters only."""
    code, (p1, p2, p3, p4) = bugcheck.code, bugcheck.parameters
    name = NAMES.get(code) or bugcheck.name or f"BUGCHECK_{code:X}"
    result = {"code": code, "name": name, "subtype": None, "summary": "", "advice": "", "parameters": []}
    if code == 0x10D:
        subtype, m2, m3, summary = _WDF_VIOLATION.get(p1, (f"unknown WDF_VIOLATION subcode 0x{p1:x}", "", "", ""))
        if p1 == 0x6 and p2 in _REQUEST_FATAL:
            detail, m3, summary = _REQUEST_FATAL[p2]
            subtype = f"{subtype}/{detail}"
        result.update(subtype=subtype, summary=summary,
                      advice="Run !wdfkd.wdflogdump <driver>: the framework logs the violation's details just before the bugcheck.")
        meanings = (subtype, m2, m3, "Reserved")
    elif code == 0x9F:
        m2, m3, m4, summary = _POWER_FAILURE.get(p1, ("", "", "", f"unknown 0x9F subcode 0x{p1:x}"))
        result.update(subtype=f"0x{p1:x}", summary=summary, advice=_KMDF_9F_ADVICE)
        meanings = ("Subcode", m2, m3, m4)
    else:
        meanings = ("", "", "", "")
    result["parameters"] = [_param(f"Arg{i + 1}", v, m) for i, (v, m) in enumerate(zip((p1, p2, p3, p4), meanings))]
    return result


def parse_cli(text: str) -> BugCheck:
    """Parse ``--bugcheck CODE,P1,P2,P3,P4`` (hex, with or without 0x; missing parameters are 0)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not 1 <= len(parts) <= 5:
        raise ValueError("expected CODE,P1,P2,P3,P4")
    values = [int(p.replace("`", ""), 16) for p in parts] + [0] * (5 - len(parts))
    return BugCheck(code=values[0], parameters=tuple(values[1:5]), name=NAMES.get(values[0]), source="--bugcheck")
