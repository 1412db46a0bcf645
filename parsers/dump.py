"""Windows kernel crash dumps: the bugcheck, the dump as a memory target, and every KMDF driver's IFR log.

Which path reads what:

* 64-bit full, bitmap (SDMP/FDMP), kernel, kernel+user and complete dumps: the page layout is declared and
  checked against the file in :mod:`parsers.dumpformat` first (kdmp-parser maps the file and trusts its
  fields; a run past the end of the file would crash the process), then **kdmp-parser** opens the dump and
  does the header, bugcheck, virtual-to-physical translation and virtual page reads (:class:`DumpTarget`).
* 32-bit ``PAGEDUMP`` dumps, small memory / triage dumps (DumpType 4) and 64-bit dumps whose layout does not
  fit the file: the header and bugcheck from the construct declarations, the IFR logs by a flat scan of the
  file (a log is found only when its pages are contiguous in the file), with a warning saying so.

KMDF logs in a dump (reference: fxbugcheckcallback.cpp, fxifr.h): each driver's ``WDF_IFR_HEADER`` starts a
non-paged pool allocation of 1..16 pages, so it is page-aligned and its ``Base`` points just past itself. The
scan looks only at the first bytes of every page the dump holds (holes of a sparse file and absent pages are
skipped), keeps pages starting with WdfTraceGuid whose ``Size`` makes header + log 1..16 whole pages, checks
that the virtual address ``Base`` names really maps to that page, and reads the whole log through the page
tables, so a multi-page log comes out whole and in order however its physical pages are scattered. The
framework's bug-check callbacks add secondary data: the blamed driver's log (tag WdfDumpGuid, a verbatim copy
whose ``Base`` still holds the pool address) and the list of KMDF drivers with their versions (tag
WdfDumpGuid2, ``FX_DUMP_DRIVER_INFO_ENTRY``). Copies of one log (pool and secondary data) are merged.
"""
from __future__ import annotations

import ctypes
import hashlib
import mmap
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import kdmp_parser
import numpy as np
from construct import Array, Bytes, ConstructError, Int32ul, Int64ul, Padding, Struct

from parsers.dumpformat import (BITMAP_KINDS, BLOB_ALIGN, BLOB_SIGNATURE, DUMP_BLOB_FILE_HEADER, DUMP_BLOB_HEADER,
                                DUMP_HEADER32, DUMP_HEADER64, DUMP_TYPES, HEADER32_SIZE,
                                HEADER64_SIZE, PAGE, LayoutError, PhysicalLayout, physical_layout)
from parsers.errors import EvidenceError, EvidenceWarning, TargetReadError
from parsers.ifr import (MAX_LOG_SIZE, MIN_LOG_SIZE, WDF_DUMP_GUID, WDF_DUMP_GUID2, WDF_TRACE_GUID,
                         IfrLog, header_size_field, parse_ifr)
from parsers.records import BugCheck

MAX_LOGS = 256  # KMDF drivers on one machine are a few dozen
MAX_BLOBS = 4096  # secondary data blobs read before the stream is given up
MAX_BLOB_DATA = 0x10000  # the largest blob wdftriage reads (an IFR log is at most 64 KiB)
SCAN_CHUNK_PAGES = 1 << 16  # pages compared per numpy step (256 MiB of file)
PAGE_CACHE = 256  # virtual pages kept by a CrashDump (object walks read many small fields of few pages)
_GUID_WORDS = np.frombuffer(WDF_TRACE_GUID.bytes_le, np.uint64)

#: FX_DUMP_DRIVER_INFO_ENTRY (WdfDumpGuid2 blob): x64 0x38 bytes, x86 0x30.
DRIVER_INFO_X64 = Struct("FxDriverGlobals" / Int64ul, "Version" / Array(3, Int32ul), "DriverName" / Bytes(32),
                         Padding(4))
DRIVER_INFO_X86 = Struct("FxDriverGlobals" / Int32ul, "Version" / Array(3, Int32ul), "DriverName" / Bytes(32))
assert DRIVER_INFO_X64.sizeof() == 0x38 and DRIVER_INFO_X86.sizeof() == 0x30


@dataclass(frozen=True)
class DriverInfo:
    """One KMDF driver of the WdfDumpGuid2 list: name, KMDF version it bound to, its FX_DRIVER_GLOBALS."""

    name: str
    version: tuple[int, int, int]
    globals_address: int | None  # None for the framework's own entry

    @property
    def version_text(self) -> str:
        major, minor, build = self.version
        return f"v{major}.{minor}({build})"


