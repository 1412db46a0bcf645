"""The framework objects of the evtiostop-not-acked scenario, laid out in memory from samples/objects/wdf_objects.pdb.

What the memory holds is what the scenario's log ends with (samples/scenarios.py): one KMDF driver
(``wdfsample``) whose device sits in WdfDevStatePowerGotoDx, its power-managed queue in
FxIoQueuePowerStoppingDriverNotified with the stuck read on ``m_PowerDriverNotified`` (handed to EvtIoStop,
``m_PowerStopState`` not acknowledged), the machines' 8-entry histories as the log's transitions fill them,
FX_DRIVER_GLOBALS with ``WdfLogHeader`` pointing at the scenario's IFR log, FxLibraryGlobals'
BugCheckDriverInfo array (entry 0 the framework, entry 1 the driver) and g_WdfTriageInfo with its tables,
all at the offsets the sample PDB gives. Object addresses are the log's (handle ^ ~7); the objects the log
never names (packages, driver globals, IRP) sit in a separate range.
"""
from __future__ import annotations

import struct
from pathlib import Path

from analyzer.objects.layout import WALKED_TYPES
from analyzer.objects.walk import FX_TYPE_DEVICE, FX_TYPE_QUEUE, FX_TYPE_REQUEST, HISTORY_DEPTH
from parsers.enums import value_of
from parsers.pdb_types import profile_from_pdb
from parsers.records import BugCheck
from parsers.snapshot import snapshot_bytes

PDB = Path(__file__).resolve().parent / "wdf_objects.pdb"
IFR_HEADER = 0xFFFFB30C4A2F1000  # where the scenario's log lives (its Base self-pointer is this + 0x48)
OTHERS = 0xFFFFC30A1B300000  # packages, FxDriver, driver globals, IRP: objects the log never names
WDF01000 = 0xFFFFF80561200000  # Wdf01000.sys image: FxLibraryGlobals, g_WdfTriageInfo and its tables
FX_TYPE_DRIVER, FX_TYPE_PACKAGE_IO, FX_TYPE_PACKAGE_FDO = (
    value_of(n) for n in ("FX_TYPE_DRIVER", "FX_TYPE_PACKAGE_IO", "FX_TYPE_PACKAGE_FDO"))
BUGCHECK = BugCheck(0x9F, (0x3, 0xFFFFAA06B8BAB840, 0xFFFFF8055A272750, 0xFFFFAA06AFB99560))
def symbols_at(wdf01000: int) -> dict[str, int]:
    """Where the sample puts FxLibraryGlobals and g_WdfTriageInfo in a Wdf01000 image loaded at ``wdf01000``."""
    return {"Wdf01000!FxLibraryGlobals": wdf01000 + 0x1000, "Wdf01000!g_WdfTriageInfo": wdf01000 + 0x2000}


SYMBOLS = symbols_at(WDF01000)


class Memory:
    """Objects as zeroed byte regions of their type's size; fields written through the layout profile."""

    def __init__(self, profile: dict):
        self.types = profile["types"]
        self.ptr = profile["pointer_size"]
        self.regions: dict[int, bytearray] = {}

    def place(self, type_name: str, address: int, size: int | None = None) -> int:
        self.regions[address] = bytearray(size or self.types[type_name]["size"])
        return address

    def put(self, address: int, data: bytes) -> None:
        for base, region in self.regions.items():
            if base <= address and address + len(data) <= base + len(region):
                region[address - base: address - base + len(data)] = data
                return
        raise ValueError(f"0x{address:x} is in no placed object")

    def offset(self, type_name: str, field: str) -> int:
        return self.types[type_name]["fields"][field]["offset"]

    def set(self, address: int, type_name: str, field: str, value: int, index: int = 0) -> None:
        entry = self.types[type_name]["fields"][field]
        size = entry["size"] if "[" not in entry["type"] else entry["size"] // int(entry["type"].split("[")[1][:-1])
        self.put(address + entry["offset"] + index * size, value.to_bytes(size, "little"))

    def link(self, head: int, entries: list[int]) -> None:
        """A circular LIST_ENTRY list: ``head`` then ``entries`` (addresses of LIST_ENTRY fields)."""
        chain = [head] + entries
        for i, at in enumerate(chain):
            self.put(at, chain[(i + 1) % len(chain)].to_bytes(self.ptr, "little") + chain[i - 1].to_bytes(self.ptr, "little"))


