"""Where each field of a framework object sits: never guessed, taken from three sources in this order.

1. Type information in a PDB (``--pdb Wdf01000.pdb``; parsers/pdb_types.py), as a layout profile.
2. The framework's own offset tables, ``g_WdfTriageInfo`` (wdftriage.h: WDF_TRIAGE_INFO and its nine
   ``*_TRIAGE_INFO`` arrays of ULONG offsets), read from the target where the symbol is known. They cover
   the object header, the queue's IRP queues and cancel lists, the request's list entries and IRP, and
   the device's driver, not power states or histories.
3. A profile given with ``--layout profile.json`` (written by ``wdftriage layout extract``).

A field no source gives is unavailable: :meth:`Layout.offset` returns None and the views say so.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

from parsers.errors import EvidenceError, TargetReadError
from parsers.jsondoc import parse_json
from parsers.numbers import int_or_none

#: The types the walkers read (profile extraction keeps these).
WALKED_TYPES = ("FxObject", "FxDevice", "FxPkgIo", "FxPkgPnp", "FxIoQueue", "FxIrpQueue", "FxRequest", "FxIrp",
                "_IRP", "FX_DRIVER_GLOBALS", "FxLibraryGlobalsType", "_FX_DUMP_DRIVER_INFO_ENTRY", "_WDF_TRIAGE_INFO")
TRIAGE_INFO_SYMBOL = "Wdf01000!g_WdfTriageInfo"

# g_WdfTriageInfo: WDF_TRIAGE_INFO's nine table pointers in declaration order, and what each ULONG of a
# table is the offset (or, first, the size) of. "sizeof" entries give a type's size.
_TRIAGE_TABLES = (
    ("FxObject", ["sizeof", "m_Type", "m_ObjectSize", "m_ChildListHead", "m_ChildEntry", "m_Globals", "m_ParentObject"]),
    (None, ["sizeof", "NextHeader", "Object", "TypeInfoPtr", "Context"]),  # FxContextHeader: not walked
    (None, ["sizeof", "ContextSize", "ContextName"]),  # WDF_OBJECT_CONTEXT_TYPE_INFO: not walked
    ("FxIoQueue", ["sizeof", "m_Queue", "m_DriverCancelable", "m_Cancelled", "m_CanceledOnQueueList",
                   "m_FwdProgContext", "m_PkgIo"]),
    (None, ["ReservedRequestList", "ReservedRequestInUseList", "PendedIrpList"]),
    ("FxIrpQueue", ["sizeof", "m_Queue", "_IRP:Tail.Overlay.ListEntry", "_IRP:Tail.Overlay.DriverContext[3]"]),
    ("FxRequest", ["sizeof", "m_CsqContext", "m_Irp", "m_OwnerListEntry", "m_OwnerListEntry2", "m_ListEntry",
                   "m_ForwardProgressList"]),
    ("FxDevice", [None, "m_Driver"]),  # the first entry is sizeof(WDFDEVICE_INIT), not FxDevice's
    ("FxIrp", ["sizeof", "m_Irp"]),
)
_INDEXED = re.compile(r"^(.*)\[(\d+)\]$")


class Layout:
    """Field offsets per type, each with the source it came from."""

    def __init__(self, pointer_size: int = 8):
        self.pointer_size = pointer_size
        self.types: dict[str, dict] = {}
        self.sources: dict[str, str] = {}  # "Type" / "Type.field" -> source name

    def add(self, types: dict, source: str) -> None:
        """Add what ``types`` ({type: {size, fields}}) gives and no earlier source gave."""
        for name, layout in types.items():
            mine = self.types.setdefault(name, {"size": None, "fields": {}})
            if mine["size"] is None and layout.get("size"):
                mine["size"] = layout["size"]
                self.sources[name] = source
            for field, entry in layout.get("fields", {}).items():
                if field not in mine["fields"]:
                    mine["fields"][field] = entry
                    self.sources[f"{name}.{field}"] = source

    def offset(self, type_name: str, field: str) -> int | None:
        """Byte offset of ``field`` (dotted, ``name[i]`` for an array element) in ``type_name``; None when no
        source gives it."""
        fields = self.types.get(type_name, {}).get("fields", {})
        if field in fields:
            return fields[field]["offset"]
        indexed = _INDEXED.match(field)
        if indexed and indexed.group(1) in fields:
            entry = fields[indexed.group(1)]
            count = _array_count(entry.get("type") or "")  # no type: offsets from g_WdfTriageInfo
            if count and entry.get("size"):
                return entry["offset"] + int(indexed.group(2)) * (entry["size"] // count)
        return None

    def size(self, type_name: str) -> int | None:
        return self.types.get(type_name, {}).get("size")

    def source_of(self, type_name: str, field: str) -> str | None:
        return self.sources.get(f"{type_name}.{field}")

    def profile(self) -> dict:
        """The layout as a profile (what capture stores in a snapshot)."""
        return {"format": "wdftriage-layout", "version": 1, "source": "+".join(sorted(set(self.sources.values()))),
                "pointer_size": self.pointer_size, "types": self.types}


def _array_count(type_text: str) -> int | None:
    found = re.search(r"\[(\d+)\]$", type_text)
    return int_or_none(found.group(1)) if found else None  # (a profile's count past int()'s digit limit: unknown)


def read_profile(path: str | Path) -> dict:
    """A layout profile file, checked to be one."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise EvidenceError(str(path), exc.strerror or str(exc)) from None
    return check_profile(parse_json(data, str(path), "layout profile"), str(path))


