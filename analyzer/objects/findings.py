"""Findings from the framework objects in memory, with the same rule ids as the log rules.

- WDF002: a power-managed queue powered off or stopping/purging whose notified lists (``m_PowerNotify``,
  ``m_PowerDriverNotified``) still hold requests the driver has not acknowledged: one finding per request.
- WDF003: requests still owned by the driver (``m_DriverOwned``, ``m_DriverCancelable``, the notified
  lists) on a device whose PnP machine is removed: one finding per request.
- WDF004: a device machine whose current state is transitional (analyzer/states.py): one finding per device.
- WDF001: a power-managed queue powered off (FxIoQueuePowerOff) with requests waiting on it: they are dispatched
  only when the device is back in D0 (its power state, when known, is said): one finding per queue.

The objects come from a memory walk (a crash dump or snapshot) or from object views pasted into a bug report
(:func:`pasted_findings`, parsers.objecttext), which show less: what a view does not print stays unknown.

Each finding has ``facts["found_in"] = "objects"`` and ``object_view``, the walked device (and queue) it rests on,
which the renderers show as the wdfkd-shaped view.
:func:`merge` joins them with the log's findings: a finding both give (same rule and objects) keeps the log's
evidence and becomes ``"log+objects"``.
"""
from __future__ import annotations

from analyzer.objects.walk import MACHINES, DeviceView, DriverView, Machine, QueueView, RequestView
from analyzer.result import Finding, Severity
from analyzer.states import MACHINE_TITLES, is_d0, is_resting, short_name
from parsers.enums import name_of, value_of
from parsers.objecttext import ViewedDevice, ViewedQueue

OBJECT_RULES = ("WDF001", "WDF002", "WDF003", "WDF004")
QUEUE_POWER_OFF = value_of("FxIoQueuePowerOff")
#: FXIOQUEUE_POWER_STATE values of a queue that is off or on its way off (stopping or purging).
POWERING_OFF = {name_of("FXIOQUEUE_POWER_STATE", v) for v in range(2, 10) if v != 3}
NOTIFIED_LISTS = ("m_PowerNotify", "m_PowerDriverNotified")
DRIVER_LISTS = ("m_DriverOwned", "m_DriverCancelable", "m_PowerNotify", "m_PowerDriverNotified")
REMOVED_PNP = {"Removed", "FdoRemoved", "PdoRemoved", "RemovedPdoWait", "RemovedPdoSurpriseRemoved", "Final",
               "FailedWaitForRemove", "RemovingDisableInterfaces"}


def object_findings(drivers: list[DriverView], bugcheck_code: int | None = None) -> list[Finding]:
    """The object rules over every walked device."""
    return [f for driver in drivers for device in driver.devices for f in device_findings(device, bugcheck_code)]


def device_findings(device: DeviceView, bugcheck_code: int | None) -> list[Finding]:
    """The object rules over one device and its queues."""
    return (_stopped_queue_requests(device, bugcheck_code) + _removed_device_requests(device) +
            _powered_off_queues_waiting(device, device.queues, bugcheck_code) +
            _transitional_states(device, bugcheck_code))


def pasted_findings(objects: list, bugcheck_code: int | None = None) -> list[Finding]:
    """The object rules over the devices and queues of pasted object views (``LogSet.objects``): a queue listed
    by ``!wdfdevicequeues`` belongs to that device; a queue pasted alone (``!wdfqueue``) to no known device."""
    devices = {o.handle: DeviceView(None, o.handle, machines=[
        Machine(name, o.states[name], o.histories.get(name, []), None) for name, *_ in MACHINES if name in o.states])
        for o in objects if isinstance(o, ViewedDevice)}
    alone = []
    for o in objects:
        if isinstance(o, ViewedQueue):
            queue = _queue_view(o)
            if o.device is None:
                alone.append(queue)
            else:
                devices.setdefault(o.device, DeviceView(None, o.device)).queues.append(queue)
    found = [f for device in devices.values() for f in device_findings(device, bugcheck_code)] + \
        _powered_off_queues_waiting(None, alone, bugcheck_code)
    for finding in found:
        finding.facts["objects_from"] = "pasted views"
    return found


