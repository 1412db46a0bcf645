"""Structure layouts from a PDB's type information (the TPI stream), as a layout profile.

The TPI stream (MSF stream 2) is a header followed by CodeView type records, numbered from
``TypeIndexBegin`` (0x1000): ``u16 length, u16 kind, data``. The records read here are the ones that give
a structure's layout: LF_CLASS/LF_STRUCTURE/LF_UNION (a forward reference when ``property & 0x80``; the
definition with the same unique name follows), LF_FIELDLIST (LF_MEMBER, LF_BCLASS, LF_VFUNCTAB,
LF_ENUMERATE, LF_NESTTYPE, LF_ONEMETHOD, LF_METHOD, LF_STMEMBER, LF_INDEX, padded with LF_PAD bytes),
LF_BITFIELD, LF_POINTER, LF_MODIFIER, LF_ARRAY and LF_ENUM. Numeric leaves are a u16 below 0x8000 or a
LF_CHAR..LF_UQUADWORD leaf. Every read is bounds-checked; a record that does not parse is skipped with a
warning naming its type index.

A *layout profile* (``wdftriage layout extract FILE.pdb -o profile.json``) is the flattened view the
walkers use, reusable without the PDB::

    {"format": "wdftriage-layout", "version": 1, "source": "...", "pointer_size": 8,
     "types": {"FxIoQueue": {"size": 408, "fields": {
         "m_PowerState": {"offset": 80, "size": 4, "type": "FXIOQUEUE_POWER_STATE"},
         "m_Queue.m_RequestCount": {...}, "m_ObjectFlagsByName.HasDebug": {"offset": 24, "size": 2,
         "type": "unsigned short", "bit_position": 7, "bit_length": 1}}}}}

Base-class members appear at their offsets in the derived type; members of nested structures and arrays
are dotted names (``m_Queue.m_RequestCount``), a few levels deep; a derived class's member that hides a base
member of the same name is ``Class::name`` (``FxIoQueue::m_Type`` beside FxObject's ``m_Type``).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from construct import Int16ul, Int32sl, Int32ul, Struct

from parsers.errors import EvidenceError, EvidenceWarning
from parsers.pdb import MAX_PDB_BYTES, _Msf

TPI_STREAM = 2
TPI_HEADER = Struct(
    "Version" / Int32ul, "HeaderSize" / Int32ul, "TypeIndexBegin" / Int32ul, "TypeIndexEnd" / Int32ul,
    "TypeRecordBytes" / Int32ul, "HashStreamIndex" / Int16ul, "HashAuxStreamIndex" / Int16ul,
    "HashKeySize" / Int32ul, "NumHashBuckets" / Int32ul, "HashValueBufferOffset" / Int32sl,
    "HashValueBufferLength" / Int32ul, "IndexOffsetBufferOffset" / Int32sl, "IndexOffsetBufferLength" / Int32ul,
    "HashAdjBufferOffset" / Int32sl, "HashAdjBufferLength" / Int32ul,
)
assert TPI_HEADER.sizeof() == 56

LF_MODIFIER, LF_POINTER, LF_FIELDLIST, LF_BITFIELD = 0x1001, 0x1002, 0x1203, 0x1205
LF_BCLASS, LF_VBCLASS, LF_IVBCLASS, LF_INDEX, LF_VFUNCTAB = 0x1400, 0x1401, 0x1402, 0x1404, 0x1409
LF_ENUMERATE, LF_ARRAY, LF_CLASS, LF_STRUCTURE, LF_UNION, LF_ENUM = 0x1502, 0x1503, 0x1504, 0x1505, 0x1506, 0x1507
LF_MEMBER, LF_STMEMBER, LF_METHOD, LF_NESTTYPE, LF_ONEMETHOD = 0x150D, 0x150E, 0x150F, 0x1510, 0x1511
COMPOSITES = (LF_CLASS, LF_STRUCTURE, LF_UNION)
FORWARD_REF, HAS_UNIQUE_NAME = 0x80, 0x200
NUMERIC_LEAVES = {0x8000: "<b", 0x8001: "<h", 0x8002: "<H", 0x8003: "<i", 0x8004: "<I", 0x8009: "<q", 0x800A: "<Q"}
# Simple (primitive) type indexes below 0x1000: low byte = kind, bits 8..11 = pointer mode.
PRIMITIVES = {
    0x03: ("void", 0), 0x10: ("signed char", 1), 0x20: ("unsigned char", 1), 0x68: ("__int8", 1),
    0x69: ("unsigned __int8", 1), 0x70: ("char", 1), 0x71: ("wchar_t", 2), 0x7A: ("char16_t", 2),
    0x7B: ("char32_t", 4), 0x7C: ("char8_t", 1), 0x11: ("short", 2), 0x21: ("unsigned short", 2),
    0x72: ("__int16", 2), 0x73: ("unsigned __int16", 2), 0x12: ("long", 4), 0x22: ("unsigned long", 4),
    0x74: ("int", 4), 0x75: ("unsigned int", 4), 0x13: ("__int64", 8), 0x23: ("unsigned __int64", 8),
    0x76: ("__int64", 8), 0x77: ("unsigned __int64", 8), 0x30: ("bool", 1), 0x40: ("float", 4), 0x41: ("double", 8),
}
POINTER_MODES = {0x4: 4, 0x6: 8}
MAX_DEPTH = 4  # nesting levels flattened into dotted names
MAX_CHAIN = 16  # pointer/modifier/array chains followed (a damaged PDB can make them loop)


@dataclass
class Member:
    name: str
    type: int
    offset: int
    is_base: bool = False


@dataclass
class TypeRecord:
    kind: int
    name: str = ""
    size: int = 0
    members: list[Member] = field(default_factory=list)
    referent: int = 0  # pointer / modifier / array element / bitfield / enum underlying type
    bit_position: int = 0
    bit_length: int = 0
    unique_name: str = ""
    forward: bool = False
    fieldlist: int = 0
    continuations: list[int] = field(default_factory=list)  # LF_FIELDLIST: LF_INDEX continuation records


class TypeTable:
    """The TPI stream's records by type index, with forward references resolved to definitions."""

    def __init__(self, records: dict[int, TypeRecord], pointer_size: int, warnings: list[EvidenceWarning]):
        self.records, self.pointer_size, self.warnings = records, pointer_size, warnings
        self.definitions: dict[str, int] = {}
        for index, record in records.items():
            if record.kind in COMPOSITES and not record.forward:
                self.definitions.setdefault(record.unique_name or record.name, index)
                self.definitions.setdefault(record.name, index)

    def resolve(self, index: int) -> int:
        record = self.records.get(index)
        if record is not None and record.kind in COMPOSITES and record.forward:
            return self.definitions.get(record.unique_name or record.name, self.definitions.get(record.name, index))
        return index

    def type_name(self, index: int, depth: int = 0) -> str:
        if index < 0x1000:
            name, _ = PRIMITIVES.get(index & 0xFF, (f"primitive 0x{index:x}", 0))
            return name + ("*" if (index >> 8) & 0xF else "")
        record = self.records.get(index)
        if record is None or depth > MAX_CHAIN:
            return f"type 0x{index:x}"
        if record.kind == LF_POINTER:
            return self.type_name(record.referent, depth + 1) + "*"
        if record.kind in (LF_MODIFIER, LF_BITFIELD):
            return self.type_name(record.referent, depth + 1)
        if record.kind == LF_ARRAY:
            return f"{self.type_name(record.referent, depth + 1)}[{self._count(record)}]"
        return record.name

    def _count(self, array: TypeRecord) -> int:
        element = self.size_of(array.referent)
        return array.size // element if element else 0

    def size_of(self, index: int, depth: int = 0) -> int:
        if index < 0x1000:
            mode = (index >> 8) & 0xF
            return POINTER_MODES.get(mode, 0) if mode else PRIMITIVES.get(index & 0xFF, ("", 0))[1]
        record = self.records.get(self.resolve(index))
        if record is None or depth > MAX_CHAIN:
            return 0
        if record.kind == LF_POINTER:
            return record.size
        if record.kind in (LF_MODIFIER, LF_ENUM, LF_BITFIELD):
            return self.size_of(record.referent, depth + 1)
        return record.size

    def layout(self, name: str) -> dict | None:
        """{"size": .., "fields": {dotted name: {offset, size, type[, bit_position, bit_length]}}} or None."""
        index = self.definitions.get(name)
        if index is None:
            return None
        fields: dict[str, dict] = {}
        self._flatten(index, 0, "", fields, 0)
        return {"size": self.records[index].size, "fields": fields}

    def _flatten(self, index: int, base: int, prefix: str, fields: dict, depth: int) -> None:
        record = self.records.get(self.resolve(index))
        if record is None or depth > MAX_DEPTH:
            return
        for member in record.members:
            offset = base + member.offset
            if member.is_base:
                self._flatten(member.type, offset, prefix, fields, depth + 1)
                continue
            name = prefix + member.name
            if name in fields:  # a derived class's member hiding a base member of the same name
                name = f"{prefix}{record.name}::{member.name}"
            target = self.records.get(self.resolve(member.type)) if member.type >= 0x1000 else None
            entry = {"offset": offset, "size": self.size_of(member.type), "type": self.type_name(member.type)}
            if target is not None and target.kind == LF_BITFIELD:
                entry.update(size=self.size_of(target.referent), bit_position=target.bit_position,
                             bit_length=target.bit_length)
            fields.setdefault(name, entry)
            if target is not None and target.kind in COMPOSITES:
                self._flatten(member.type, offset, name + ".", fields, depth + 1)