def check_profile(profile, source: str) -> dict:
    """``profile`` if it is a layout profile whose offsets and sizes are sane; EvidenceError naming ``source``."""
    if not isinstance(profile, dict) or profile.get("format") != "wdftriage-layout" or not isinstance(profile.get("types"), dict):
        raise EvidenceError(source, "not a wdftriage-layout profile")
    for name, layout in profile["types"].items():
        fields = layout.get("fields") if isinstance(layout, dict) else None
        size = layout.get("size") if isinstance(layout, dict) else None
        if not isinstance(fields, dict) or not (size is None or isinstance(size, int) and 0 <= size < 1 << 20) or \
                not all(isinstance(f, dict) and _small(f.get("offset")) and (f.get("size") is None or _small(f["size"]))
                        and (f.get("type") is None or isinstance(f["type"], str)) for f in fields.values()):
            raise EvidenceError(source, f"layout of {name}: fields must be {{name: {{offset, size, type}}}} with "
                                        "offsets and sizes below 1 MiB and a type name")
    return profile


def _small(value) -> bool:
    return isinstance(value, int) and 0 <= value < 1 << 20


def triage_info_types(target, address: int) -> dict:
    """The offsets g_WdfTriageInfo (at ``address``) gives, as profile types; TargetReadError if unreadable."""
    ptr = target.pointer_size
    head = target.read(address, 16 + ptr * 10)
    major, _minor = struct.unpack_from("<II", head, 8)
    if major != 1:
        raise TargetReadError(address, 16, f"WDF_TRIAGE_INFO version {major}, not 1")
    tables = struct.unpack_from("<10" + ("Q" if ptr == 8 else "I"), head, 16)[1:]
    types: dict[str, dict] = {}
    for (type_name, entries), table in zip(_TRIAGE_TABLES, tables):
        if type_name is None or not table:
            continue
        values = struct.unpack(f"<{len(entries)}I", target.read(table, 4 * len(entries)))
        for entry, value in zip(entries, values):
            if entry is None:
                continue
            owner, field = entry.split(":") if ":" in entry else (type_name, entry)
            layout = types.setdefault(owner, {"size": None, "fields": {}})
            if field == "sizeof":
                layout["size"] = value
            else:
                layout["fields"][field] = {"offset": value, "size": None, "type": None}
    return types


def resolve_layout(target, pdb_profile: dict | None = None, given_profile: dict | None = None,
                   stored_profile: dict | None = None) -> Layout:
    """The layout for ``target``: the PDB's types, then g_WdfTriageInfo read from the target (when the
    target knows the symbol), then a profile given with --layout, then one stored in a snapshot."""
    layout = Layout(target.pointer_size)
    if pdb_profile:
        layout.add(pdb_profile["types"], f"pdb:{pdb_profile.get('source', '')}")
    address = target.symbol(TRIAGE_INFO_SYMBOL)
    if address is not None:
        try:
            layout.add(triage_info_types(target, address), "g_WdfTriageInfo")
        except TargetReadError:
            pass  # the tables are not in memory (e.g. a minidump): other sources only
    for profile in (given_profile, stored_profile):
        if profile:
            layout.add(profile["types"], f"profile:{profile.get('source', '')}")
    return layout