def _queue_view(queue: ViewedQueue) -> QueueView:
    """A pasted queue as a walked one: a request list only when the view listed every request it counted."""
    state = None if queue.can_accept is None else int(queue.can_accept) | int(queue.can_dispatch) << 1
    return QueueView(None, queue.handle, power_managed=queue.power_managed, power_state=queue.power_state,
                     dispatch_type=queue.dispatch_type, queue_state=state,
                     driver_io_count=queue.counts.get("m_DriverOwned"), waiting_count=queue.counts.get("m_Queue"),
                     lists={name: [RequestView(None, handle, name, irp) for handle, irp in listed]
                            for name, listed in queue.requests.items() if len(listed) == queue.counts.get(name)})


def _powered_off_queues_waiting(device: DeviceView | None, queues: list[QueueView],
                                bugcheck_code: int | None) -> list[Finding]:
    power = device.current_state("power") if device else None
    out = []
    for queue in queues:
        waiting = queue.waiting()
        if not queue.power_managed or queue.power_state != QUEUE_POWER_OFF or not waiting:
            continue
        where = "an unknown device" if device is None else f"WDFDEVICE 0x{device.handle:x}" + (
            f" (power state {short_name('power', power)})" if power else "")
        out.append(Finding(
            rule="WDF001", title="Stalled power-managed queue",
            severity=Severity.ERROR if bugcheck_code == 0x9F else Severity.WARNING,
            summary=(f"WDFQUEUE 0x{queue.handle:x} of {where} is power-managed and powered off with {waiting} "
                     "request(s) waiting: they are dispatched only when the device is back in D0"),
            probable_cause=("Requests keep arriving at a power-managed queue while the device is in a low-power "
                            "state" + ("" if power is None or not is_d0(power) else
                                       ", or the queue was not restarted when the device returned to D0") +
                            "; unless something powers the device up (idle power-down should), they wait forever."),
            suggested_fix=("Check that the device is allowed to return to D0 (power policy owner, idle settings, "
                           "!wdfdevice <device> f for its power policy state); a driver above the power policy "
                           "owner, or requests that must be served in Dx, need a queue that is not power-managed."),
            device=None if device is None else device.handle, queue=queue.handle,
            object_view=(device, queue), facts={"found_in": "objects", "waiting": waiting}))
    return out


def _stopped_queue_requests(device: DeviceView, bugcheck_code: int | None) -> list[Finding]:
    out = []
    for queue in device.queues:
        if not queue.power_managed or queue.power_state_name() not in POWERING_OFF:
            continue
        for list_name in NOTIFIED_LISTS:
            for request in queue.lists.get(list_name, []):
                if request.power_stop_state not in (None, 0):
                    continue  # acknowledged
                out.append(Finding(
                    rule="WDF002", title="EvtIoStop never acknowledged",
                    severity=Severity.CRITICAL if bugcheck_code == 0x9F else Severity.ERROR,
                    summary=(f"WDFREQUEST 0x{request.handle:x} on WDFQUEUE 0x{queue.handle:x} of WDFDEVICE "
                             f"0x{device.handle:x} sits on {list_name} of a queue in {queue.power_state_name()}: "
                             "handed to EvtIoStop and not acknowledged or completed"),
                    probable_cause=("The driver's EvtIoStop neither completed the request nor called "
                                    "WdfRequestStopAcknowledge, so the power-managed queue cannot power off and the "
                                    "device cannot leave D0."),
                    suggested_fix=("In EvtIoStop complete the request, cancel the I/O sent for it, or call "
                                   "WdfRequestStopAcknowledge(Request, requeue)."),
                    device=device.handle, queue=queue.handle, request=request.handle,
                    requests_explained=(request.handle,),
                    object_view=(device, queue), facts={"found_in": "objects", "list": list_name}))
    return out


