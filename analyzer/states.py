"""Which framework states are resting and which are transitional.

A resting state is one a device may legitimately sit in for as long as nothing happens: started,
in D0, waiting for idle, armed for wake in Dx, stopped, removed. Every other state is a step of a
transition the framework runs through in microseconds to seconds; a log that ends there (or stays
there for minutes) means the machine is waiting on something that never came: an unacknowledged
request, a power reference, a child, a driver callback that never returned.

The lists are per machine and name the states as the framework's enums spell them (the ``NP``
variants of power and power-policy states are the same states for non-pageable stacks).
"""
from __future__ import annotations

_PNP = {
    "ObjectCreated", "Init", "Started", "Stopped", "QueryStopPending", "QueryRemovePending",
    "EjectedWaitingForRemove", "RemovedPdoWait", "RemovedPdoSurpriseRemoved", "FailedWaitForRemove",
    "Removed", "Final",
}
_POWER = {
    "ObjectCreated", "D0", "D0BusWakeOwner", "D0ArmedForWake", "Dx", "DxArmedForWake", "WakePending",
    "Stopped", "DxStopped", "Final",
}
_PWRPOL = {
    "ObjectCreated", "Started", "StartedIdleCapable", "StartedWakeCapable", "IdleCapableDeviceIdle",
    "WakeCapableDeviceIdle", "WaitingUnarmed", "WaitingArmed", "SystemAsleepNoWake", "SystemAsleepWakeArmed",
    "Stopped", "StoppedRemoving", "Removed", "Final", "Dx",
}
_NOT_OWNER = {"ObjectCreated", "Started", "Dx", "Stopped", "Removed", "Final"}
_IDLE = {"FxIdleStopped", "FxIdleStarted", "FxIdleDisabled", "FxIdleBusy", "FxIdleTimerRunning", "FxIdleInDx",
         "FxIdleInDxStopped", "FxIdleInDxDisabled", "FxIdleInDxEnabled"}
_SELFIO = {"FxSelfManagedIoCreated", "FxSelfManagedIoInit", "FxSelfManagedIoStarted", "FxSelfManagedIoStopped",
           "FxSelfManagedIoFlushed", "FxSelfManagedIoFinal", "FxSelfManagedIoFailed"}
_WAKEINT = {"WakeInterruptFailed", "WakeInterruptD0", "WakeInterruptDx"}
_PWRREQ = {"DprUnregistered", "DprDevicePowerRequiredD0", "DprDevicePowerNotRequiredD0",
           "DprDevicePowerNotRequiredDx", "DprDevicePowerRequiredDx"}

_PREFIX = {"pnp": "WdfDevStatePnp", "power": "WdfDevStatePower", "pwrpol": "WdfDevStatePwrPol",
           "notpwrpolowner": "WdfDevStatePwrPol"}
_RESTING = {"pnp": _PNP, "power": _POWER, "pwrpol": _PWRPOL, "notpwrpolowner": _NOT_OWNER, "idle": _IDLE,
            "selfio": _SELFIO, "wakeint": _WAKEINT, "pwrreq": _PWRREQ}

MACHINE_TITLES = {"pnp": "PnP", "power": "power", "pwrpol": "power policy",
                  "notpwrpolowner": "not-power-policy-owner", "idle": "power idle", "selfio": "self-managed I/O",
                  "wakeint": "wake interrupt", "pwrreq": "device power requirement"}


def short_name(machine: str, state: str) -> str:
    """The state without its machine prefix and NP suffix: 'WdfDevStatePowerD0NP' -> 'D0'."""
    prefix = _PREFIX.get(machine, "")
    name = state[len(prefix):] if prefix and state.startswith(prefix) else state
    if machine in ("power", "pwrpol", "notpwrpolowner") and name.endswith("NP") and name != "NP":
        name = name[:-2]
    return name


def is_resting(machine: str, state: str | None) -> bool:
    """True when a device may legitimately stay in ``state`` (unknown machines count as resting)."""
    if state is None or machine not in _RESTING:
        return True
    return short_name(machine, state) in _RESTING[machine]


def is_d0(state: str | None) -> bool:
    """True for the power machine's working states (D0 and its wake-owner/armed variants)."""
    return state is not None and short_name("power", state) in {"D0", "D0BusWakeOwner", "D0ArmedForWake"}