def _driver_globals(mem: Memory, address: int, log_header: int, driver_name: str, driver: int = 0) -> None:
    mem.place("FX_DRIVER_GLOBALS", address)
    mem.set(address, "FX_DRIVER_GLOBALS", "WdfLogHeader", log_header)
    mem.set(address, "FX_DRIVER_GLOBALS", "Driver", driver)
    mem.put(address + mem.offset("FX_DRIVER_GLOBALS", "Public.DriverName"), driver_name.encode().ljust(32, b"\0"))
    mem.link(address + mem.offset("FX_DRIVER_GLOBALS", "Linkage"), [])


def driver_globals_region(profile: dict, address: int, log_header: int, driver_name: str) -> dict[int, bytes]:
    """FX_DRIVER_GLOBALS of a driver whose objects are not modelled (name and log only, no FxDriver)."""
    mem = Memory(profile)
    _driver_globals(mem, address, log_header, driver_name)
    return {a: bytes(r) for a, r in mem.regions.items()}


def _histories(log) -> dict[str, list[str]]:
    """Each machine's states in the order the log enters them (ObjectCreated first, as the constructor writes)."""
    states = {"pnp": ["WdfDevStatePnpObjectCreated"], "power": ["WdfDevStatePowerObjectCreated"],
              "pwrpol": ["WdfDevStatePwrPolObjectCreated"]}
    prefixes = {"WdfDevStatePnp": "pnp", "WdfDevStatePower": "power", "WdfDevStatePwrPol": "pwrpol"}
    for message in log.messages:
        if "entering" in message.entry.format and len(message.args) == 4:
            new = message.args[2]
            machine = next((m for p, m in prefixes.items() if new.startswith(p)), None)
            if machine:
                states[machine].append(new)
    return states


def _object(mem: Memory, type_name: str, address: int, fx_type: int, globals_: int, parent: int = 0) -> int:
    mem.place(type_name, address)
    mem.set(address, "FxObject", "m_Type", fx_type)
    mem.set(address, "FxObject", "m_ObjectSize", mem.types[type_name]["size"])
    mem.set(address, "FxObject", "m_Refcnt", 1)
    mem.set(address, "FxObject", "m_Globals", globals_)
    mem.set(address, "FxObject", "m_ParentObject", parent)
    head = address + mem.offset("FxObject", "m_ChildListHead")
    mem.link(head, [])
    return address


def build(scenario, ifr_blob: bytes) -> bytes:
    """The snapshot file (as capture would write it) of the scenario's objects and its IFR log."""
    profile = profile_from_pdb(PDB, list(WALKED_TYPES))
    regions = object_regions(scenario, profile, globals_at=OTHERS, log_header=IFR_HEADER, driver_name="wdfsample")
    regions[IFR_HEADER] = ifr_blob
    return snapshot_bytes(regions, 8, symbols=SYMBOLS, bugcheck=BUGCHECK, logs=[IFR_HEADER], layout=profile,
                          objects=_walked(regions, profile), created_by="samples/objects/image.py")