def _removed_device_requests(device: DeviceView) -> list[Finding]:
    state = device.current_state("pnp")
    if state is None or short_name("pnp", state) not in REMOVED_PNP:
        return []
    out = []
    for queue in device.queues:
        for list_name in DRIVER_LISTS:
            for request in queue.lists.get(list_name, []):
                out.append(Finding(
                    rule="WDF003", title="Leaked request", severity=Severity.ERROR,
                    summary=(f"WDFREQUEST 0x{request.handle:x} is still owned by the driver ({list_name} of WDFQUEUE "
                             f"0x{queue.handle:x}) on WDFDEVICE 0x{device.handle:x}, whose PnP state is {state}"),
                    probable_cause="The driver never completed a request it owns; the device was removed around it.",
                    suggested_fix="Complete every request the driver owns before or during EvtDeviceSelfManagedIoFlush "
                                  "/ queue purge; track requests sent to I/O targets and cancel them on removal.",
                    device=device.handle, queue=queue.handle, request=request.handle,
                    requests_explained=(request.handle,),
                    object_view=(device, queue), facts={"found_in": "objects", "list": list_name}))
    return out


def _transitional_states(device: DeviceView, bugcheck_code: int | None) -> list[Finding]:
    stuck = [(m, m.state_name(m.current)) for m in device.machines
             if m.current is not None and not is_resting(m.name, m.state_name(m.current))]
    if not stuck:
        return []
    parts = [f"{MACHINE_TITLES.get(m.name, m.name)} in {short_name(m.name, s)}" for m, s in stuck]
    return [Finding(
        rule="WDF004", title="State machine stuck",
        severity=Severity.ERROR if bugcheck_code == 0x9F else Severity.WARNING,
        summary=f"WDFDEVICE 0x{device.handle:x}: {', '.join(parts)} (transitional states, current in memory)",
        probable_cause="The machine is waiting for something that has not happened: a request to be completed or "
                       "acknowledged, a power reference, a callback that has not returned.",
        suggested_fix="See which request or callback the machine waits for (the device's queues and the log).",
        device=device.handle, object_view=(device, None), facts={"found_in": "objects"})]


def merge(log_findings: list[Finding], found: list[Finding]) -> list[Finding]:
    """Log findings of the rules objects also check are marked ``found_in: log``; an object finding the log
    also gives (same rule; same request, or same device for WDF004) is folded into it as ``log+objects``, the
    others are added."""
    for finding in log_findings:
        if finding.rule in OBJECT_RULES:
            finding.facts.setdefault("found_in", "log")
    out = list(log_findings)
    for finding in found:
        twin = next((f for f in log_findings if f.rule == finding.rule and _same_objects(f, finding)), None)
        if twin is None:
            out.append(finding)
        else:
            twin.facts["found_in"] = "log+objects"
            twin.object_view = finding.object_view
            if "objects_from" in finding.facts:
                twin.facts["objects_from"] = finding.facts["objects_from"]
    return out


def _same_objects(a: Finding, b: Finding) -> bool:
    if a.request is not None or b.request is not None:
        return a.request == b.request
    return a.device == b.device


def findings_in_memory(path: str, pdb_paths=(), bugcheck=None) -> list[Finding]:
    """The object findings of a snapshot or crash dump; none when its memory or layouts cannot be read
    (the log rules still run on what the file holds)."""
    from analyzer.objects.commands import open_file, walk_all
    from parsers.errors import WdfTriageError

    try:
        target = open_file(path, pdb_paths)
    except WdfTriageError:
        return []
    drivers, _ = walk_all(target)
    code = (bugcheck or target.bugcheck).code if (bugcheck or target.bugcheck) else None
    return object_findings(drivers, code)


def summary(drivers: list[DriverView]) -> dict:
    """What a walk found, as JSON (handles and addresses as hex strings), for a snapshot's ``objects``."""
    def queue(q: QueueView) -> dict:
        return {"handle": hex(q.handle), "power_managed": q.power_managed, "power_state": q.power_state_name(),
                "lists": {name: [hex(r.handle) for r in requests] for name, requests in q.lists.items()}}

    return {"drivers": [{"name": d.name, "globals": hex(d.globals),
                         "log_header": None if d.log_header is None else hex(d.log_header),
                         "devices": [{"handle": hex(dev.handle),
                                      "states": {m.name: m.state_name(m.current) for m in dev.machines},
                                      "queues": [queue(q) for q in dev.queues]} for dev in d.devices]}
                        for d in drivers]}
