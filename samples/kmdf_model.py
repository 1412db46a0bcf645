"""A small model of KMDF behaviour: the framework's own messages, in the order the framework logs them,
for a device with one power-managed queue that starts, dispatches requests, sleeps and wakes, idles
and is removed. Bugs are injected by the scenario that drives it (samples/scenarios.py).

Every message is a framework format string from the catalog (the ones analyzer/events.py types)
with its arguments; writing them out as IFR records is samples/generate.py's job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from parsers.catalog import CatalogEntry, load

STATUS_SUCCESS, STATUS_CANCELLED, STATUS_INVALID_DEVICE_REQUEST = 0x0, 0xC0000120, 0xC0000010
STATUS_DEVICE_NOT_CONNECTED = 0xC000009D
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def _by_format() -> dict[str, CatalogEntry]:
    table: dict[str, CatalogEntry] = {}
    for entry in load().entries:
        table.setdefault(entry.format, entry)
    return table


def entry_for(fmt: str) -> CatalogEntry:
    """The catalog entry logging exactly ``fmt``."""
    return _by_format()[fmt]


@dataclass
class Message:
    time: datetime
    entry: CatalogEntry
    args: tuple

    @property
    def filetime(self) -> int:
        return int((self.time - _FILETIME_EPOCH) / timedelta(microseconds=1)) * 10


@dataclass
class Log:
    """The messages the framework logs, with a clock that advances a little per message."""

    start: datetime = datetime(2026, 11, 20, 9, 30, 0, tzinfo=timezone.utc)
    messages: list[Message] = field(default_factory=list)
    step: timedelta = timedelta(microseconds=1250)

    def __post_init__(self):
        self.now = self.start

    def emit(self, fmt: str, *args) -> None:
        self.now += self.step
        self.messages.append(Message(self.now, entry_for(fmt), args))

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


_STATE = "WDFDEVICE 0x%p !devobj 0x%p entering {} %!{}! from %!{}!"
_FORMATS = {
    "pnp": _STATE.format("PnP State", "WDF_DEVICE_PNP_STATE", "WDF_DEVICE_PNP_STATE"),
    "power": _STATE.format("Power State", "WDF_DEVICE_POWER_STATE", "WDF_DEVICE_POWER_STATE"),
    "pwrpol": _STATE.format("power policy state", "WDF_DEVICE_POWER_POLICY_STATE", "WDF_DEVICE_POWER_POLICY_STATE"),
    "idle": _STATE.format("power idle state", "FxPowerIdleStates", "FxPowerIdleStates"),
}
_PREFIX = {"pnp": "WdfDevStatePnp", "power": "WdfDevStatePower", "pwrpol": "WdfDevStatePwrPol", "idle": "FxIdle"}


@dataclass
class Request:
    handle: int
    irp: int
    callback: str = "EvtIoRead"
    length: int = 0x40


@dataclass
class Device:
    """One WDFDEVICE with one power-managed WDFQUEUE; handles are WDF handles (complemented pointers)."""

    log: Log
    handle: int
    devobj: int
    queue: int
    state: dict = field(default_factory=lambda: {m: "ObjectCreated" for m in ("pnp", "power", "pwrpol")} | {"idle": "Stopped"})
    in_flight: list[Request] = field(default_factory=list)
    driver_owned: list[Request] = field(default_factory=list)  # acknowledged without requeue

    # -- state machines -------------------------------------------------------------------------
    def go(self, machine: str, *states: str) -> None:
        """Walk ``machine`` through ``states`` (short names, e.g. 'D0'), logging each transition."""
        prefix = _PREFIX[machine]
        for state in states:
            self.log.emit(_FORMATS[machine], self.handle, self.devobj, prefix + state, prefix + self.state[machine])
            self.state[machine] = state

    # -- queue -----------------------------------------------------------------------------------
    def queue_state(self, state: str) -> None:
        self.log.emit("WDFQUEUE 0x%p Power Transition State %!FxIoQueuePowerState!", self.queue, "FxIoQueuePower" + state)

    def resume_queues(self) -> None:
        self.log.emit("Power resume all queues of WDFDEVICE 0x%p", self.handle)
        self.queue_state("Restarting")
        self.log.emit("Power Resume: WDFQUEUE 0x%p is now powered on and I/O has resumed", self.queue)
        self.queue_state("On")

    def stop_queues(self, acknowledge: bool = True, purge: bool = False, requeue: bool = True) -> None:
        """Power the queue down; in-flight requests go to EvtIoStop, acknowledged (with or without requeue)
        unless told not to. Requests acknowledged without requeue stay with the driver."""
        action = "FxIoStopProcessingForPowerPurgeManaged" if purge else "FxIoStopProcessingForPowerHold"
        self.log.emit("Perform %!FxIoStopProcessingForPowerAction! for all queues of WDFDEVICE 0x%p", action, self.handle)
        self.queue_state("Purge" if purge else "Stopping")
        if not self.in_flight:
            self.log.emit("Power purge: WDFQUEUE 0x%p is purging without in-flight requests" if purge else
                          "Power Stop: WDFQUEUE 0x%p is powering off without in-flight requests", self.queue)
            self.log.emit("Power Stop: WDFQUEUE 0x%p is now powered off with no in-flight requests", self.queue)
            self.queue_state("Off")
            return
        self.log.emit("Power Stop: WDFQUEUE 0x%p is purging with in-flight requests" if purge else
                      "Power Stop: WDFQUEUE 0x%p is powering off with in-flight requests", self.queue)
        self.queue_state("PurgeNotifyingDriver" if purge else "StoppingNotifyingDriver")
        for request in self.in_flight:
            self.log.emit("Power Purge Notifying Driver WDFQUEUE 0x%p, WDFREQUEST 0x%p" if purge else
                          "Power Stop Notifying Driver, WDFQUEUE 0x%p, WDFREQUEST 0x%p", self.queue, request.handle)
        self.queue_state("PurgeDriverNotified" if purge else "StoppingDriverNotified")
        self.log.emit("Power Stop: Waiting for Driver to complete or acknowledge in-flight requests on WDFQUEUE 0x%p",
                      self.queue)
        if not acknowledge:
            return
        for request in list(self.in_flight):
            if purge:
                self.complete(request, STATUS_CANCELLED)
            else:
                self.log.emit("Acknowledging WDFREQUEST %p on WDFQUEUE %p %s requeue option", request.handle,
                              self.queue, "with" if requeue else "without")
        if not purge and not requeue:
            self.driver_owned += self.in_flight
            self.in_flight = []
        self.log.emit("Power Stop: WDFQUEUE 0x%p is now powered off with no in-flight requests", self.queue)
        self.queue_state("Off")

    # -- requests --------------------------------------------------------------------------------
    def arrive(self, request: Request, present: bool = True) -> None:
        self.log.emit("Queuing WDFREQUEST 0x%p on WDFQUEUE 0x%p", request.handle, self.queue)
        if present:
            self.present(request)

    def present(self, request: Request) -> None:
        self.log.emit(f"Calling driver {request.callback} for WDFREQUEST 0x%p", request.handle)
        self.in_flight.append(request)

    def complete(self, request: Request, status: int = STATUS_SUCCESS) -> None:
        self.log.emit("Completing WDFREQUEST 0x%p for IRP 0x%p with Information 0x%I64x, %!STATUS!", request.handle,
                      request.irp, request.length if status == STATUS_SUCCESS else 0, status)
        if request in self.in_flight:
            self.in_flight.remove(request)

    # -- whole transitions -----------------------------------------------------------------------
    def add_and_start(self, idle: bool = False) -> None:
        self.go("pnp", "Init")
        self.go("pnp", "InitStarting", "HardwareAvailable")
        self.go("pwrpol", "Starting")
        self.go("power", "CheckDeviceType", "D0Starting", "D0StartingConnectInterrupt", "D0StartingDmaEnable",
                "D0StartingStartSelfManagedIo", "DecideD0State", "D0")
        self.resume_queues()
        self.go("pwrpol", "StartingPoweredUp", "StartingSucceeded", "StartingDecideS0Wake",
                "StartedIdleCapable" if idle else "Started")
        if idle:
            self.go("idle", "Started", "StartTimer", "TimerRunning")
        self.go("pnp", "EnableInterfaces", "Started")

    def sleep(self, acknowledge: bool = True, requeue: bool = True) -> None:
        """System goes to Sx: the power policy owner takes the device to Dx."""
        self.go("pwrpol", "Sleeping", "SleepingNoWakePowerDown")
        self.go("power", "GotoDx")
        self.stop_queues(acknowledge=acknowledge, requeue=requeue)
        if not acknowledge:
            return
        self.go("power", "GotoDxIoStopped", "Dx")
        self.go("pwrpol", "SleepingNoWakeCompletePowerDown", "SystemAsleepNoWake")

    def wake(self) -> None:
        """System back to S0: device to D0, queue resumed, acknowledged requests presented again."""
        self.go("pwrpol", "SystemWakeDeviceToD0")
        self.go("power", "CheckParentState", "Waking", "WakingConnectInterrupt", "WakingDmaEnable",
                "StartSelfManagedIo", "D0")
        requeued, self.in_flight = list(self.in_flight), []
        self.resume_queues()
        for request in requeued:
            self.present(request)
        self.go("pwrpol", "SystemWakeDeviceToD0CompletePowerUp", "Started")

    def idle_out(self) -> None:
        """Idle timeout: the device powers down to Dx while the system stays in S0."""
        self.go("idle", "TimingOut", "TimedOut", "GoingToDx")
        self.go("pwrpol", "TimerExpiredNoWake")
        self.go("power", "GotoDx")
        self.stop_queues()
        self.go("power", "GotoDxIoStopped", "Dx")
        self.go("pwrpol", "TimerExpiredNoWakeCompletePowerDown", "WaitingUnarmed")
        self.go("idle", "InDx")

    def wake_for_io(self) -> None:
        """A request on the power-managed queue powers the idle device back up."""
        self.go("idle", "InDxIoIncrement", "PowerUp")
        self.go("pwrpol", "WaitingUnarmedQueryIdle", "S0NoWakePowerUp")
        self.go("power", "CheckParentState", "Waking", "WakingConnectInterrupt", "WakingDmaEnable",
                "StartSelfManagedIo", "D0")
        self.resume_queues()
        self.go("pwrpol", "S0NoWakeCompletePowerUp", "StartedIdleCapable")
        self.go("idle", "PowerUpComplete", "Busy")

    def io_done_idle_again(self) -> None:
        """Power reference dropped after the I/O: the idle timer restarts."""
        self.go("idle", "DecrementIo", "StartTimer", "TimerRunning")

    def remove(self, d0exit_status: int = STATUS_SUCCESS) -> None:
        """Orderly removal: query remove, queues purged, device powered down and deleted; a failure status
        returned by the driver's EvtDeviceD0Exit is logged by the framework, which goes on with the removal."""
        self.go("pnp", "QueryRemoveStaticCheck", "QueryRemoveAskDriver", "QueryRemovePending", "QueriedRemoving")
        self.go("pwrpol", "Stopping")
        self.go("power", "GotoStopped")
        self.stop_queues(purge=True)
        if d0exit_status != STATUS_SUCCESS:
            self.log.emit("EvtDeviceD0Exit WDFDEVICE 0x%p !devobj 0x%p, new state %!WDF_POWER_DEVICE_STATE! failed, "
                          "%!STATUS!", self.handle, self.devobj, "WdfPowerDeviceD3Final", d0exit_status)
        self.go("power", "GotoD3Stopped", "Stopped")
        self.go("pwrpol", "StoppingSendStatus", "Stopped")
        self.go("pnp", "RemovingDisableInterfaces", "Removed")
        self.go("pwrpol", "StoppedRemoving", "Removed")
        self.go("pnp", "FdoRemoved", "Final")

    def unload(self, leaked: list[tuple[int, int, int]] = ()) -> None:
        """Driver unload with KMDF verifier on: FxPoolDump prints the pool totals and each allocation still
        outstanding (FX_POOL, allocation, tracking block)."""
        if not leaked:
            return
        size = 0x88 * len(leaked)
        self.log.emit("FxPoolDump: NonPagedBytes %I64d, PagedBytes %I64d, NonPagedAllocations %d, PagedAllocations %d,"
                      "PeakNonPagedBytes %I64d, PeakPagedBytes %I64d,FxPoolDump: PeakNonPagedAllocations %d, "
                      "PeakPagedAllocations %d", size, 0, len(leaked), 0, 0x83D4, 0x188, 0x83, 0xA)
        for pool, alloc, tracker in leaked:
            self.log.emit("FX_POOL 0x%p leaked non-paged memory alloc 0x%p (tracking block %p)", pool, alloc, tracker)

    def surprise_remove(self) -> None:
        """Surprise removal, then the remove IRP: in-flight requests are purged."""
        self.go("pnp", "SurpriseRemoveIoStarted")
        self.go("pwrpol", "Stopping")
        self.go("power", "GotoStopped")
        self.stop_queues(purge=True)
        self.go("power", "GotoD3Stopped", "Stopped")
        self.go("pwrpol", "StoppingSendStatus", "Stopped")
        self.go("pnp", "FailedSurpriseRemoved", "FailedWaitForRemove", "RemovingDisableInterfaces", "Removed")
        self.go("pwrpol", "StoppedRemoving", "Removed")
        self.go("pnp", "FdoRemoved", "Final")


class Handles:
    """Deterministic kernel-looking object addresses, handed out as WDF handles (pointer ^ ~7)."""

    def __init__(self, arch: str = "x64"):
        self.arch = arch
        self.next = 0xFFFFC30A1B2C0000 if arch == "x64" else 0x8A1B0000
        self.mask = (1 << 64) - 8 if arch == "x64" else (1 << 32) - 8

    def pointer(self) -> int:
        self.next += 0x2A0
        return self.next

    def handle(self) -> int:
        return self.pointer() ^ self.mask
