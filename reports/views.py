"""Object views shaped like wdfkd's (``!wdfdriverinfo``, ``!wdfdevice``, ``!wdfdevicequeues``, ``!wdfqueue``,
``!wdfrequest``, ``!wdfhandle``): text renderers of what analyzer/objects/walk.py read. A value no layout
source gives, or memory that could not be read, prints as ``unavailable``, never as 0."""
from __future__ import annotations

from analyzer.objects.walk import LIST_TITLES, POWER_STOP_STATES, DeviceView, DriverView, QueueView, RequestView
from parsers.enums import name_of

UNAVAILABLE = "unavailable"
_DISPATCH = {1: "Sequential", 2: "Parallel", 3: "Manual"}
_MACHINE_TITLES = {"pnp": "PnP", "power": "Power", "pwrpol": "Power policy"}


def type_name(fx_type: int | None) -> str:
    """WDFDEVICE for FX_TYPE_DEVICE, and so on; internal types keep their FX_TYPE_ name."""
    if fx_type is None:
        return "unknown type"
    name = name_of("FX_OBJECT_TYPES", fx_type)
    if name is None:
        return f"type 0x{fx_type:x}"
    if 0x1100 <= fx_type < 0x1200:  # packages and IRP handlers: framework-internal objects with no WDF handle type
        return f"{name} (internal)"
    return "WDF" + name[len("FX_TYPE_"):].replace("_", "")


def _hex(value: int | None) -> str:
    return UNAVAILABLE if value is None else f"0x{value:x}"


def _flag(value: bool | None, yes: str, no: str) -> str:
    return UNAVAILABLE if value is None else (yes if value else no)


def queue_summary(queue: QueueView) -> str:
    state = queue.queue_state
    parts = [
        UNAVAILABLE if queue.dispatch_type is None else _DISPATCH.get(queue.dispatch_type, f"dispatch 0x{queue.dispatch_type:x}"),
        _flag(queue.power_managed, "Power-managed", "Not power-managed"),
        UNAVAILABLE if queue.power_state is None else queue.power_state_name().replace("FxIoQueue", ""),
        UNAVAILABLE if state is None else ("Can accept" if state & 1 else "Cannot accept"),
        UNAVAILABLE if state is None else ("Can dispatch" if state & 2 else "Cannot dispatch"),
    ]
    return ", ".join(parts)


def render_request_line(request: RequestView) -> str:
    stop = request.power_stop_state
    return (f"!wdfrequest 0x{request.handle:x}  IRP {_hex(request.irp)}  "
            f"presented: {_flag(request.presented, 'yes', 'no')}  "
            f"EvtIoStop: {UNAVAILABLE if stop is None else POWER_STOP_STATES.get(stop, hex(stop))}")


def render_queue(queue: QueueView, indent: str = "") -> list[str]:
    waiting = queue.waiting()
    lines = [f"{indent}{queue_summary(queue)}",
             f"{indent}    Number of driver owned requests: {UNAVAILABLE if queue.driver_io_count is None else queue.driver_io_count}",
             f"{indent}    Number of waiting requests: {UNAVAILABLE if waiting is None else waiting}"]
    for list_name, title in LIST_TITLES.items():
        if list_name not in queue.lists:
            lines.append(f"{indent}    {title} ({list_name}): {UNAVAILABLE}")
        elif queue.lists[list_name]:
            lines.append(f"{indent}    {title} ({list_name}): {len(queue.lists[list_name])}")
            lines += [f"{indent}        {render_request_line(r)}" for r in queue.lists[list_name]]
    return lines


def render_queue_view(queue: QueueView) -> str:
    title = f"Dumping WDFQUEUE 0x{queue.handle:x}"
    return "\n".join([title, "=" * len(title)] + render_queue(queue)) + "\n"


def render_devicequeues(device: DeviceView) -> str:
    title = f"Dumping queues of WDFDEVICE 0x{device.handle:x}"
    lines = [title, "=" * len(title), f"Number of queues: {len(device.queues)}"]
    for i, queue in enumerate(device.queues, 1):
        lines += ["-" * 34, f"Queue: {i} (!wdfqueue 0x{queue.handle:x})"] + render_queue(queue, "    ")
    return "\n".join(lines) + "\n"


