"""The event model: every framework message becomes a typed :class:`Event`.

A message is typed by the framework format string it was printed with (its catalog entry, see
:mod:`parsers.catalog`), never by substrings. The table below names, for each framework message that
matters for triage, the event kind and which argument fills which field. Framework messages not in
the table become ``FRAMEWORK`` (or ``FRAMEWORK_ERROR`` at error level and above); lines that are not
framework messages become ``RAW``. Nothing is dropped, and every event keeps its source reference.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Iterable

from parsers.catalog import load as load_catalog
from parsers.records import SourceRef, TraceMessage


class EventKind(str, Enum):
    STATE = "state"  # a state machine entered a new state (machine, state, from_state)
    DROPPED_EVENT = "dropped_event"  # a state machine dropped an event (machine, state, event, detail)
    QUEUE_POWER_STATE = "queue_power_state"  # WDFQUEUE power transition (queue, state)
    QUEUE_POWER_ACTION = "queue_power_action"  # Perform <stop/purge action> for all queues of WDFDEVICE
    QUEUES_RESUMED = "queues_resumed"  # Power resume / restart of all queues of WDFDEVICE
    QUEUE_POWER_STOP = "queue_power_stop"  # a queue starts powering off / purging (detail says which)
    QUEUE_WAITING_DRIVER = "queue_waiting_driver"  # power stop waits for the driver to complete/acknowledge
    QUEUE_POWERED_OFF = "queue_powered_off"  # queue powered off with no in-flight requests
    QUEUE_POWERED_ON = "queue_powered_on"  # queue powered on, I/O resumed
    QUEUE_WAITING = "queue_waiting"  # Waiting for N requests to complete (purge/drain/stop)
    QUEUE_CALLBACK = "queue_callback"  # queue idle/purged, driver callback called
    QUEUE_SHUTDOWN = "queue_shutdown"
    POWER_STOP_NOTIFY = "power_stop_notify"  # EvtIoStop called for a request (detail: stop/purge)
    POWER_RESUME_NOTIFY = "power_resume_notify"  # EvtIoResume called for a request
    REQUEST_QUEUED = "request_queued"
    REQUEST_PRESENTED = "request_presented"  # EvtIoRead/Write/DeviceControl/... called (detail)
    REQUEST_ACKNOWLEDGED = "request_acknowledged"  # WdfRequestStopAcknowledge (detail: with/without requeue)
    REQUEST_REQUEUED = "request_requeued"
    REQUEST_CANCELLED = "request_cancelled"
    REQUEST_COMPLETE_CALLED = "request_complete_called"  # the driver called WdfRequestComplete* (request, status)
    REQUEST_COMPLETED = "request_completed"  # (request, irp, information, status)
    REQUEST_COMPLETED_ON_ARRIVAL = "request_completed_on_arrival"  # the queue completed a new request itself
    REQUEST_NOT_OWNED = "request_not_owned"  # verifier: the driver used a request it does not own (request, status)
    COMPLETION_ERROR = "completion_error"  # double completion, completing a cancelable request, ...
    FRAMEWORK_ERROR = "framework_error"  # other framework message at error/fatal level
    FRAMEWORK = "framework"  # other framework message
    RAW = "raw"  # not a framework message (driver trace, unknown record, debugger noise)


@dataclass(slots=True)
class Event:
    """One typed event. Fields that do not apply to the kind stay None."""

    kind: EventKind
    index: int  # position in the evidence (order of the decoded log)
    ref: SourceRef
    text: str
    log: str = ""
    sequence: int | None = None
    timestamp: datetime | None = None
    catalog_id: str | None = None
    level: str | None = None
    inferred: bool = False
    device: int | None = None
    devobj: int | None = None
    queue: int | None = None
    request: int | None = None
    irp: int | None = None
    machine: str | None = None
    state: str | None = None
    from_state: str | None = None
    event: str | None = None
    status: int | None = None
    information: int | None = None
    count: int | None = None
    detail: str | None = None
    mentions: tuple[int, ...] = ()  # unidentified record: pointer-sized values in its raw arguments


# (framework format string, kind, argument field names in order, fixed fields)
_STATE_FIELDS = ("device", "devobj", "state", "from_state")
_DROP_FIELDS = ("device", "devobj", "state", "event")
_TABLE: tuple[tuple[str, EventKind, tuple[str, ...], dict], ...] = (
    ("WDFDEVICE 0x%p !devobj 0x%p entering PnP State %!WDF_DEVICE_PNP_STATE! from %!WDF_DEVICE_PNP_STATE!", EventKind.STATE, _STATE_FIELDS, {"machine": "pnp"}),
    ("WDFDEVICE 0x%p !devobj 0x%p entering Power State %!WDF_DEVICE_POWER_STATE! from %!WDF_DEVICE_POWER_STATE!", EventKind.STATE, _STATE_FIELDS, {"machine": "power"}),
    ("WDFDEVICE 0x%p !devobj 0x%p entering power policy state %!WDF_DEVICE_POWER_POLICY_STATE! from %!WDF_DEVICE_POWER_POLICY_STATE!", EventKind.STATE, _STATE_FIELDS, {"machine": "pwrpol"}),
    ("WDFDEVICE 0x%p !devobj 0x%p entering not power policy owner state %!WDF_DEVICE_POWER_POLICY_STATE! from %!WDF_DEVICE_POWER_POLICY_STATE!", EventKind.STATE, _STATE_FIELDS, {"machine": "notpwrpolowner"}),
    ("WDFDEVICE 0x%p !devobj 0x%p entering power idle state %!FxPowerIdleStates! from %!FxPowerIdleStates!", EventKind.STATE, _STATE_FIELDS, {"machine": "idle"}),
    ("WDFDEVICE 0x%p !devobj 0x%p entering self managed io state %!FxSelfManagedIoStates! from %!FxSelfManagedIoStates!", EventKind.STATE, _STATE_FIELDS, {"machine": "selfio"}),
    ("WDFDEVICE 0x%p !devobj 0x%p entering wake interrupt state %!FxWakeInterruptStates! from %!FxWakeInterruptStates!", EventKind.STATE, _STATE_FIELDS, {"machine": "wakeint"}),
    ("WDFDEVICE 0x%p !devobj 0x%p entering device power requirement state %!FxDevicePwrRequirementStates! from %!FxDevicePwrRequirementStates!", EventKind.STATE, _STATE_FIELDS, {"machine": "pwrreq"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pnp state %!WDF_DEVICE_PNP_STATE! dropping event %!FxPnpEvent! because of a full queue", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "pnp", "detail": "full queue"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pnp state %!WDF_DEVICE_PNP_STATE! dropping event %!FxPnpEvent! because of a closed queue", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "pnp", "detail": "closed queue"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pnp state %!WDF_DEVICE_PNP_STATE! dropping event %!FxPnpEvent!", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "pnp", "detail": "not handled in state"}),
    ("WDFDEVICE 0x%p !devobj %p current state %!WDF_DEVICE_PNP_STATE!, policy event %!FxPnpEvent! is not a known dropped event, known dropped events are %!FxPnpEvent!", EventKind.DROPPED_EVENT, _DROP_FIELDS + ("_",), {"machine": "pnp", "detail": "not a known dropped event"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pwr pol state %!WDF_DEVICE_POWER_STATE! dropping event %!FxPowerEvent! because the Event is already enqueued.", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "power", "detail": "already enqueued"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pwr pol state %!WDF_DEVICE_POWER_STATE! dropping event %!FxPowerEvent! because of a closed queue", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "power", "detail": "closed queue"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current power state %!WDF_DEVICE_POWER_STATE! dropping event %!FxPowerEvent!", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "power", "detail": "not handled in state"}),
    ("WDFDEVICE %p !devobj 0x%p current state %!WDF_DEVICE_POWER_STATE! event %!FxPowerEvent! is not a known dropped event, known dropped events are %!FxPowerEvent!", EventKind.DROPPED_EVENT, _DROP_FIELDS + ("_",), {"machine": "power", "detail": "not a known dropped event"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pwr pol state %!WDF_DEVICE_POWER_POLICY_STATE! dropping event %!FxPowerPolicyEvent! because the Event is already enqueued.", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "pwrpol", "detail": "already enqueued"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pwr pol state %!WDF_DEVICE_POWER_POLICY_STATE! dropping event %!FxPowerPolicyEvent! because of a closed queue", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "pwrpol", "detail": "closed queue"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current pwr pol state %!WDF_DEVICE_POWER_POLICY_STATE! dropping event %!FxPowerPolicyEvent!", EventKind.DROPPED_EVENT, _DROP_FIELDS, {"machine": "pwrpol", "detail": "not handled in state"}),
    ("WDFDEVICE 0x%p !devobj 0x%p current state %!WDF_DEVICE_POWER_POLICY_STATE!, policy event %!FxPowerPolicyEvent! is not a known dropped event, known dropped events are %!FxPowerPolicyEvent!", EventKind.DROPPED_EVENT, _DROP_FIELDS + ("_",), {"machine": "pwrpol", "detail": "not a known dropped event"}),
    ("WDFQUEUE 0x%p Power Transition State %!FxIoQueuePowerState!", EventKind.QUEUE_POWER_STATE, ("queue", "state"), {}),
    ("Perform %!FxIoStopProcessingForPowerAction! for all queues of WDFDEVICE 0x%p", EventKind.QUEUE_POWER_ACTION, ("detail", "device"), {}),
    ("Power resume all queues of WDFDEVICE 0x%p", EventKind.QUEUES_RESUMED, ("device",), {"detail": "resume"}),
    ("Restart queues from purged state for WDFDEVICE 0x%p due to device restart", EventKind.QUEUES_RESUMED, ("device",), {"detail": "restart"}),
    ("Power Stop: WDFQUEUE 0x%p is powering off with in-flight requests", EventKind.QUEUE_POWER_STOP, ("queue",), {"detail": "stop with in-flight requests"}),
    ("Power Stop: WDFQUEUE 0x%p is powering off without in-flight requests", EventKind.QUEUE_POWER_STOP, ("queue",), {"detail": "stop without in-flight requests"}),
    ("Power Stop: WDFQUEUE 0x%p is purging with in-flight requests", EventKind.QUEUE_POWER_STOP, ("queue",), {"detail": "purge with in-flight requests"}),
    ("Power purge: WDFQUEUE 0x%p is purging without in-flight requests", EventKind.QUEUE_POWER_STOP, ("queue",), {"detail": "purge without in-flight requests"}),
    ("Power Stop Notifying Driver, WDFQUEUE 0x%p, WDFREQUEST 0x%p", EventKind.POWER_STOP_NOTIFY, ("queue", "request"), {"detail": "stop"}),
    ("Power Purge Notifying Driver WDFQUEUE 0x%p, WDFREQUEST 0x%p", EventKind.POWER_STOP_NOTIFY, ("queue", "request"), {"detail": "purge"}),
    ("Power Stop: Waiting for Driver to complete or acknowledge in-flight requests on WDFQUEUE 0x%p", EventKind.QUEUE_WAITING_DRIVER, ("queue",), {}),
    ("Waiting for all inflight requests to be acknowledged  on WDFQUEUE 0x%p", EventKind.QUEUE_WAITING_DRIVER, ("queue",), {}),
    ("Power Stop: Driver has acknowledged all in-flight requests, but WDFQUEUE 0x%p has outstanding callbacks", EventKind.QUEUE_WAITING_DRIVER, ("queue",), {"detail": "outstanding callbacks"}),
    ("Waiting for all threads to stop dispatching requests so that WDFQUEUE 0x%p can be powered off", EventKind.QUEUE_WAITING_DRIVER, ("queue",), {"detail": "dispatching threads"}),
    ("Power Stop: WDFQUEUE 0x%p is now powered off with no in-flight requests", EventKind.QUEUE_POWERED_OFF, ("queue",), {}),
    ("Power Resume: WDFQUEUE 0x%p is now powered on and I/O has resumed", EventKind.QUEUE_POWERED_ON, ("queue",), {}),
    ("Power Resume, Notifying Driver, WDFQUEUE 0x%p, WDFREQUEST 0x%p", EventKind.POWER_RESUME_NOTIFY, ("queue", "request"), {}),
    ("Waiting for %d requests to complete on WDFQUEUE 0x%p", EventKind.QUEUE_WAITING, ("count", "queue"), {}),
    ("WDFQUEUE 0x%p is idle, calling driver callback", EventKind.QUEUE_CALLBACK, ("queue",), {"detail": "idle"}),
    ("WDFQUEUE 0x%p is purged, calling driver callback", EventKind.QUEUE_CALLBACK, ("queue",), {"detail": "purged"}),
    ("WDFQUEUE 0x%p is shut down, preventing queue from accepting requests", EventKind.QUEUE_SHUTDOWN, ("queue",), {}),
    ("Queuing WDFREQUEST 0x%p on WDFQUEUE 0x%p", EventKind.REQUEST_QUEUED, ("request", "queue"), {}),
    ("Calling driver EvtIoRead for WDFREQUEST 0x%p", EventKind.REQUEST_PRESENTED, ("request",), {"detail": "EvtIoRead"}),
    ("Calling driver EvtIoWrite for WDFREQUEST 0x%p", EventKind.REQUEST_PRESENTED, ("request",), {"detail": "EvtIoWrite"}),
    ("Calling driver EvtIoDeviceControl for WDFREQUEST 0x%p", EventKind.REQUEST_PRESENTED, ("request",), {"detail": "EvtIoDeviceControl"}),
    ("Calling driver EvtIoInternalDeviceControl for WDFREQUEST 0x%p", EventKind.REQUEST_PRESENTED, ("request",), {"detail": "EvtIoInternalDeviceControl"}),
    ("Calling driver EvtIoDefault for WDFREQUEST 0x%p", EventKind.REQUEST_PRESENTED, ("request",), {"detail": "EvtIoDefault"}),
    ("Acknowledging WDFREQUEST %p on WDFQUEUE %p %s requeue option", EventKind.REQUEST_ACKNOWLEDGED, ("request", "queue", "detail"), {}),
    ("WDFREQUEST 0x%p", EventKind.REQUEST_REQUEUED, ("request",), {}),
    ("Cancelling WDFREQUEST 0x%p, WDFQUEUE 0x%p", EventKind.REQUEST_CANCELLED, ("request", "queue"), {"detail": "cancelling"}),
    ("WDFREQUEST 0x%p was cancelled while on WDFQUEUE 0x%p", EventKind.REQUEST_CANCELLED, ("request", "queue"), {"detail": "cancelled on queue"}),
    ("WDFREQUEST 0x%p was cancelled in driver for WDFQUEUE 0x%p", EventKind.REQUEST_CANCELLED, ("request", "queue"), {"detail": "cancelled in driver"}),
    ("Calling CancelRoutine routine for WDFREQUEST 0x%p on WDFQUEUE 0x%p", EventKind.REQUEST_CANCELLED, ("request", "queue"), {"detail": "EvtRequestCancel"}),
    ("Calling CanceledOnQueue routine for WDFREQUEST 0x%p on WDFQUEUE 0x%p", EventKind.REQUEST_CANCELLED, ("request", "queue"), {"detail": "EvtIoCanceledOnQueue"}),
    ("Completing WDFREQUEST 0x%p for IRP 0x%p with Information 0x%I64x, %!STATUS!", EventKind.REQUEST_COMPLETED, ("request", "irp", "information", "status"), {}),
    ("Completing WDFREQUEST 0x%p, %!STATUS!", EventKind.REQUEST_COMPLETE_CALLED, ("request", "status"), {}),
    ("Zero length WDFREQUEST 0x%p completed automatically by WDFQUEUE 0x%p", EventKind.REQUEST_COMPLETED_ON_ARRIVAL, ("request", "queue"), {"status": 0, "detail": "zero length"}),
    ("WDFQUEUE 0x%p is not accepting requests, state is %!WDF_IO_QUEUE_STATE!, %scompleting WDFREQUEST 0x%p %!STATUS!", EventKind.REQUEST_COMPLETED_ON_ARRIVAL, ("queue", "_", "_", "request", "status"), {"detail": "queue not accepting requests"}),
    ("WDFREQUEST 0x%p is not owned by the driver, %!STATUS!", EventKind.REQUEST_NOT_OWNED, ("request", "status"), {}),
    ("Completing Cancelable WDFREQUEST %p.  This results in a race condition in the device driver that can cause double completions.  Call WdfRequestUnmarkCancelable before WdfRequestComplete.  If WdfRequestUnmarkCancelable returns STATUS_CANCELLED, do not complete the request until the EvtIoCancel handler is called.  The straightforward way to ensure this is to complete a canceled request from the EvIoCancel callback.", EventKind.COMPLETION_ERROR, ("request",), {"detail": "completing a cancelable request"}),
    ("WDFREQUEST 0x%p has already been completed", EventKind.COMPLETION_ERROR, ("request",), {"detail": "request already completed"}),
    ("WDFREQUEST 0x%p is already completed, %!STATUS!", EventKind.COMPLETION_ERROR, ("request", "status"), {"detail": "request already completed"}),
    ("WDFREQUEST is already completed 0x%p, %!STATUS!", EventKind.COMPLETION_ERROR, ("request", "status"), {"detail": "request already completed"}),
    ("WDFREQUEST %p has already been completed or has no PIRP assignment, %!STATUS!", EventKind.COMPLETION_ERROR, ("request", "status"), {"detail": "request already completed"}),
    ("IRP %p of WDFREQUEST %p cannot be completed, %!STATUS!", EventKind.COMPLETION_ERROR, ("irp", "request", "status"), {"detail": "IRP cannot be completed"}),
)

# formats the framework logs at several call sites of which only one means the event kind above
_ONLY_IN = {"WDFREQUEST 0x%p": "FxIoQueue::Requeue"}  # FxPkgIo::EnqueueRequest logs it for a new request

_ERROR_LEVELS = {"TRACE_LEVEL_ERROR", "TRACE_LEVEL_FATAL", "TRACE_LEVEL_CRITICAL"}


@lru_cache(maxsize=1)
def _by_catalog_id() -> dict[str, tuple[EventKind, tuple[str, ...], dict]]:
    catalog = load_catalog()
    by_format: dict[str, list[str]] = {}
    for entry in catalog.entries:
        if _ONLY_IN.get(entry.format, entry.function) == entry.function:
            by_format.setdefault(entry.format, []).append(entry.id)
    table = {}
    for fmt, kind, fields, fixed in _TABLE:
        ids = by_format.get(fmt)
        if not ids:
            raise LookupError(f"event table format not in the framework catalog: {fmt!r}")
        for entry_id in ids:
            table[entry_id] = (kind, fields, fixed)
    return table


def typed_formats() -> list[str]:
    """The framework format strings this model types (the rest become FRAMEWORK or RAW events)."""
    return [fmt for fmt, *_ in _TABLE]


def to_event(message: TraceMessage, index: int) -> Event:
    """Type one message by its catalog entry."""
    event = Event(
        kind=EventKind.RAW,
        index=index,
        ref=message.ref,
        text=message.text,
        log=message.log,
        sequence=message.sequence,
        timestamp=message.timestamp,
        catalog_id=message.catalog_id,
        level=message.level,
        inferred=message.inferred,
        mentions=message.pointers,
    )
    if message.catalog_id is None:
        return event
    spec = _by_catalog_id().get(message.catalog_id)
    if spec is None:
        entry = load_catalog().by_id.get(message.catalog_id)
        level = entry.level if entry else message.level
        event.level = level
        event.kind = EventKind.FRAMEWORK_ERROR if level in _ERROR_LEVELS else EventKind.FRAMEWORK
        return event
    kind, fields, fixed = spec
    event.kind = kind
    for name, value in zip(fields, message.args):
        if name != "_":
            setattr(event, name, _field_value(name, value))
    for name, value in fixed.items():
        setattr(event, name, value)
    if message.general:  # recognised as the general form: the variant's own facts are not known
        event.detail = "reason not known without the TMF"
    if kind is EventKind.REQUEST_ACKNOWLEDGED:
        event.detail = f"{event.detail} requeue"  # "with requeue" / "without requeue"
    if event.level is None:
        event.level = load_catalog().by_id[message.catalog_id].level
    return event


def _field_value(name: str, value):
    if name in ("device", "devobj", "queue", "request", "irp", "status", "information", "count"):
        return value if isinstance(value, int) else None
    return None if value is None else str(value)


def to_events(messages: Iterable[TraceMessage]) -> list[Event]:
    """Type a whole decoded log, keeping its order."""
    return [to_event(m, i) for i, m in enumerate(messages)]
