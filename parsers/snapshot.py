"""Snapshot files: the target memory a ``capture`` in the debugger walked, readable on any machine.

Format (version 1), little-endian::

    offset 0   8 bytes   magic  b"WDFSNAP\\0"
    offset 8   u32       format version (1)
    offset 12  u32       header size H (at most 16 MiB)
    offset 16  H bytes   header: UTF-8 JSON object (below)
    offset 16+H          the bytes of every region, in header order, back to back (nothing after them)

Header: ``{"format": "wdftriage-snapshot", "pointer_size": 4|8, "regions": [{"address": "0x..", "size": N}],
"symbols": {"Wdf01000!g_WdfTriageInfo": "0x.."}, "bugcheck": null | {"code": "0x9f", "parameters":
["0x..", x4]}, "logs": ["0x.." (WDF_IFR_HEADER addresses)], "layout": null | a layout profile (see
parsers/pdb_types.py), "objects": {...} (what capture walked, for reading by eye), "created_by": "..."}``.
Addresses are hex strings (JSON numbers stop being exact above 2**53). Every field is checked on reading;
regions must not overlap and must account for the file's bytes exactly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from construct import Bytes, Const, Int32ul, Struct

from parsers.errors import EvidenceError
from parsers.jsondoc import parse_json
from parsers.memory import ImageMemory
from parsers.numbers import NumberError, parse_int
from parsers.records import BugCheck, LogSet

MAGIC = b"WDFSNAP\0"
VERSION = 1
MAX_HEADER = 16 * 1024 * 1024
PREFIX = Struct("Magic" / Const(MAGIC, Bytes(8)), "Version" / Int32ul, "HeaderSize" / Int32ul)
MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024


@dataclass
class Snapshot:
    """A snapshot read back: its memory (an ImageMemory target) and what capture recorded about it."""

    memory: ImageMemory
    bugcheck: BugCheck | None
    logs: list[int]
    layout: dict | None
    objects: dict = field(default_factory=dict)


def is_snapshot(head: bytes) -> bool:
    return head.startswith(MAGIC)


def write_snapshot(path: str | Path, regions: dict[int, bytes], pointer_size: int, **fields) -> None:
    """Write a version-1 snapshot file (``fields``: see :func:`snapshot_bytes`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(snapshot_bytes(regions, pointer_size, **fields))


def snapshot_bytes(regions: dict[int, bytes], pointer_size: int, *, symbols: dict[str, int],
                   bugcheck: BugCheck | None, logs: list[int], layout: dict | None, objects: dict,
                   created_by: str) -> bytes:
    """A version-1 snapshot file's bytes."""
    ordered = sorted(regions.items())
    header = {
        "format": "wdftriage-snapshot", "created_by": created_by, "pointer_size": pointer_size,
        "regions": [{"address": hex(a), "size": len(d)} for a, d in ordered],
        "symbols": {name: hex(a) for name, a in sorted(symbols.items())},
        "bugcheck": None if bugcheck is None else {"code": hex(bugcheck.code),
                                                   "parameters": [hex(p) for p in bugcheck.parameters]},
        "logs": [hex(a) for a in logs], "layout": layout, "objects": objects,
    }
    text = json.dumps(header, indent=1, sort_keys=True).encode()
    return PREFIX.build({"Version": VERSION, "HeaderSize": len(text)}) + text + b"".join(d for _, d in ordered)


def read_snapshot(path: str | Path) -> Snapshot:
    """Read and validate a snapshot file; EvidenceError (file and offset) when it is not one."""
    source = str(path)
    try:
        if Path(path).stat().st_size > MAX_SNAPSHOT_BYTES:
            raise EvidenceError(source, f"snapshot larger than {MAX_SNAPSHOT_BYTES} bytes")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise EvidenceError(source, exc.strerror or str(exc)) from None
    if len(data) < PREFIX.sizeof() or not data.startswith(MAGIC):
        raise EvidenceError(source, "not a wdftriage snapshot (magic WDFSNAP missing)", offset=0)
    prefix = PREFIX.parse(data)
    if prefix.Version != VERSION:
        raise EvidenceError(source, f"snapshot format version {prefix.Version}; this wdftriage reads {VERSION}", offset=8)
    start = PREFIX.sizeof()
    if prefix.HeaderSize > min(MAX_HEADER, len(data) - start):
        raise EvidenceError(source, f"header size {prefix.HeaderSize} runs past the end of the file", offset=12)
    header = parse_json(data[start:start + prefix.HeaderSize], source, "header", offset=start)
    check = _Checker(source, start)
    if not isinstance(header, dict) or header.get("format") != "wdftriage-snapshot":
        raise check.error("header is not a wdftriage-snapshot object")
    pointer_size = header.get("pointer_size")
    if pointer_size not in (4, 8):
        raise check.error(f"pointer_size {pointer_size!r} is not 4 or 8")
    regions, at, end = {}, start + prefix.HeaderSize, 0
    for i, region in enumerate(check.list(header, "regions")):
        address = check.address(region.get("address") if isinstance(region, dict) else None, f"regions[{i}].address")
        size = region.get("size")
        if not isinstance(size, int) or not 0 < size <= len(data) - at:
            raise check.error(f"regions[{i}].size {size!r} does not fit the file", offset=at)
        if address < end:
            raise check.error(f"regions[{i}] at 0x{address:x} overlaps the region before it")
        regions[address], at, end = data[at:at + size], at + size, address + size
    if at != len(data):
        raise check.error(f"{len(data) - at} bytes after the last region", offset=at)
    symbols = {name: check.address(value, f"symbols[{name}]") for name, value in check.dict(header, "symbols").items()}
    return Snapshot(
        memory=ImageMemory(regions, pointer_size, symbols),
        bugcheck=_bugcheck(header.get("bugcheck"), check, source),
        logs=[check.address(a, "logs[]") for a in check.list(header, "logs")],
        layout=header.get("layout") if isinstance(header.get("layout"), dict) else None,
        objects=header.get("objects") if isinstance(header.get("objects"), dict) else {},
    )


class _Checker:
    """Type checks of header fields, each failure one EvidenceError naming the field."""

    def __init__(self, source: str, offset: int):
        self.source, self.offset = source, offset

    def error(self, message: str, offset: int | None = None) -> EvidenceError:
        return EvidenceError(self.source, f"snapshot {message}", offset=self.offset if offset is None else offset)

    def address(self, value, name: str, bits: int = 64) -> int:
        """A hex string field of at most ``bits`` bits (an address; the bugcheck code is 32)."""
        if not isinstance(value, str):
            raise self.error(f"{name} {value!r} is not a hex string")
        try:
            return parse_int(value, 16, bits=bits)
        except NumberError:
            raise self.error(f"{name} {value[:40]!r} is not a {bits}-bit hex number") from None

    def list(self, header: dict, name: str) -> list:
        value = header.get(name, [])
        if not isinstance(value, list):
            raise self.error(f"{name} is not a list")
        return value

    def dict(self, header: dict, name: str) -> dict:
        value = header.get(name) or {}
        if not isinstance(value, dict):
            raise self.error(f"{name} is not an object")
        return value


def _bugcheck(value, check: _Checker, source: str) -> BugCheck | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("parameters"), list) or len(value["parameters"]) != 4:
        raise check.error("bugcheck is not {code, parameters[4]}")
    return BugCheck(code=check.address(value.get("code"), "bugcheck.code", bits=32),
                    parameters=tuple(check.address(p, "bugcheck.parameters[]") for p in value["parameters"]),
                    source=f"{source} (captured in the debugger)")


def snapshot_logset(snapshot: Snapshot, path: str, options) -> LogSet:
    """The IFR logs capture recorded (decoded from the snapshot's memory) and its bugcheck, as one LogSet."""
    from parsers.decode import decode_ifr
    from parsers.memory import read_ifr

    logset = LogSet(source=path, bugcheck=snapshot.bugcheck)
    for address in snapshot.logs:
        name = f"{path}@0x{address:x}"
        decoded = decode_ifr(read_ifr(snapshot.memory, address, name), name, options)
        logset.messages += decoded.messages
        logset.warnings += decoded.warnings
        logset.logs.update({log: {**facts, "container": "snapshot"} for log, facts in decoded.logs.items()})
    return logset