def _numeric(data: bytes, pos: int) -> tuple[int, int]:
    (leaf,) = struct.unpack_from("<H", data, pos)
    if leaf < 0x8000:
        return leaf, pos + 2
    fmt = NUMERIC_LEAVES.get(leaf)
    if fmt is None:
        raise ValueError(f"numeric leaf 0x{leaf:x}")
    (value,) = struct.unpack_from(fmt, data, pos + 2)
    return value, pos + 2 + struct.calcsize(fmt)


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8", errors="replace"), end + 1


def _record(kind: int, data: bytes) -> TypeRecord | None:
    if kind in (LF_CLASS, LF_STRUCTURE, LF_UNION):
        count, prop, fieldlist = struct.unpack_from("<HHI", data, 0)
        pos = 8 if kind == LF_UNION else 16  # class/structure: + derived, vshape
        size, pos = _numeric(data, pos)
        name, pos = _cstring(data, pos)
        unique = _cstring(data, pos)[0] if prop & HAS_UNIQUE_NAME else ""
        return TypeRecord(kind, name, size, unique_name=unique, forward=bool(prop & FORWARD_REF), fieldlist=fieldlist)
    if kind == LF_ENUM:
        count, prop, utype, fieldlist = struct.unpack_from("<HHII", data, 0)
        return TypeRecord(kind, _cstring(data, 12)[0], referent=utype, forward=bool(prop & FORWARD_REF))
    if kind == LF_POINTER:
        referent, attrs = struct.unpack_from("<II", data, 0)
        return TypeRecord(kind, referent=referent, size=(attrs >> 13) & 0x3F)
    if kind == LF_MODIFIER:
        return TypeRecord(kind, referent=struct.unpack_from("<I", data, 0)[0])
    if kind == LF_ARRAY:
        element, _ = struct.unpack_from("<II", data, 0)
        size, pos = _numeric(data, 8)
        return TypeRecord(kind, _cstring(data, pos)[0], size, referent=element)
    if kind == LF_BITFIELD:
        base, length, position = struct.unpack_from("<IBB", data, 0)
        return TypeRecord(kind, referent=base, bit_length=length, bit_position=position)
    if kind == LF_FIELDLIST:
        members, continuations = _field_list(data)
        return TypeRecord(kind, members=members, continuations=continuations)
    return None


