"""Walking the framework's objects in target memory: drivers, devices, their queues and the requests on
each queue list, the device state machines. Every walk is iterative and bounded: a list that loops or
runs past ``MAX_LIST_ENTRIES`` stops with a warning, unreadable memory becomes a warning and an unknown
value, and a field no layout source gives stays None (listed in ``missing``).

Facts used (reference section 5, from the MIT framework source):
- handle <-> object: ``handle = object ^ ~7`` (FxHandleValueMask, pointer width); a handle with bit 0 set
  (FxHandleFlagIsOffset) points at a USHORT offset back to the owning object.
- FX_DRIVER_GLOBALS: ``Driver`` (the FxDriver object), ``WdfLogHeader``, ``Public.DriverName``; the list
  of drivers is FxLibraryGlobals.BugCheckDriverInfo (FX_DUMP_DRIVER_INFO_ENTRY[BugCheckDriverInfoIndex],
  entry 0 is the framework itself), the same array WdfDumpGuid2 secondary dump data holds.
- An object's children hang on ``m_ChildListHead`` through their ``m_ChildEntry``; devices are children of
  the FxDriver object (``m_Type`` FX_TYPE_DEVICE 0x1002).
- A device's queues: FxDevice.m_PkgIo -> FxPkgIo.m_IoQueueListHead, linked through
  FxIoQueue.m_IoPkgListNode.m_ListEntry.
- A queue's requests: ``m_Queue`` (pending) and ``m_DriverCancelable`` are FxIrpQueues of IRPs linked
  through IRP Tail.Overlay.ListEntry, whose DriverContext[3] points at the request's ``m_CsqContext``;
  ``m_Cancelled`` and ``m_CanceledOnQueueList`` link FxRequest.m_OwnerListEntry; ``m_DriverOwned``,
  ``m_PowerNotify`` and ``m_PowerDriverNotified`` link FxRequest.m_OwnerListEntry2 (fxrequest.hpp
  GetListEntry: FxListEntryQueueOwned / FxListEntryDriverOwned).
- Device machines: current states in FxDevice (m_CurrentPnpState, m_CurrentPowerState,
  m_CurrentPowerPolicyState); each machine in FxPkgPnp keeps ``m_States.History`` (8 USHORTs) and
  ``m_HistoryIndex``, the next slot to write, so the oldest entry is at the index and the newest just
  before it; unwritten slots are 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.objects.layout import Layout
from parsers.enums import name_of
from parsers.errors import TargetReadError

MAX_LIST_ENTRIES = 4096
MAX_WALKED_ENTRIES = 65536  # over every list of one walk: corrupt memory cannot make a walk explode
HISTORY_DEPTH = 8
FX_TYPE_DEVICE, FX_TYPE_QUEUE, FX_TYPE_REQUEST = 0x1002, 0x1003, 0x1008
IRP_CSQ_CONTEXT_ENTRY = 3
#: queue list -> (how it links: "irp" through the IRP, else the FxRequest list entry field)
QUEUE_LISTS = {
    "m_Queue": "irp", "m_DriverCancelable": "irp", "m_Cancelled": "m_OwnerListEntry",
    "m_CanceledOnQueueList": "m_OwnerListEntry", "m_DriverOwned": "m_OwnerListEntry2",
    "m_PowerNotify": "m_OwnerListEntry2", "m_PowerDriverNotified": "m_OwnerListEntry2",
}
LIST_TITLES = {
    "m_Queue": "pending (queued, not yet presented)", "m_DriverCancelable": "driver-owned, cancelable",
    "m_Cancelled": "cancelled, driver not yet notified", "m_CanceledOnQueueList": "cancelled on the queue",
    "m_DriverOwned": "driver-owned", "m_PowerNotify": "waiting for EvtIoStop",
    "m_PowerDriverNotified": "EvtIoStop called, not acknowledged or completed",
}
MACHINES = (("pnp", "m_CurrentPnpState", "m_PnpMachine", "WDF_DEVICE_PNP_STATE"),
            ("power", "m_CurrentPowerState", "m_PowerMachine", "WDF_DEVICE_POWER_STATE"),
            ("pwrpol", "m_CurrentPowerPolicyState", "m_PowerPolicyMachine", "WDF_DEVICE_POWER_POLICY_STATE"))
POWER_STOP_STATES = {0: "not acknowledged", 1: "acknowledged", 2: "acknowledged with requeue"}


def handle_mask(pointer_size: int) -> int:
    return (1 << (8 * pointer_size)) - 8


def to_handle(address: int, pointer_size: int) -> int:
    return address ^ handle_mask(pointer_size)


@dataclass
class Machine:
    name: str  # "pnp", "power", "pwrpol"
    current: int | None
    history: list[int]  # oldest first, unwritten slots left out
    history_index: int | None

    def state_name(self, value: int | None) -> str | None:
        enum = {m[0]: m[3] for m in MACHINES}[self.name]
        return None if value is None else name_of(enum, value) or f"0x{value:x}"


@dataclass
class RequestView:
    address: int | None  # None: known from a pasted view only
    handle: int
    list_name: str | None = None
    irp: int | None = None
    queue: int | None = None  # the FxIoQueue
    queue_handle: int | None = None
    presented: bool | None = None
    power_stop_state: int | None = None
    completed: bool | None = None
    canceled: bool | None = None


@dataclass
class QueueView:
    address: int | None
    handle: int
    device: int | None = None
    power_managed: bool | None = None
    power_state: int | None = None
    dispatch_type: int | None = None
    queue_state: int | None = None
    driver_io_count: int | None = None
    lists: dict[str, list[RequestView]] = field(default_factory=dict)
    waiting_count: int | None = None  # the waiting requests a pasted view counted without listing them all

    def waiting(self) -> int | None:
        """How many requests wait on the queue (``m_Queue``), None when unknown."""
        return len(self.lists["m_Queue"]) if "m_Queue" in self.lists else self.waiting_count

    def power_state_name(self) -> str | None:
        return None if self.power_state is None else name_of("FXIOQUEUE_POWER_STATE", self.power_state) or hex(self.power_state)


@dataclass
class DeviceView:
    address: int | None
    handle: int
    globals: int | None = None
    machines: list[Machine] = field(default_factory=list)
    queues: list[QueueView] = field(default_factory=list)
    children: list[tuple[int | None, int]] = field(default_factory=list)  # (FX object type, handle)

    def current_state(self, machine: str) -> str | None:
        """The name of the current state of one of the device's machines (``pnp``, ``power``, ``pwrpol``), None
        when unknown."""
        return next((m.state_name(m.current) for m in self.machines if m.name == machine), None)


@dataclass
class DriverView:
    globals: int
    name: str | None = None
    log_header: int | None = None
    driver_object: int | None = None
    devices: list[DeviceView] = field(default_factory=list)


class Walker:
    """Reads framework objects from a target through a layout; collects warnings and missing fields."""

    def __init__(self, target, layout: Layout):
        self.target, self.layout, self.ptr = target, layout, target.pointer_size
        self.warnings: list[str] = []
        self.missing: set[str] = set()
        self.walked = 0  # list entries followed so far (bounded by MAX_WALKED_ENTRIES)

    # --- primitive reads -------------------------------------------------------------------------
    def _int(self, address: int, size: int) -> int | None:
        if not 0 <= address <= (1 << (8 * self.ptr)) - size:  # damaged pointers and offsets
            self.warnings.append(f"unreadable: 0x{size:x} bytes at {address:#x}: not an address of this target")
            return None
        try:
            data = self.target.read(address, size)
        except TargetReadError as exc:
            self.warnings.append(f"unreadable: {exc}")
            return None
        if len(data) < size:  # a target that returns what it could read
            self.warnings.append(f"unreadable: 0x{size:x} bytes at 0x{address:x}: only 0x{len(data):x} readable")
            return None
        return int.from_bytes(data, "little")

    def field_address(self, address: int, type_name: str, name: str) -> int | None:
        offset = self.layout.offset(type_name, name)
        if offset is None:
            self.missing.add(f"{type_name}.{name}")
            return None
        return address + offset

    def read(self, address: int | None, type_name: str, name: str, size: int | None = None) -> int | None:
        """An integer field (pointer-sized unless ``size``); None when unreadable or no layout gives it."""
        if address is None:
            return None
        at = self.field_address(address, type_name, name)
        return None if at is None else self._int(at, size or self.ptr)

    def container(self, entry: int, type_name: str, name: str) -> int | None:
        """CONTAINING_RECORD: the object whose ``name`` field is at ``entry``."""
        offset = self.layout.offset(type_name, name)
        if offset is None:
            self.missing.add(f"{type_name}.{name}")
            return None
        return entry - offset

    def list_entries(self, head: int | None, what: str) -> list[int] | None:
        """The entries of the LIST_ENTRY at ``head`` (Flink order), bounded and loop-safe; None when the head
        itself cannot be read (or no layout places it)."""
        if head is None:
            return None
        entries, seen, entry = [], {head}, self._int(head, self.ptr)
        if entry is None:
            return None
        while entry is not None and entry != head:
            if entry in seen or entry == 0:
                self.warnings.append(f"{what}: list at 0x{head:x} loops or is broken at 0x{entry:x}; walk stopped")
                break
            if len(entries) >= MAX_LIST_ENTRIES or self.walked >= MAX_WALKED_ENTRIES:
                self.warnings.append(f"{what}: list at 0x{head:x} longer than this walk reads; walk stopped")
                break
            self.walked += 1
            seen.add(entry)
            entries.append(entry)
            entry = self._int(entry, self.ptr)
        return entries

    # --- handles ---------------------------------------------------------------------------------
    def object_of_handle(self, handle: int) -> int | None:
        """The FxObject a WDF handle names (FxHandleFlagIsOffset handles point at a USHORT offset)."""
        pointer = (handle & ~7) ^ handle_mask(self.ptr)
        if handle & 1:
            offset = self._int(pointer, 2)
            return None if offset is None else pointer - offset
        return pointer

    def object_type(self, address: int) -> int | None:
        return self.read(address, "FxObject", "m_Type", 2)

    # --- objects ---------------------------------------------------------------------------------
    def drivers_from_library(self, library_globals: int) -> list[int]:
        """FX_DRIVER_GLOBALS pointers from FxLibraryGlobals.BugCheckDriverInfo (entry 0 is the framework)."""
        count = self.read(library_globals, "FxLibraryGlobalsType", "BugCheckDriverInfoIndex", 4)
        array = self.read(library_globals, "FxLibraryGlobalsType", "BugCheckDriverInfo")
        size = self.layout.size("_FX_DUMP_DRIVER_INFO_ENTRY")
        if count is None or not array or not size:
            return []
        if count > 1024:
            self.warnings.append(f"BugCheckDriverInfoIndex {count} is not a driver count; ignored")
            return []
        found = [self.read(array + i * size, "_FX_DUMP_DRIVER_INFO_ENTRY", "FxDriverGlobals") for i in range(count)]
        return [g for g in found if g]

    def driver(self, globals_address: int, with_devices: bool = True) -> DriverView:
        view = DriverView(globals_address)
        name_at = self.field_address(globals_address, "FX_DRIVER_GLOBALS", "Public.DriverName")
        if name_at is not None:
            try:
                view.name = self.target.read(name_at, 32).split(b"\0")[0].decode("ascii", errors="replace")
            except TargetReadError as exc:
                self.warnings.append(f"unreadable: {exc}")
        view.log_header = self.read(globals_address, "FX_DRIVER_GLOBALS", "WdfLogHeader")
        view.driver_object = self.read(globals_address, "FX_DRIVER_GLOBALS", "Driver")
        if with_devices and view.driver_object:
            view.devices = [self.device(d) for d in self.children(view.driver_object, FX_TYPE_DEVICE)]
        return view

    def children(self, parent: int, object_type: int | None = None) -> list[int]:
        head = self.field_address(parent, "FxObject", "m_ChildListHead")
        objects = [self.container(e, "FxObject", "m_ChildEntry") for e in self.list_entries(head, "child objects") or []]
        return [o for o in objects if o is not None and (object_type is None or self.object_type(o) == object_type)]

    def device(self, address: int) -> DeviceView:
        view = DeviceView(address, to_handle(address, self.ptr))
        view.globals = self.read(address, "FxObject", "m_Globals")
        pkg_pnp = self.read(address, "FxDevice", "m_PkgPnp")
        for machine, current_field, machine_field, _ in MACHINES:
            view.machines.append(self._machine(machine, self.read(address, "FxDevice", current_field, 4), pkg_pnp,
                                               machine_field))
        view.children = [(self.object_type(c), to_handle(c, self.ptr)) for c in self.children(address)]
        pkg_io = self.read(address, "FxDevice", "m_PkgIo")
        head = self.field_address(pkg_io, "FxPkgIo", "m_IoQueueListHead") if pkg_io else None
        for entry in self.list_entries(head, "device queues") or []:
            queue = self.container(entry, "FxIoQueue", "m_IoPkgListNode.m_ListEntry")
            if queue is not None:
                view.queues.append(self.queue(queue))
        return view

    def _machine(self, name: str, current: int | None, pkg_pnp: int | None, machine_field: str) -> Machine:
        if not pkg_pnp:
            return Machine(name, current, [], None)
        index = self.read(pkg_pnp, "FxPkgPnp", f"{machine_field}.m_HistoryIndex", 1)
        slots = [self.read(pkg_pnp, "FxPkgPnp", f"{machine_field}.m_States.History[{i}]", 2) for i in range(HISTORY_DEPTH)]
        if index is None or None in slots:
            return Machine(name, current, [], index)
        ordered = slots[index % HISTORY_DEPTH:] + slots[:index % HISTORY_DEPTH]
        return Machine(name, current, [s for s in ordered if s], index)

    def queue(self, address: int) -> QueueView:
        view = QueueView(address, to_handle(address, self.ptr))
        view.device = self.read(address, "FxObject", "m_Device")
        managed = self.read(address, "FxIoQueue", "m_PowerManaged", 1)
        view.power_managed = None if managed is None else bool(managed)
        view.power_state = self.read(address, "FxIoQueue", "m_PowerState", 4)
        view.dispatch_type = self.read(address, "FxIoQueue", "FxIoQueue::m_Type", 4)
        view.queue_state = self.read(address, "FxIoQueue", "m_QueueState", 4)
        view.driver_io_count = self.read(address, "FxIoQueue", "m_DriverIoCount", 4)
        for list_name, link in QUEUE_LISTS.items():
            head = self.field_address(address, "FxIoQueue", list_name)
            if head is None:
                continue
            if link == "irp":
                requests = self._irp_queue(head)
            else:
                entries = self.list_entries(head, f"queue {list_name}")
                requests = None if entries is None else [self.container(e, "FxRequest", link) for e in entries]
            if requests is not None:  # else unreadable: the view says unavailable
                view.lists[list_name] = [self.request(r, list_name) for r in requests if r is not None]
        return view

    def _irp_queue(self, irp_queue: int) -> list[int | None] | None:
        entries = self.list_entries(self.field_address(irp_queue, "FxIrpQueue", "m_Queue"), "IRP queue")
        if entries is None:
            return None
        requests = []
        for entry in entries:
            irp = self.container(entry, "_IRP", "Tail.Overlay.ListEntry")
            context = self.read(irp, "_IRP", f"Tail.Overlay.DriverContext[{IRP_CSQ_CONTEXT_ENTRY}]") if irp else None
            requests.append(self.container(context, "FxRequest", "m_CsqContext") if context else None)
        return requests

    def request(self, address: int, list_name: str | None = None) -> RequestView:
        view = RequestView(address, to_handle(address, self.ptr), list_name)
        fx_irp = self.field_address(address, "FxRequest", "m_Irp")
        view.irp = self.read(fx_irp, "FxIrp", "m_Irp") if fx_irp is not None else None
        view.queue = self.read(address, "FxRequest", "m_IoQueue")
        view.queue_handle = None if not view.queue else to_handle(view.queue, self.ptr)
        for attr, name in (("presented", "m_Presented"), ("completed", "m_Completed"), ("canceled", "m_Canceled")):
            value = self.read(address, "FxRequest", name, 1)
            setattr(view, attr, None if value is None else bool(value))
        view.power_stop_state = self.read(address, "FxRequest", "m_PowerStopState", 1)
        return view
