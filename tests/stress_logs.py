"""A long sleep/resume-like paste for report tests: one device flipping between two PnP states, then requests
queued on one queue of which only the later ones complete."""
from __future__ import annotations

_STATE = ("{n}: FxPkgPnp::PnpEnterNewState - WDFDEVICE 0x00001F7F2E8B7FD8 !devobj 0xFFFFE0817D4D4030 "
          "entering PnP State {to} from {frm}")
_QUEUED = "{n}: FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x{r:016X} on WDFQUEUE 0x00003FFF8B6DA5C8"
_DONE = ("{n}: FxRequest::CompleteInternal - Completing WDFREQUEST 0x{r:016X} for IRP 0x{r:016X} with "
         "Information 0x0, STATUS_SUCCESS")
_PAIR = ("WdfDevStatePnpStarted", "WdfDevStatePnpQueryStopPending")


def stress_log(transitions: int, requests: int, first_completed: int) -> str:
    """``transitions`` PnP transitions, ``requests`` requests queued; requests from ``first_completed`` on
    complete, the ones before never do."""
    lines = [_STATE.format(n=n, to=_PAIR[n % 2], frm=_PAIR[1 - n % 2]) for n in range(transitions)]
    lines += [_QUEUED.format(n=transitions + k, r=0x3FFF00000000 + 8 * k) for k in range(requests)]
    lines += [_DONE.format(n=transitions + requests + k, r=0x3FFF00000000 + 8 * k)
              for k in range(first_completed, requests)]
    return "\n".join(lines)