@dataclass
class FoundLog:
    """One driver's IFR log and every place a copy of it was found."""

    log: IfrLog
    address: int | None  # virtual address of the WDF_IFR_HEADER (from the pool copy or the header's Base)
    sources: list[str] = field(default_factory=list)  # "pool at VA 0x...", "secondary data at file offset 0x..."
    file_offset: int | None = None  # where the copy that was decoded starts in the file, when it is contiguous

    @property
    def driver(self) -> str:
        return self.log.header.driver_name


@dataclass
class DumpEvidence:
    """What a dump file gave: bugcheck, dump type, KMDF drivers and framework version, the IFR logs."""

    arch: str
    dump_type: str
    bugcheck: BugCheck
    logs: list[FoundLog] = field(default_factory=list)
    drivers: list[DriverInfo] = field(default_factory=list)
    framework: DriverInfo | None = None
    virtual_reads: bool = False  # True when logs were read through the page tables
    blamed_by: str | None = None  # why ``bugcheck.module_name`` names that driver
    read_digest: str = ""  # SHA-256 of the header and of every block read (see CrashDump.read_digest)
    warnings: list[EvidenceWarning] = field(default_factory=list)


_LIBC = ctypes.CDLL(None)


@contextmanager
def _quiet_stdout():
    """kdmp-parser ``printf``s to the process's stdout on every failed translation; keep that out of our output."""
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        _LIBC.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