def object_regions(scenario, profile: dict, *, globals_at: int, log_header: int, driver_name: str,
                   others: int = OTHERS, wdf01000: int = WDF01000) -> dict[int, bytes]:
    """{virtual address: bytes} of the scenario's objects (FX_DRIVER_GLOBALS at ``globals_at``, its
    WdfLogHeader ``log_header``, the objects the log does not name from ``others`` on), of FxLibraryGlobals'
    driver list and of g_WdfTriageInfo (in a Wdf01000 image at ``wdf01000``): what a crash dump or a snapshot
    of that machine holds besides the log itself. The pointer size is the profile's."""
    mem = Memory(profile)
    mask = (1 << (8 * mem.ptr)) - 8
    stuck = next(e for e in scenario.expected if e["rule"] == "WDF002")  # the log's device, queue and request
    device_at, queue_at, request_at = (int(stuck[k], 16) ^ mask for k in ("device", "queue", "request"))
    driver_at, pkg_io, pkg_pnp, irp_at = (others + i * 0x1000 for i in range(1, 5))

    _driver_globals(mem, globals_at, log_header, driver_name, driver_at)

    _object(mem, "FxObject", driver_at, FX_TYPE_DRIVER, globals_at)
    _object(mem, "FxDevice", device_at, FX_TYPE_DEVICE, globals_at, driver_at)
    _object(mem, "FxPkgIo", pkg_io, FX_TYPE_PACKAGE_IO, globals_at, device_at)
    _object(mem, "FxPkgPnp", pkg_pnp, FX_TYPE_PACKAGE_FDO, globals_at, device_at)
    _object(mem, "FxIoQueue", queue_at, FX_TYPE_QUEUE, globals_at, device_at)
    _object(mem, "FxRequest", request_at, FX_TYPE_REQUEST, globals_at, queue_at)
    child = mem.offset("FxObject", "m_ChildEntry")
    mem.link(driver_at + mem.offset("FxObject", "m_ChildListHead"), [device_at + child])
    mem.link(device_at + mem.offset("FxObject", "m_ChildListHead"), [pkg_io + child, pkg_pnp + child, queue_at + child])
    mem.link(queue_at + mem.offset("FxObject", "m_ChildListHead"), [request_at + child])
    for obj in (pkg_io, pkg_pnp, queue_at, request_at):
        mem.set(obj, "FxObject", "m_Device", device_at)

    histories = _histories(scenario.log)
    for machine, current, machine_field in (("pnp", "m_CurrentPnpState", "m_PnpMachine"),
                                            ("power", "m_CurrentPowerState", "m_PowerMachine"),
                                            ("pwrpol", "m_CurrentPowerPolicyState", "m_PowerPolicyMachine")):
        states = [value_of(s) for s in histories[machine]]
        mem.set(device_at, "FxDevice", current, states[-1])
        mem.set(pkg_pnp, "FxPkgPnp", f"{machine_field}.m_QueueDepth", HISTORY_DEPTH)
        mem.set(pkg_pnp, "FxPkgPnp", f"{machine_field}.m_HistoryIndex", len(states) % HISTORY_DEPTH)
        for i, state in enumerate(states):  # the ring keeps the last eight; the index is the next slot to write
            mem.set(pkg_pnp, "FxPkgPnp", f"{machine_field}.m_States.History", state & 0xFFFF, i % HISTORY_DEPTH)
    mem.set(device_at, "FxDevice", "m_PkgIo", pkg_io)
    mem.set(device_at, "FxDevice", "m_PkgPnp", pkg_pnp)

    mem.link(pkg_io + mem.offset("FxPkgIo", "m_IoQueueListHead"), [queue_at + mem.offset("FxIoQueue", "m_IoPkgListNode.m_ListEntry")])
    mem.set(pkg_io, "FxPkgIo", "m_DefaultQueue", queue_at)
    mem.set(queue_at, "FxIoQueue", "m_PowerManaged", 1)
    mem.set(queue_at, "FxIoQueue", "m_Configured", 1)
    mem.set(queue_at, "FxIoQueue", "m_PowerState", value_of("FxIoQueuePowerStoppingDriverNotified"))
    mem.set(queue_at, "FxIoQueue", "FxIoQueue::m_Type", value_of("WdfIoQueueDispatchSequential"))
    mem.set(queue_at, "FxIoQueue", "m_QueueState", value_of("FxIoQueueAcceptRequests") | value_of("FxIoQueueDispatchRequests"))
    mem.set(queue_at, "FxIoQueue", "m_DriverIoCount", 1)
    mem.set(queue_at, "FxIoQueue", "m_PkgIo", pkg_io)
    for name in ("m_Queue.m_Queue", "m_DriverCancelable.m_Queue", "m_Cancelled", "m_CanceledOnQueueList",
                 "m_DriverOwned", "m_PowerNotify"):
        mem.link(queue_at + mem.offset("FxIoQueue", name), [])
    mem.link(queue_at + mem.offset("FxIoQueue", "m_PowerDriverNotified"),
             [request_at + mem.offset("FxRequest", "m_OwnerListEntry2")])

    mem.place("_IRP", irp_at)
    mem.set(irp_at, "_IRP", "Type", 6)  # IO_TYPE_IRP
    mem.set(request_at, "FxRequest", "m_Irp.m_Irp", irp_at)
    mem.set(request_at, "FxRequest", "m_IoQueue", queue_at)
    mem.set(request_at, "FxRequest", "m_Presented", 1)
    mem.set(request_at, "FxRequest", "m_PowerStopState", 0)  # FxRequestPowerStopUnknown: never acknowledged

    library, triage = symbols_at(wdf01000).values()
    mem.place("FxLibraryGlobalsType", library)
    entries = wdf01000 + 0x1800
    entry_size = mem.types["_FX_DUMP_DRIVER_INFO_ENTRY"]["size"]
    mem.place("_FX_DUMP_DRIVER_INFO_ENTRY", entries, 2 * entry_size)
    mem.set(library, "FxLibraryGlobalsType", "BugCheckDriverInfoIndex", 2)
    mem.set(library, "FxLibraryGlobalsType", "BugCheckDriverInfoCount", 10)
    mem.set(library, "FxLibraryGlobalsType", "BugCheckDriverInfo", entries)
    for i, (globals_, name) in enumerate(((0, b"KMDFv1"), (globals_at, driver_name.encode()))):
        mem.set(entries + i * entry_size, "_FX_DUMP_DRIVER_INFO_ENTRY", "FxDriverGlobals", globals_)
        for part, value in zip(("Major", "Minor", "Build"), (1, 33, 22621)):
            mem.set(entries + i * entry_size, "_FX_DUMP_DRIVER_INFO_ENTRY", f"Version.{part}", value)
        mem.put(entries + i * entry_size + mem.offset("_FX_DUMP_DRIVER_INFO_ENTRY", "DriverName"), name.ljust(32, b"\0"))
    _triage_info(mem, triage)

    return {a: bytes(r) for a, r in mem.regions.items()}


