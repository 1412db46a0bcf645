"""Windows kernel crash dump file layouts, declared with construct, and where each physical page sits in a file.

Sources: the public ``ntiodump.h`` / ``mindumpdef.h`` declarations (DUMP_HEADER64/32, PHYSICAL_MEMORY_DESCRIPTOR,
DUMP_BLOB_FILE_HEADER / DUMP_BLOB_HEADER of the secondary callback data), and kdmp-parser's
``kdmp-parser-structs.h`` (static-asserted offsets; bitmap 'SDMP'/'FDMP' header as rekall reads it, the 'RDMP'
headers of kernel / kernel+user / complete dumps). :func:`physical_layout` validates every size and count
against the file before anything trusts it, so a lying field never drives a read past the end of the file or
an allocation larger than the file.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
from construct import (Array, Bytes, Const, Default, Int8ul, Int32ul, Int64sl, Int64ul, Padding, Struct)

from parsers.ifr import field_offset

PAGE = 0x1000
PTE_PRESENT, PTE_WRITABLE = 0x1, 0x2
HEADER64_SIZE, HEADER32_SIZE = 0x2000, 0x1000
MAX_RUNS64 = 42  # PHYSICAL_MEMORY_RUN64 entries that fit in the 700-byte PhysicalMemoryBlock buffer
MAX_RUNS32 = 86

RUN64 = Struct("BasePage" / Int64ul, "PageCount" / Int64ul)
RUN32 = Struct("BasePage" / Int32ul, "PageCount" / Int32ul)
#: PHYSICAL_MEMORY_DESCRIPTOR64 inside its 700-byte buffer (NumberOfRuns says how many entries are real).
PHYSICAL_MEMORY_DESCRIPTOR64 = Struct("NumberOfRuns" / Int32ul, Padding(4), "NumberOfPages" / Int64ul,
                                      "Runs" / Array(MAX_RUNS64, RUN64), Padding(700 - 16 - 16 * MAX_RUNS64))
PHYSICAL_MEMORY_DESCRIPTOR32 = Struct("NumberOfRuns" / Int32ul, "NumberOfPages" / Int32ul,
                                      "Runs" / Array(MAX_RUNS32, RUN32), Padding(700 - 8 - 8 * MAX_RUNS32))
#: The x64 CONTEXT record (3000-byte buffer): only the two MxCsr copies kdmp-parser checks are named.
CONTEXT64 = Struct(Padding(0x34), "MxCsr" / Default(Int32ul, 0x1F80), Padding(0x118 - 0x38),
                   "MxCsr2" / Default(Int32ul, 0x1F80), Padding(3000 - 0x11C))

#: DUMP_HEADER64: the first 0x2000 bytes of a 64-bit kernel dump.
DUMP_HEADER64 = Struct(
    "Signature" / Const(b"PAGE"), "ValidDump" / Const(b"DU64"),
    "MajorVersion" / Default(Int32ul, 0xF), "MinorVersion" / Default(Int32ul, 0),
    "DirectoryTableBase" / Int64ul, "PfnDataBase" / Default(Int64ul, 0), "PsLoadedModuleList" / Default(Int64ul, 0),
    "PsActiveProcessHead" / Default(Int64ul, 0), "MachineImageType" / Default(Int32ul, 0x8664),
    "NumberProcessors" / Default(Int32ul, 1), "BugCheckCode" / Int32ul, Padding(4),
    "BugCheckParameters" / Array(4, Int64ul), "VersionUser" / Default(Bytes(32), bytes(32)),
    "KdDebuggerDataBlock" / Default(Int64ul, 0),
    "PhysicalMemoryBlock" / PHYSICAL_MEMORY_DESCRIPTOR64, Padding(4),  # 0x88
    "ContextRecord" / CONTEXT64,  # 0x348
    Padding(0x98),  # 0xF00 EXCEPTION_RECORD64
    "DumpType" / Int32ul, Padding(4),  # 0xF98
    "RequiredDumpSpace" / Default(Int64sl, 0), "SystemTime" / Default(Int64sl, 0),
    "Comment" / Default(Bytes(128), bytes(128)), "SystemUpTime" / Default(Int64sl, 0),
    "MiniDumpFields" / Default(Int32ul, 0), "SecondaryDataState" / Default(Int32ul, 0),
    "ProductType" / Default(Int32ul, 1), "SuiteMask" / Default(Int32ul, 0), "WriterStatus" / Default(Int32ul, 0),
    Padding(4), "Attributes" / Default(Int32ul, 0), "BootId" / Default(Int32ul, 0),  # 0x1050
    Padding(HEADER64_SIZE - 0x1058),
)
#: DUMP_HEADER32: the first 0x1000 bytes of a 32-bit kernel dump.
DUMP_HEADER32 = Struct(
    "Signature" / Const(b"PAGE"), "ValidDump" / Const(b"DUMP"), "MajorVersion" / Int32ul, "MinorVersion" / Int32ul,
    "DirectoryTableBase" / Int32ul, "PfnDataBase" / Int32ul, "PsLoadedModuleList" / Int32ul,
    "PsActiveProcessHead" / Int32ul, "MachineImageType" / Int32ul, "NumberProcessors" / Int32ul,
    "BugCheckCode" / Int32ul, "BugCheckParameters" / Array(4, Int32ul), "VersionUser" / Bytes(32),
    "PaeEnabled" / Int8ul, Padding(3), "KdDebuggerDataBlock" / Int32ul,
    "PhysicalMemoryBlock" / PHYSICAL_MEMORY_DESCRIPTOR32,  # 0x64
    Padding(1200 + 0x50 + 128 + 8 + 1760),  # ContextRecord, EXCEPTION_RECORD32, Comment, Attributes, BootId, reserved
    "DumpType" / Int32ul, "MiniDumpFields" / Int32ul, "SecondaryDataState" / Int32ul,  # 0xF88
    Padding(HEADER32_SIZE - 0xF94),
)
#: Bitmap dumps ('SDMP' kernel, 'FDMP' full) at 0x2000; the bitmap (``Pages`` bits) follows.
BITMAP_HEADER = Struct("Signature" / Bytes(4), "ValidDump" / Const(b"DUMP"), Padding(0x18),
                       "FirstPage" / Int64ul, "TotalPresentPages" / Int64ul, "Pages" / Int64ul)
#: Kernel / kernel+user ('RDMP', DumpType 8/9) and complete (DumpType 10) dumps at 0x2000. ``MetadataSize``
#: counts from 0x2020 to ``FirstPageOffset``; PFN ranges start at 0x2030 (a zero PFN ends them); the pages follow
#: from ``FirstPageOffset`` in range order.
RDMP_HEADER = Struct("Marker" / Const(0x40, Int32ul), "Signature" / Const(b"RDMP"), "ValidDump" / Const(b"DUMP"),
                     Padding(4), "MetadataSize" / Int64ul, "FirstPageOffset" / Int64ul,
                     "NumberOfRanges" / Default(Int32ul, 0), Padding(4), "TotalNumberOfPages" / Default(Int64ul, 0))
PFN_RANGE = Struct("PageFileNumber" / Int64ul, "NumberOfPages" / Int64ul)
RDMP_METADATA, RDMP_RANGES = HEADER64_SIZE + 0x20, HEADER64_SIZE + 0x30
#: Secondary bug-check callback data: a "DumpBlob" file header, then blobs, each header 8-byte aligned.
BLOB_SIGNATURE = b"DumpBlob"  # DUMP_BLOB_SIGNATURE1 'pmuD', DUMP_BLOB_SIGNATURE2 'bolB' as bytes
DUMP_BLOB_FILE_HEADER = Struct("Signature" / Const(BLOB_SIGNATURE), "HeaderSize" / Int32ul, "BuildNumber" / Int32ul)
DUMP_BLOB_HEADER = Struct("HeaderSize" / Int32ul, "Tag" / Bytes(16), "DataSize" / Int32ul, "PrePad" / Int32ul,
                          "PostPad" / Int32ul)
BLOB_ALIGN = 8
assert DUMP_HEADER64.sizeof() == HEADER64_SIZE and DUMP_HEADER32.sizeof() == HEADER32_SIZE
# the offsets kdmp-parser static_asserts and the SDK documents
assert [field_offset(DUMP_HEADER64, f) for f in ("BugCheckParameters", "KdDebuggerDataBlock", "PhysicalMemoryBlock",
                                                  "ContextRecord", "DumpType", "Comment", "SecondaryDataState",
                                                  "Attributes")] == [0x40, 0x80, 0x88, 0x348, 0xF98, 0xFB0, 0x103C, 0x1050]
assert [field_offset(DUMP_HEADER32, f) for f in ("BugCheckParameters", "PhysicalMemoryBlock", "DumpType")] == \
       [0x2C, 0x64, 0xF88]
assert BITMAP_HEADER.sizeof() == 0x38 and RDMP_HEADER.sizeof() == 0x30 and DUMP_BLOB_HEADER.sizeof() == 0x20

#: DumpType values (DUMP_TYPES in the SDK; 8-10 as kdmp-parser names them).
DUMP_TYPES = {1: "full", 2: "summary", 3: "header", 4: "triage (small memory dump)", 5: "bitmap",
              6: "bitmap (live kernel)", 7: "automatic", 8: "kernel", 9: "kernel and user", 10: "complete"}
BITMAP_KINDS = {b"SDMP": "bitmap kernel", b"FDMP": "bitmap full"}


def pte_indexes(address: int) -> tuple[int, int, int, int]:
    """PML4, PDPT, PD and PT indexes of an x64 virtual address."""
    return (address >> 39) & 0x1FF, (address >> 30) & 0x1FF, (address >> 21) & 0x1FF, (address >> 12) & 0x1FF


@dataclass
class PhysicalLayout:
    """Where the dump keeps each physical page: sorted extents of (first PFN, page count, file offset)."""

    extents: list[tuple[int, int, int]]
    data_end: int  # file offset just past the last page the dump declares (where secondary data starts)
    truncated: bool = False  # the header declares pages past the end of the file (they were dropped)
    _starts: list[int] | None = None

    def offset(self, pfn: int) -> int | None:
        """File offset of physical page ``pfn``, None when the dump does not hold it."""
        if self._starts is None:
            self._starts = [e[0] for e in self.extents]
        i = bisect.bisect_right(self._starts, pfn) - 1
        if i < 0:
            return None
        base, count, at = self.extents[i]
        return at + (pfn - base) * PAGE if pfn < base + count else None

    @property
    def pages(self) -> int:
        return sum(count for _, count, _ in self.extents)


class LayoutError(ValueError):
    """The page layout a header declares does not fit the file (message says what and where)."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