class CrashDump:
    """An open kernel crash dump: header facts, the page layout, and (64-bit dumps whose layout fits the file)
    kdmp-parser for translation and virtual reads. Use as a context manager; never reads the file whole."""

    def __init__(self, path: str | Path):
        self.source = str(path)
        self.warnings: list[EvidenceWarning] = []
        self._digest = hashlib.sha256()
        self._pages: dict[int, bytes | None] = {}
        try:
            self._file = open(path, "rb")
            self.size = os.fstat(self._file.fileno()).st_size
            self.data = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if self.size else b""
        except (OSError, ValueError) as exc:
            raise EvidenceError(self.source, f"cannot read the dump: {exc}") from None
        self.layout: PhysicalLayout | None = None
        self.parser = None
        try:
            self._header()
            if self.arch == "x64" and self.dump_type_value not in (2, 3, 4):
                self._open_pages()
        except BaseException:
            self.close()  # the file and its mapping are not left open when the header cannot be trusted
            raise

    # -- header ---------------------------------------------------------------------------------------------
    def _header(self) -> None:
        signature = bytes(self.data[:8])
        if signature == b"PAGEDU64":
            self.arch, layout, size = "x64", DUMP_HEADER64, HEADER64_SIZE
        elif signature == b"PAGEDUMP":
            self.arch, layout, size = "x86", DUMP_HEADER32, HEADER32_SIZE
        else:
            raise EvidenceError(self.source, f"not a kernel crash dump (signature {signature!r})", offset=0)
        if self.size < size:
            raise EvidenceError(self.source, f"dump header truncated: the file has {self.size} of the header's "
                                             f"0x{size:x} bytes", offset=self.size)
        raw = bytes(self.data[:size])
        self._digest.update(raw)
        self.header = layout.parse(raw)
        self.dump_type_value = self.header.DumpType
        self.dump_type = DUMP_TYPES.get(self.dump_type_value, f"type {self.dump_type_value}")
        if self.dump_type_value in (5, 6) and self.size >= HEADER64_SIZE + 4:
            kind = BITMAP_KINDS.get(bytes(self.data[HEADER64_SIZE:HEADER64_SIZE + 4]))
            self.dump_type = kind or self.dump_type
        self.bugcheck = BugCheck(code=self.header.BugCheckCode, parameters=tuple(self.header.BugCheckParameters),
                                 source=f"{self.source} (dump header)")

    def _warn(self, message: str, offset: int | None = None) -> None:
        self.warnings.append(EvidenceWarning(self.source, message, offset=offset))

    def _open_pages(self) -> None:
        """The page layout, checked against the file; then kdmp-parser when every declared page is in the file."""
        found: list[tuple[str, int]] = []
        try:
            self.layout = physical_layout(self.header, self.data, self.size, found)
        except (LayoutError, ConstructError, ValueError) as exc:
            where = exc.offset if isinstance(exc, LayoutError) else HEADER64_SIZE
            reason = " ".join(str(exc).split())  # construct errors span lines; a warning is one line
            self._warn(f"page layout unusable ({reason}); IFR logs found by a flat scan of the file only", where)
            return
        for message, offset in found:
            self._warn(message, offset)
        if self.layout.truncated:
            self._warn("page tables are not read from a truncated dump; IFR logs found by a flat scan of the file only")
            return
        try:
            with _quiet_stdout():
                self.parser = kdmp_parser.KernelDumpParser(self.source)
        except (RuntimeError, ValueError):
            self._warn("kdmp-parser does not open this dump (header or CONTEXT record inconsistent); IFR logs "
                       "found by a flat scan of the file only", 0)

    # -- memory target ----------------------------------------------------------------------------------------
    @property
    def pointer_size(self) -> int:
        return 8 if self.arch == "x64" else 4

    def translate(self, address: int) -> int | None:
        """Physical address of virtual ``address`` through the dump's page tables (kdmp-parser), None if unmapped."""
        if self.parser is None:
            return None
        with _quiet_stdout():
            return self.parser.translate_virtual(address)

    def read(self, address: int, size: int) -> bytes:
        """Bytes at kernel virtual ``address``; short when a later page is unmapped, TargetReadError when the
        first one is."""
        if self.parser is None:
            raise TargetReadError(address, size, "virtual memory is not readable in this dump")
        out = bytearray()
        while len(out) < size:
            at = address + len(out)
            page = self._virtual_page(at & ~(PAGE - 1))
            if page is None:
                if not out:
                    raise TargetReadError(at, size - len(out), "not mapped in the dump")
                break
            within = at % PAGE
            chunk = bytes(page[within: within + size - len(out)])
            self._digest.update(chunk)
            out += chunk
        return bytes(out)

    def _virtual_page(self, address: int) -> bytes | None:
        """The page at virtual ``address`` (page-aligned), None if unmapped; the last pages read are kept."""
        if address not in self._pages:
            if len(self._pages) >= PAGE_CACHE:
                self._pages.clear()
            with _quiet_stdout():
                page = self.parser.read_virtual_page(address)
            self._pages[address] = None if page is None else bytes(page)
        return self._pages[address]

    def symbol(self, name: str) -> int | None:
        """Addresses the dump header itself holds (``nt!PsLoadedModuleList``, ``nt!PsActiveProcessHead``,
        ``nt!KdDebuggerDataBlock``); None for anything else (a dump carries no symbols)."""
        fields = {"nt!PsLoadedModuleList": "PsLoadedModuleList", "nt!PsActiveProcessHead": "PsActiveProcessHead",
                  "nt!KdDebuggerDataBlock": "KdDebuggerDataBlock"}
        value = self.header.get(fields.get(name, ""), None)
        return value or None

    def file_bytes(self, offset: int, size: int) -> bytes:
        """Bytes of the file itself (bounded by its end); counted in the read digest."""
        chunk = bytes(self.data[offset: min(offset + size, self.size)])
        self._digest.update(chunk)
        return chunk

    def fileno(self) -> int:
        return self._file.fileno()

    def read_digest(self) -> str:
        """SHA-256 over the header and every block read so far: identifies the evidence without hashing GiBs
        (not the file's SHA-256, which hashes every byte)."""
        return self._digest.hexdigest()

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()
        self._file.close()

    def __enter__(self) -> CrashDump:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- finding the logs -----------------------------------------------------------------------------------------
def _data_segments(fd: int, start: int, end: int):
    """(start, end) file ranges holding data: holes of a sparse file are skipped (all zero: no log there)."""
    if not hasattr(os, "SEEK_DATA"):  # no hole information on this platform: everything is data
        yield start, end
        return
    at = start
    while at < end:
        try:
            data = os.lseek(fd, at, os.SEEK_DATA)
            hole = os.lseek(fd, data, os.SEEK_HOLE)
        except OSError:  # ENXIO: no data past ``at``
            return
        if data >= end:
            return
        yield data, min(hole, end)
        at = hole