def _field_list(data: bytes) -> tuple[list[Member], list[int]]:
    """The members of one LF_FIELDLIST record and the LF_INDEX continuation records it points to (a list
    longer than one record is split across several)."""
    members, continuations, pos = [], [], 0
    while pos + 2 <= len(data):
        if data[pos] >= 0xF0:  # LF_PAD: pad byte, skip to the next sub-record
            pos += data[pos] & 0x0F or 1
            continue
        (leaf,) = struct.unpack_from("<H", data, pos)
        if leaf == LF_MEMBER:
            _, type_index = struct.unpack_from("<HI", data, pos + 2)
            offset, p = _numeric(data, pos + 8)
            name, pos = _cstring(data, p)
            members.append(Member(name, type_index, offset))
        elif leaf == LF_BCLASS:
            _, type_index = struct.unpack_from("<HI", data, pos + 2)
            offset, pos = _numeric(data, pos + 8)
            members.append(Member("", type_index, offset, is_base=True))
        elif leaf in (LF_VBCLASS, LF_IVBCLASS):
            _, pos = _numeric(data, pos + 12)
            _, pos = _numeric(data, pos)
        elif leaf == LF_ENUMERATE:
            _, p = _numeric(data, pos + 4)
            pos = _cstring(data, p)[1]
        elif leaf in (LF_NESTTYPE, LF_STMEMBER):
            pos = _cstring(data, pos + 8)[1]
        elif leaf == LF_METHOD:
            pos = _cstring(data, pos + 8)[1]
        elif leaf == LF_ONEMETHOD:
            (attrs,) = struct.unpack_from("<H", data, pos + 2)
            introducing = ((attrs >> 2) & 7) in (4, 6)
            pos = _cstring(data, pos + 8 + (4 if introducing else 0))[1]
        elif leaf == LF_INDEX:
            continuations.append(struct.unpack_from("<I", data, pos + 4)[0])
            pos += 8
        elif leaf == LF_VFUNCTAB:
            pos += 8
        else:
            raise ValueError(f"field list leaf 0x{leaf:x}")
    return members, continuations