def physical_layout(header, data, file_size: int, warnings: list[tuple[str, int]]) -> PhysicalLayout:
    """The page layout of a 64-bit dump, checked against ``file_size``; pages past the end of the file are
    dropped with a warning (``warnings`` gets (message, offset)); a layout that cannot be trusted raises
    :class:`LayoutError`."""
    dump_type = header.DumpType
    if dump_type == 1:
        desc = header.PhysicalMemoryBlock
        if desc.NumberOfRuns > MAX_RUNS64:
            raise LayoutError(f"PhysicalMemoryBlock.NumberOfRuns {desc.NumberOfRuns} is more than fit in the header",
                              0x88)
        extents, at = [], HEADER64_SIZE
        for run in desc.Runs[:desc.NumberOfRuns]:
            extents.append((run.BasePage, run.PageCount, at))
            at += run.PageCount * PAGE
        return _fit(extents, at, file_size, warnings, 0x98)
    if dump_type in (5, 6):
        bmp = BITMAP_HEADER.parse(bytes(data[HEADER64_SIZE: HEADER64_SIZE + BITMAP_HEADER.sizeof()]))
        if bmp.Signature not in BITMAP_KINDS:
            raise LayoutError(f"bitmap header signature {bmp.Signature!r} is neither SDMP nor FDMP", HEADER64_SIZE)
        start = HEADER64_SIZE + BITMAP_HEADER.sizeof()
        nbytes = (bmp.Pages + 7) // 8
        if start + nbytes > file_size or bmp.FirstPage < start + nbytes:
            raise LayoutError(f"bitmap of {bmp.Pages} pages does not fit before FirstPage 0x{bmp.FirstPage:x} "
                              "in the file", HEADER64_SIZE + 0x30)
        pfns = np.flatnonzero(np.unpackbits(np.frombuffer(data, np.uint8, nbytes, start), bitorder="little"))
        if len(pfns) != bmp.TotalPresentPages:
            warnings.append((f"bitmap has {len(pfns)} pages set but TotalPresentPages says {bmp.TotalPresentPages}; "
                             "the bitmap is used", HEADER64_SIZE + 0x28))
        return _fit(_extents_of(pfns, bmp.FirstPage), bmp.FirstPage + len(pfns) * PAGE, file_size, warnings,
                    bmp.FirstPage)
    if dump_type in (8, 9, 10):
        rdmp = RDMP_HEADER.parse(bytes(data[HEADER64_SIZE: HEADER64_SIZE + RDMP_HEADER.sizeof()]))
        first = rdmp.FirstPageOffset
        if rdmp.MetadataSize % PFN_RANGE.sizeof() or rdmp.MetadataSize < 2 * PFN_RANGE.sizeof() \
                or first != RDMP_METADATA + rdmp.MetadataSize or first > file_size:
            raise LayoutError(f"RDMP MetadataSize 0x{rdmp.MetadataSize:x} / FirstPageOffset 0x{first:x} do not fit "
                              "the file", HEADER64_SIZE + 0x10)
        count = rdmp.MetadataSize // PFN_RANGE.sizeof() - 1
        ranges = np.frombuffer(data, np.uint64, count * 2, RDMP_RANGES).reshape(-1, 2)
        extents, at, total = [], first, 0
        for pfn, pages in ranges.tolist():
            if pfn == 0 or (dump_type == 10 and total >= rdmp.TotalNumberOfPages):
                break
            extents.append((pfn, pages, at))
            at += pages * PAGE
            total += pages
        return _fit(sorted(extents), at, file_size, warnings, first)
    raise LayoutError(f"DumpType {dump_type} ({DUMP_TYPES.get(dump_type, 'unknown')}) has no page layout", 0xF98)


def _extents_of(pfns: np.ndarray, first_offset: int) -> list[tuple[int, int, int]]:
    """Runs of consecutive PFNs (pages stored back to back from ``first_offset``) as extents."""
    if not len(pfns):
        return []
    breaks = np.flatnonzero(np.diff(pfns) != 1) + 1
    starts = np.concatenate(([0], breaks))
    counts = np.diff(np.concatenate((starts, [len(pfns)])))
    return [(int(pfns[s]), int(c), first_offset + int(s) * PAGE) for s, c in zip(starts.tolist(), counts.tolist())]


def _fit(extents, end: int, file_size: int, warnings, where: int) -> PhysicalLayout:
    """Drop the pages that lie past the end of the file (with a warning); extents sorted by PFN."""
    if end <= file_size:
        return PhysicalLayout(sorted(extents), end)
    kept = []
    for base, count, at in extents:
        fits = max(0, min(count, (file_size - at) // PAGE))
        if fits:
            kept.append((base, fits, at))
    missing = (end - file_size + PAGE - 1) // PAGE
    warnings.append((f"the dump declares {missing} more pages than the file holds (file truncated?); "
                     "they are treated as absent", where))
    return PhysicalLayout(sorted(kept), file_size, truncated=True)