def candidate_pages(dump: CrashDump, skip_holes: bool = True):
    """(PFN, file offset) of every page the dump holds that starts with WdfTraceGuid (only the first 16 bytes of
    each page are compared; with ``skip_holes`` the holes of a sparse file are not read at all)."""
    fd = dump.fileno()
    for base, count, at in dump.layout.extents:
        segments = _data_segments(fd, at, at + count * PAGE) if skip_holes else [(at, at + count * PAGE)]
        for seg_start, seg_end in segments:
            first = (seg_start - at + PAGE - 1) // PAGE
            last = (seg_end - at) // PAGE
            for chunk in range(first, last, SCAN_CHUNK_PAGES):
                n = min(SCAN_CHUNK_PAGES, last - chunk)
                words = np.frombuffer(dump.data, np.uint64, n * PAGE // 8, at + chunk * PAGE).reshape(n, PAGE // 8)
                hits = np.flatnonzero((words[:, 0] == _GUID_WORDS[0]) & (words[:, 1] == _GUID_WORDS[1]))
                for i in hits.tolist():
                    yield base + chunk + i, at + (chunk + i) * PAGE


class _Stale(Exception):
    """A well-formed header whose own address does not map to the page holding it (freed pool, broken tables)."""


def _pool_log(dump: CrashDump, pfn: int, offset: int) -> FoundLog | None:
    """The log whose header starts physical page ``pfn``, read through virtual memory; None for a page that is
    no header (wrong size, Base not just past a page-aligned header); :class:`_Stale` when the address the
    header names does not map to this very page."""
    size_at, header_size = header_size_field("x64")
    head = dump.file_bytes(offset, header_size)
    base = int.from_bytes(head[0x10:0x18], "little")
    size = int.from_bytes(head[size_at:size_at + 4], "little")
    address = base - header_size
    if (header_size + size) % PAGE or not MIN_LOG_SIZE <= header_size + size <= MAX_LOG_SIZE or address % PAGE:
        return None
    if dump.translate(address) != pfn * PAGE:
        raise _Stale(address)
    source = f"{dump.source}@VA 0x{address:x}"
    area = b""
    try:
        area = dump.read(address + header_size, size)
    except TargetReadError:
        pass
    try:
        log = parse_ifr(head + area, source=source, arch="x64", address=address)
    except EvidenceError:
        return None
    if len(area) < size:
        log.warnings.insert(0, EvidenceWarning(source, f"log area unmapped from VA 0x{address + header_size + len(area):x}"
                                                       f" ({len(area):#x} of {size:#x} bytes readable)"))
    return FoundLog(log=log, address=address, sources=[f"pool at VA 0x{address:x}"], file_offset=offset)


def _flat_log(dump: CrashDump, offset: int) -> FoundLog | None:
    """A log whose bytes are contiguous in the file at ``offset`` (flat scan, secondary data)."""
    for arch in (("x64",) if dump.arch == "x64" else ("x86", "x86-old")):
        size_at, header_size = header_size_field(arch)
        size = int.from_bytes(dump.data[offset + size_at: offset + size_at + 4], "little")
        total = header_size + size
        if not MIN_LOG_SIZE <= total <= MAX_LOG_SIZE or offset + total > dump.size:
            continue
        source = f"{dump.source}@0x{offset:x}"
        try:
            log = parse_ifr(dump.file_bytes(offset, total), source=source, arch=arch)
        except EvidenceError:
            continue
        if log.records and log.header.driver_name.isprintable():
            return FoundLog(log=log, address=log.header.base - header_size, file_offset=offset,
                            sources=[f"file offset 0x{offset:x}"])
    return None


def _blobs(dump: CrashDump, start: int):
    """(tag, data offset, data size) of each secondary callback data blob, from the DumpBlob stream at or
    after ``start``; a blob whose sizes run past the file ends the stream with a warning."""
    at = dump.data.find(BLOB_SIGNATURE, start)
    if at < 0:
        return
    if at + DUMP_BLOB_FILE_HEADER.sizeof() > dump.size:
        dump._warn("secondary data stream header cut by the end of the file; no blob read", at)
        return
    head = DUMP_BLOB_FILE_HEADER.parse(dump.file_bytes(at, DUMP_BLOB_FILE_HEADER.sizeof()))
    at += head.HeaderSize
    for _ in range(MAX_BLOBS):
        if at + DUMP_BLOB_HEADER.sizeof() > dump.size:
            return
        blob = DUMP_BLOB_HEADER.parse(dump.file_bytes(at, DUMP_BLOB_HEADER.sizeof()))
        data = at + blob.HeaderSize + blob.PrePad
        end = data + blob.DataSize + blob.PostPad
        if blob.HeaderSize < DUMP_BLOB_HEADER.sizeof() or end > dump.size:
            if blob.HeaderSize or blob.DataSize:
                dump._warn(f"secondary data blob sizes run past the end of the file (DataSize 0x{blob.DataSize:x}); "
                           "later blobs skipped", at)
            return
        yield uuid.UUID(bytes_le=blob.Tag), data, blob.DataSize
        at = end + (-end % BLOB_ALIGN)


def _driver_list(dump: CrashDump, offset: int, size: int) -> list[DriverInfo]:
    entry = DRIVER_INFO_X64 if dump.arch == "x64" else DRIVER_INFO_X86
    raw = dump.file_bytes(offset, min(size, 0x8000))
    drivers = []
    for i in range(len(raw) // entry.sizeof()):
        e = entry.parse(raw[i * entry.sizeof(): (i + 1) * entry.sizeof()])
        name = e.DriverName.split(b"\0", 1)[0].decode("latin-1")
        if not name or not name.isprintable():
            break
        drivers.append(DriverInfo(name=name, version=tuple(e.Version), globals_address=e.FxDriverGlobals or None))
    return drivers


def _merge(found: list[FoundLog], new: FoundLog) -> None:
    """Add ``new`` unless it is a copy of a log already found (same driver, same header address): then the copy
    with the newer header (more sequence numbers) is kept and its places are listed together."""
    for i, old in enumerate(found):
        if old.driver == new.driver and old.address == new.address:
            keep = new if new.log.header.sequence >= old.log.header.sequence else old
            keep.sources = old.sources + [s for s in new.sources if s not in old.sources]
            found[i] = keep
            return
    found.append(new)


def read_dump(path: str | Path) -> DumpEvidence:
    """Bugcheck, KMDF drivers and every IFR log of a crash dump file (memory stays bounded: mmap + page reads)."""
    with CrashDump(path) as dump:
        evidence = DumpEvidence(arch=dump.arch, dump_type=dump.dump_type, bugcheck=dump.bugcheck,
                                virtual_reads=dump.parser is not None)
        found: list[FoundLog] = []
        start = HEADER64_SIZE if dump.arch == "x64" else HEADER32_SIZE
        blob_logs = set()
        for tag, offset, size in _blobs(dump, dump.layout.data_end if dump.layout else start):
            if tag == WDF_DUMP_GUID and size <= MAX_LOG_SIZE:
                log = _flat_log(dump, offset)
                if log is not None:
                    log.sources = [f"secondary data (WdfDumpGuid) at file offset 0x{offset:x}"]
                    blob_logs.add(offset)
                    _merge(found, log)
            elif tag == WDF_DUMP_GUID2:
                listed = _driver_list(dump, offset, size)
                evidence.framework = next((d for d in listed if d.globals_address is None), None)
                evidence.drivers = [d for d in listed if d.globals_address is not None]
        if dump.parser is not None:
            stale = []
            for pfn, offset in candidate_pages(dump):
                try:
                    log = _pool_log(dump, pfn, offset)
                except _Stale:
                    stale.append(offset)
                    continue
                if log is not None and len(found) < MAX_LOGS:
                    _merge(found, log)
            if stale:
                dump._warn(f"{len(stale)} page(s) hold a well-formed IFR header whose own address does not map to "
                           "them (freed pool, or damaged page tables); not read", stale[0])
        else:
            at = dump.data.find(WDF_TRACE_GUID.bytes_le, start)
            while at >= 0 and len(found) < MAX_LOGS:
                log = _flat_log(dump, at) if at not in blob_logs else None
                if log is not None:
                    _merge(found, log)
                at = dump.data.find(WDF_TRACE_GUID.bytes_le, at + 16)
        evidence.logs = found
        evidence.warnings = dump.warnings
        evidence.read_digest = dump.read_digest()
    if not evidence.logs:
        evidence.warnings.append(EvidenceWarning(str(path), "no KMDF IFR log found in the dump (a small memory dump "
                                                            "holds one only for the driver the framework blames, or "
                                                            "with ForceLogsInMiniDump)"))
    _name_guilty_driver(evidence)
    return evidence


def _name_guilty_driver(evidence: DumpEvidence) -> None:
    """The driver the bugcheck blames: 0x10D parameter 4 is its FX_DRIVER_GLOBALS; otherwise the driver whose log
    the framework's bug-check callback chose for the secondary data."""
    bug = evidence.bugcheck
    if bug.code == 0x10D:
        driver = next((d for d in evidence.drivers if d.globals_address == bug.parameters[3]), None)
        if driver is not None:
            bug.module_name = driver.name
            evidence.blamed_by = "bugcheck parameter 4 is its FX_DRIVER_GLOBALS"
            return
    chosen = [f for f in evidence.logs if any(s.startswith("secondary data") for s in f.sources)]
    if len(chosen) == 1:
        bug.module_name = chosen[0].driver
        evidence.blamed_by = "the framework's bug-check callback saved its log as secondary data"
