"""Windows kernel crash dumps: the bugcheck from the dump header, and the KMDF IFR logs inside the file.

The header (``PAGEDU64``, 0x2000 bytes, or ``PAGEDUMP``, 0x1000 bytes) carries the bugcheck code, its
four parameters and the dump type. KMDF's bugcheck callback copies the responsible driver's
WDF_IFR_HEADER + ring verbatim into the dump as secondary data tagged WdfDumpGuid; the on-disk
container of secondary data has no public description, so, as the reference advises, the logs are
found by scanning the file for WdfTraceGuid followed by a header whose fields validate (the same
check the framework's own reader makes). In complete and kernel dumps the live pool copy of each
driver's log is found the same way when it sits in one physical page run; the duplicate copies are
merged.
"""
from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from pathlib import Path

from construct import Bytes, Int32ul, Int64ul, Struct

from parsers.errors import EvidenceError, EvidenceWarning
from parsers.ifr import HEADER_LAYOUTS, MAX_LOG_SIZE, MIN_LOG_SIZE, WDF_TRACE_GUID, IfrLog, header_size_field, parse_ifr
from parsers.records import BugCheck

DUMP_HEADER64 = Struct(
    "Signature" / Bytes(4), "ValidDump" / Bytes(4), "MajorVersion" / Int32ul, "MinorVersion" / Int32ul,
    "DirectoryTableBase" / Int64ul, "PfnDataBase" / Int64ul, "PsLoadedModuleList" / Int64ul,
    "PsActiveProcessHead" / Int64ul, "MachineImageType" / Int32ul, "NumberProcessors" / Int32ul,
    "BugCheckCode" / Int32ul, Bytes(4), "BugCheckParameters" / Int64ul[4],
)
DUMP_HEADER32 = Struct(
    "Signature" / Bytes(4), "ValidDump" / Bytes(4), "MajorVersion" / Int32ul, "MinorVersion" / Int32ul,
    "DirectoryTableBase" / Int32ul, "PfnDataBase" / Int32ul, "PsLoadedModuleList" / Int32ul,
    "PsActiveProcessHead" / Int32ul, "MachineImageType" / Int32ul, "NumberProcessors" / Int32ul,
    "BugCheckCode" / Int32ul, "BugCheckParameters" / Int32ul[4],
)
assert DUMP_HEADER64.sizeof() == 0x60 and DUMP_HEADER32.sizeof() == 0x3C
DUMP_TYPE_OFFSET = {"x64": 0xF98, "x86": 0xF88}
DUMP_TYPES = {1: "full", 2: "summary", 3: "header", 4: "triage (small memory dump)", 5: "bitmap full",
              6: "bitmap kernel", 7: "automatic", 8: "kernel", 9: "kernel and user", 10: "complete"}
MAX_LOGS = 64


@dataclass
class DumpEvidence:
    """What a dump file gave: the bugcheck, the dump type, the IFR logs found (with their file offsets)."""

    arch: str
    dump_type: str
    bugcheck: BugCheck
    logs: list[tuple[int, IfrLog]] = field(default_factory=list)
    warnings: list[EvidenceWarning] = field(default_factory=list)


def _header(data, source: str) -> tuple[str, BugCheck, str]:
    signature = bytes(data[:8])
    if signature == b"PAGEDU64":
        arch, h = "x64", DUMP_HEADER64.parse(bytes(data[:DUMP_HEADER64.sizeof()]))
    elif signature == b"PAGEDUMP":
        arch, h = "x86", DUMP_HEADER32.parse(bytes(data[:DUMP_HEADER32.sizeof()]))
    else:
        raise EvidenceError(source, f"not a kernel crash dump (signature {signature!r})", offset=0)
    at = DUMP_TYPE_OFFSET[arch]
    if len(data) < at + 4:
        raise EvidenceError(source, "dump header truncated", offset=len(data))
    dump_type = int.from_bytes(data[at:at + 4], "little")
    bugcheck = BugCheck(code=h.BugCheckCode, parameters=tuple(h.BugCheckParameters), source=f"{source} (dump header)")
    return arch, bugcheck, DUMP_TYPES.get(dump_type, f"type {dump_type}")


def _ifr_at(data, offset: int, arch: str, source: str) -> IfrLog | None:
    """The IFR log whose header starts at ``offset`` if its fields validate, else None."""
    size_at, header_size = header_size_field(arch)
    size = int.from_bytes(data[offset + size_at: offset + size_at + 4], "little")
    total = header_size + size
    if not MIN_LOG_SIZE <= total <= MAX_LOG_SIZE or offset + total > len(data):
        return None
    try:
        log = parse_ifr(bytes(data[offset: offset + total]), source=f"{source}@0x{offset:x}", arch=arch)
    except EvidenceError:
        return None
    return log if log.records and log.header.driver_name.isprintable() else None


def read_dump(path: str | Path) -> DumpEvidence:
    """Bugcheck and IFR logs of a crash dump file (read through mmap: memory stays bounded)."""
    source = str(path)
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            arch, bugcheck, dump_type = _header(data, source)
            evidence = DumpEvidence(arch=arch, dump_type=dump_type, bugcheck=bugcheck)
            seen: set[bytes] = set()
            needle, at = WDF_TRACE_GUID.bytes_le, data.find(WDF_TRACE_GUID.bytes_le, 0x1000)
            while at >= 0 and len(evidence.logs) < MAX_LOGS:
                log = _ifr_at(data, at, arch, source)
                if log is not None:
                    key = bytes(data[at: at + HEADER_LAYOUTS[arch].sizeof()])
                    if key not in seen:  # the pool copy and the secondary-data copy of one log
                        seen.add(key)
                        evidence.logs.append((at, log))
                at = data.find(needle, at + 16)
    except (OSError, ValueError) as exc:
        raise EvidenceError(source, f"cannot read the dump: {exc}") from None
    if not evidence.logs:
        evidence.warnings.append(EvidenceWarning(source, "no KMDF IFR log found in the dump (the framework adds "
                                                         "one only for the driver it blames, or with ForceLogsInMiniDump)"))
    return evidence