def read_types(path: str | Path) -> TypeTable:
    """The type records of a PDB's TPI stream."""
    source = str(path)
    p = Path(path)
    try:
        if p.stat().st_size > MAX_PDB_BYTES:
            raise EvidenceError(source, "PDB larger than 2 GiB")
        data = p.read_bytes()
    except OSError as exc:
        raise EvidenceError(source, exc.strerror or str(exc)) from None
    tpi = _Msf(data, source).stream(TPI_STREAM)
    if len(tpi) < TPI_HEADER.sizeof():
        raise EvidenceError(source, "TPI stream too short for its header")
    header = TPI_HEADER.parse(tpi)
    end = header.HeaderSize + header.TypeRecordBytes
    if header.HeaderSize < TPI_HEADER.sizeof() or end > len(tpi) or header.TypeIndexBegin < 0x1000:
        raise EvidenceError(source, f"TPI header (size {header.HeaderSize}, {header.TypeRecordBytes} record bytes) "
                                    f"does not fit the {len(tpi)}-byte stream")
    records, warnings = {}, []
    pos, index, pointer_size = header.HeaderSize, header.TypeIndexBegin, 0
    while pos + 4 <= end:
        length, kind = struct.unpack_from("<HH", tpi, pos)
        if length < 2 or pos + 2 + length > end:
            warnings.append(EvidenceWarning(source, f"TPI record 0x{index:x} of length {length} runs past the stream"))
            break
        try:
            record = _record(kind, tpi[pos + 4: pos + 2 + length])
        except (ValueError, struct.error) as exc:
            warnings.append(EvidenceWarning(source, f"TPI record 0x{index:x} (kind 0x{kind:x}) skipped: {exc}"))
            record = None
        if record is not None:
            records[index] = record
            if kind == LF_POINTER and record.size in (4, 8):
                pointer_size = pointer_size or record.size
        pos, index = pos + 2 + length, index + 1
    for record in records.values():
        if record.kind in COMPOSITES and not record.forward:
            record.members = _members(records, record.fieldlist)
    return TypeTable(records, pointer_size or 8, warnings)


def _members(records: dict[int, TypeRecord], fieldlist: int) -> list[Member]:
    """The members of a field list and of its LF_INDEX continuations (each record read once)."""
    members, pending, seen = [], [fieldlist], set()
    while pending:
        index = pending.pop(0)
        record = records.get(index)
        if index in seen or record is None or record.kind != LF_FIELDLIST:
            continue
        seen.add(index)
        members += record.members
        pending += record.continuations
    return members


def profile_from_pdb(path: str | Path, type_names: list[str] | None = None) -> dict:
    """A layout profile of ``type_names`` (default: every defined named structure) from the PDB."""
    table = read_types(path)
    names = type_names or sorted(n for n in table.definitions if not n.startswith((".?", "<")) and "<unnamed" not in n)
    types = {name: layout for name in names if (layout := table.layout(name)) is not None}
    return {"format": "wdftriage-layout", "version": 1, "source": Path(path).name,
            "pointer_size": table.pointer_size, "types": types}