def _walked(regions: dict[int, bytes], profile: dict) -> dict:
    """What capture records as ``objects``: the summary of a walk over this memory."""
    from analyzer.objects.commands import ObjectTarget, walk_all
    from analyzer.objects.findings import summary
    from analyzer.objects.layout import resolve_layout
    from parsers.memory import ImageMemory

    memory = ImageMemory(regions, 8, SYMBOLS)
    drivers, _ = walk_all(ObjectTarget(memory, resolve_layout(memory, profile), "sample"))
    return summary(drivers)


def _triage_info(mem: Memory, address: int) -> None:
    """WDF_TRIAGE_INFO (version 1.0) and its offset tables, filled from the PDB layout as the framework's
    GetTriageInfo fills them with FIELD_OFFSET/sizeof."""
    ptr = mem.ptr
    o = mem.offset
    tables = [
        [mem.types["FxObject"]["size"], o("FxObject", "m_Type"), o("FxObject", "m_ObjectSize"),
         o("FxObject", "m_ChildListHead"), o("FxObject", "m_ChildEntry"), o("FxObject", "m_Globals"),
         o("FxObject", "m_ParentObject")],
        [], [],  # context header / context type tables: not declared in the sample
        [mem.types["FxIoQueue"]["size"], o("FxIoQueue", "m_Queue"), o("FxIoQueue", "m_DriverCancelable"),
         o("FxIoQueue", "m_Cancelled"), o("FxIoQueue", "m_CanceledOnQueueList"), o("FxIoQueue", "m_FwdProgContext"),
         o("FxIoQueue", "m_PkgIo")],
        [],
        [mem.types["FxIrpQueue"]["size"], o("FxIrpQueue", "m_Queue"), o("_IRP", "Tail.Overlay.ListEntry"),
         o("_IRP", "Tail.Overlay.DriverContext") + 3 * ptr],
        [mem.types["FxRequest"]["size"], o("FxRequest", "m_CsqContext"), o("FxRequest", "m_Irp"),
         o("FxRequest", "m_OwnerListEntry"), o("FxRequest", "m_OwnerListEntry2"), o("FxRequest", "m_ListEntry"),
         o("FxRequest", "m_ForwardProgressList")],
        [0x100, o("FxDevice", "m_Driver")],
        [mem.types["FxIrp"]["size"], o("FxIrp", "m_Irp")],
    ]
    mem.place("_WDF_TRIAGE_INFO", address)
    mem.put(address, struct.pack("<IIII", 1, 33, 1, 0))
    at = address + 0x400
    for i, values in enumerate(tables):
        if not values:
            continue
        mem.place("_WDF_TRIAGE_INFO", at, 4 * len(values))
        mem.put(at, struct.pack(f"<{len(values)}I", *values))
        mem.put(address + 16 + ptr * (1 + i), at.to_bytes(ptr, "little"))
        at += 0x40