def render_device(device: DeviceView) -> str:
    lines = [f"WDFDEVICE 0x{device.handle:x}  (FxDevice {_hex(device.address)})",
             f"  FX_DRIVER_GLOBALS: {_hex(device.globals)}"]
    for machine in device.machines:
        current = machine.state_name(machine.current)
        lines.append(f"  {_MACHINE_TITLES[machine.name]} state: {current or UNAVAILABLE}")
        if machine.history:
            lines.append("    history (oldest first): " + ", ".join(machine.state_name(s) for s in machine.history))
        else:
            lines.append(f"    history: {UNAVAILABLE}")
    lines.append(f"  Queues: {len(device.queues)}")
    lines += [f"    !wdfqueue 0x{q.handle:x}  {queue_summary(q)}" for q in device.queues]
    if device.children:
        lines.append("  Child objects:")
        lines += [f"    {type_name(t)} 0x{h:x}" for t, h in device.children]
    return "\n".join(lines) + "\n"


def render_request(request: RequestView) -> str:
    title = f"WDFREQUEST 0x{request.handle:x}  (FxRequest {_hex(request.address)})"
    queue = UNAVAILABLE if request.queue_handle is None else f"WDFQUEUE 0x{request.queue_handle:x}"
    return "\n".join([title, f"  IRP: {_hex(request.irp)}", f"  queue: {queue}",
                      "  on list: " + (LIST_TITLES.get(request.list_name, "not found on its queue") if request.list_name
                                       else "not walked from a queue"),
                      f"  presented to the driver: {_flag(request.presented, 'yes', 'no')}",
                      f"  completed: {_flag(request.completed, 'yes', 'no')}  canceled: {_flag(request.canceled, 'yes', 'no')}",
                      "  EvtIoStop: " + (UNAVAILABLE if request.power_stop_state is None else
                                         POWER_STOP_STATES.get(request.power_stop_state, hex(request.power_stop_state)))]) + "\n"


def render_handle(handle: int, address: int, fx_type: int | None, children: list[tuple[int | None, int]]) -> str:
    """``children``: (FX object type, handle) of each child object."""
    lines = [f"handle 0x{handle:x}, type is {type_name(fx_type)}", f"!wdfobject 0x{address:x}"]
    if children:
        lines.append(f"Child WDFHANDLEs of 0x{handle:x}:")
        lines += [f"    {type_name(t)} 0x{h:x}" for t, h in children]
    return "\n".join(lines) + "\n"


def render_driverinfo(drivers: list[DriverView]) -> str:
    lines = []
    for driver in drivers:
        lines += [f"Driver: {driver.name or UNAVAILABLE}  (FX_DRIVER_GLOBALS 0x{driver.globals:x})",
                  f"  WdfLogHeader: {_hex(driver.log_header)}  (!wdflogdump; wdftriage logdump -a)",
                  f"  FxDriver: {_hex(driver.driver_object)}",
                  f"  Devices: {len(driver.devices)}"]
        for device in driver.devices:
            states = ", ".join(f"{m.name} {m.state_name(m.current) or UNAVAILABLE}" for m in device.machines)
            lines.append(f"    !wdfdevice 0x{device.handle:x}  {states}")
            lines += [f"      !wdfqueue 0x{q.handle:x}  {queue_summary(q)}" for q in device.queues]
    return "\n".join(lines or ["No KMDF drivers found (FxLibraryGlobals not in the target)."]) + "\n"


def render_notes(warnings: list[str], missing: set[str]) -> str:
    """What could not be read: unreadable memory and fields no layout source gives."""
    lines = [f"warning: {w}" for w in warnings]
    if missing:
        lines.append("unavailable fields (no layout source gives them; give --pdb or --layout): "
                     + ", ".join(sorted(missing)))
    return "\n".join(lines) + ("\n" if lines else "")


def finding_view_title(facts: dict) -> str:
    """What an objects finding's view shows: objects walked in memory, or object views pasted into the report."""
    return "Objects in the pasted views" if facts.get("objects_from") == "pasted views" else "Objects in memory"


def render_finding_view(view: tuple) -> str:
    """The view an objects finding rests on: the queue (as !wdfdevicequeues -> !wdfqueue) or the device."""
    device, queue = view
    if queue is None:
        return render_device(device)
    path = f"!wdfqueue 0x{queue.handle:x}" if device is None else \
        f"!wdfdevicequeues 0x{device.handle:x} -> !wdfqueue 0x{queue.handle:x}"
    return "\n".join([path] + render_queue(queue, "  "))
