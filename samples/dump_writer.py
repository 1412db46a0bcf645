"""Windows x64 kernel crash dumps written in the real on-disk formats, from a list of virtual memory regions.

Give :class:`DumpImage` the bytes that live at kernel virtual addresses (``map(address, data)``); it hands
out physical pages in a deterministic shuffled order (so the pages of one allocation are scattered and out of
order, as in a real machine), builds x64 4-level page tables (PML4 -> PDPT -> PD -> PT, present + writable
entries) and writes:

* a full dump (``DumpType`` 1): ``DUMP_HEADER64`` whose ``PhysicalMemoryBlock`` lists the physical runs, then
  every page of every run in run order (pages nobody mapped are zero; written sparse);
* a bitmap dump (``DumpType`` 5, ``SDMP`` kernel or ``FDMP`` full): the header, the bitmap header at 0x2000
  (``FirstPage``, ``TotalPresentPages``, ``Pages``, bitmap), then only the present pages in PFN order;
* a kernel dump (``DumpType`` 8, 'RDMP'): the header, the RDMP header and PFN ranges, then the present pages;

followed by the secondary bug-check callback data as Windows streams it (``DUMP_BLOB_FILE_HEADER`` "DumpBlob",
then per blob a ``DUMP_BLOB_HEADER`` {HeaderSize, Tag GUID, DataSize, PrePad, PostPad} and the data, 8-byte
aligned). Layouts: DUMP_HEADER64 / PHYSICAL_MEMORY_DESCRIPTOR64 / the dump blob headers from the public
``ntiodump.h`` declarations, the bitmap header as kdmp-parser and rekall read it; offsets are the
construct declarations of :mod:`parsers.dumpformat`, so writer and reader cannot drift apart.

Used by ``samples/generate.py`` (the committed sample dumps), ``bench/dump_scan.py`` (multi-GiB sparse dumps)
and by tests that need a dump holding particular objects: ``build_dump([(address, bytes), ...], DumpSpec(...))``.
"""
from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO

from parsers.dumpformat import (BITMAP_HEADER, BLOB_ALIGN, DUMP_BLOB_FILE_HEADER, DUMP_BLOB_HEADER, DUMP_HEADER64,
                                HEADER64_SIZE, MAX_RUNS64, PAGE, PFN_RANGE, PTE_PRESENT, PTE_WRITABLE, RDMP_HEADER,
                                RDMP_METADATA,
                                pte_indexes)



@dataclass
class DumpImage:
    """Physical memory of a small x64 machine: ``runs`` of (first PFN, page count), holes between them."""

    runs: list[tuple[int, int]] = field(default_factory=lambda: [(0x1, 0x9E), (0x100, 0x80)])
    seed: int = 13
    pages: dict[int, bytearray] = field(default_factory=dict)  # PFN -> page bytes
    virtual: dict[int, int] = field(default_factory=dict)  # virtual page -> PFN

    def __post_init__(self):
        if len(self.runs) > MAX_RUNS64:
            raise ValueError(f"at most {MAX_RUNS64} physical runs fit in DUMP_HEADER64")
        free = [pfn for base, count in self.runs for pfn in range(base, base + count)]
        random.Random(self.seed).shuffle(free)
        self._free = free
        self.dtb = self._allocate() * PAGE

    def _allocate(self) -> int:
        if not self._free:
            raise ValueError("the machine's physical memory is full")
        pfn = self._free.pop()
        self.pages[pfn] = bytearray(PAGE)
        return pfn

    def _table_entry(self, table_pfn: int, index: int) -> int:
        """The PFN the entry ``index`` of page table ``table_pfn`` points to, creating the next-level table."""
        table = self.pages[table_pfn]
        entry = int.from_bytes(table[index * 8: index * 8 + 8], "little")
        if not entry & PTE_PRESENT:
            pfn = self._allocate()
            table[index * 8: index * 8 + 8] = (pfn * PAGE | PTE_PRESENT | PTE_WRITABLE).to_bytes(8, "little")
            return pfn
        return (entry >> 12) & 0xFFFFFFFFFF

    def page_for(self, address: int) -> int:
        """The PFN backing the virtual page holding ``address`` (mapped on first use)."""
        vpage = address & ~(PAGE - 1)
        if vpage not in self.virtual:
            pml4, pdpt, pd, pt = pte_indexes(vpage)
            table = self.dtb // PAGE
            for index in (pml4, pdpt, pd):
                table = self._table_entry(table, index)
            self.virtual[vpage] = self._table_entry(table, pt)
        return self.virtual[vpage]

    def entry_location(self, address: int, level: int) -> tuple[int, int]:
        """(PFN of the table, byte offset in it) of the entry translating ``address`` at ``level`` (0 = PML4 ..
        3 = PT), for tests that damage page tables (missing tables on the way are created)."""
        table = self.dtb // PAGE
        for index in pte_indexes(address)[:level]:
            table = self._table_entry(table, index)
        return table, pte_indexes(address)[level] * 8

    def map(self, address: int, data: bytes) -> None:
        """Place ``data`` at kernel virtual ``address`` (any alignment, any length)."""
        offset = 0
        while offset < len(data):
            at = address + offset
            within = at % PAGE
            chunk = data[offset: offset + PAGE - within]
            self.pages[self.page_for(at)][within: within + len(chunk)] = chunk
            offset += len(chunk)

    def put_physical(self, pfn: int, data: bytes) -> None:
        """Bytes in a physical page no virtual address maps (e.g. a stale copy, a decoy)."""
        if pfn in self.pages or pfn not in set(self._free):
            raise ValueError(f"PFN 0x{pfn:x} is in use or outside the machine's memory")
        self._free.remove(pfn)
        self.pages[pfn] = bytearray(data.ljust(PAGE, b"\0")[:PAGE])

    def free_pfn(self) -> int:
        """A physical page nothing uses yet (taken from the same shuffled pool)."""
        return self._free[-1]


@dataclass
class DumpSpec:
    """What goes around the memory: the bugcheck, the dump kind and the secondary callback data."""

    bugcheck: int
    parameters: tuple[int, int, int, int]
    kind: str = "full"  # "full" | "bitmap-kernel" | "bitmap-full" | "kernel" (RDMP, DumpType 8)
    secondary: list[tuple[uuid.UUID, bytes]] = field(default_factory=list)
    present: set[int] | None = None  # bitmap dumps: PFNs written (default: every page in use)


def header_bytes(image: DumpImage, spec: DumpSpec, dump_type: int) -> bytes:
    """The DUMP_HEADER64 (0x2000 bytes) of ``image`` with ``spec``'s bugcheck and ``dump_type``."""
    runs = [dict(BasePage=b, PageCount=c) for b, c in image.runs]
    runs += [dict(BasePage=0, PageCount=0)] * (MAX_RUNS64 - len(runs))
    return DUMP_HEADER64.build(dict(
        MinorVersion=19041, DirectoryTableBase=image.dtb, PfnDataBase=0xFFFFFA8000000000,
        PsLoadedModuleList=0xFFFFF8055A2A5E10, PsActiveProcessHead=0xFFFFF8055A2A0D40, NumberProcessors=2,
        BugCheckCode=spec.bugcheck, BugCheckParameters=list(spec.parameters),
        PhysicalMemoryBlock=dict(NumberOfRuns=len(image.runs), NumberOfPages=sum(c for _, c in image.runs), Runs=runs),
        ContextRecord={}, DumpType=dump_type))


def blob_stream(secondary: list[tuple[uuid.UUID, bytes]]) -> bytes:
    """Secondary callback data as the dump stores it: DumpBlob file header, then each tagged blob."""
    out = bytearray(DUMP_BLOB_FILE_HEADER.build(dict(HeaderSize=DUMP_BLOB_FILE_HEADER.sizeof(), BuildNumber=19041)))
    for tag, data in secondary:
        post = -len(data) % BLOB_ALIGN
        out += DUMP_BLOB_HEADER.build(dict(HeaderSize=DUMP_BLOB_HEADER.sizeof(), Tag=tag.bytes_le,
                                           DataSize=len(data), PrePad=0, PostPad=post))
        out += data + bytes(post)
    return bytes(out)


def write_dump(image: DumpImage, spec: DumpSpec, out: BinaryIO) -> None:
    """Write the dump to ``out`` (seekable; pages nobody wrote are skipped with seek, so files stay sparse)."""
    zero = bytes(PAGE)

    def page(pfn: int) -> None:
        data = image.pages.get(pfn)
        if data is None or data == zero:
            out.seek(PAGE, io.SEEK_CUR)
        else:
            out.write(data)

    if spec.kind == "full":
        out.write(header_bytes(image, spec, 1))
        for base, count in image.runs:
            for pfn in range(base, base + count):
                page(pfn)
    elif spec.kind in ("bitmap-kernel", "bitmap-full"):
        header = header_bytes(image, spec, 5)
        present = sorted(spec.present if spec.present is not None else image.pages)
        bits = max(base + count for base, count in image.runs)
        bitmap = bytearray((bits + 7) // 8)
        for pfn in present:
            bitmap[pfn // 8] |= 1 << (pfn % 8)
        first = -(-(HEADER64_SIZE + BITMAP_HEADER.sizeof() + len(bitmap)) // PAGE) * PAGE
        signature = b"SDMP" if spec.kind == "bitmap-kernel" else b"FDMP"
        out.write(header)
        out.write(BITMAP_HEADER.build(dict(Signature=signature, ValidDump=b"DUMP", FirstPage=first,
                                           TotalPresentPages=len(present), Pages=bits)))
        out.write(bitmap)
        out.write(bytes(first - out.tell()))
        for pfn in present:
            page(pfn)
    elif spec.kind == "kernel":
        present = sorted(spec.present if spec.present is not None else image.pages)
        metadata = b"".join(PFN_RANGE.build(dict(PageFileNumber=p, NumberOfPages=c)) for p, c in _ranges(present))
        first = -(-(HEADER64_SIZE + RDMP_HEADER.sizeof() + len(metadata) + PFN_RANGE.sizeof()) // PAGE) * PAGE
        out.write(header_bytes(image, spec, 8))
        out.write(RDMP_HEADER.build(dict(MetadataSize=first - RDMP_METADATA, FirstPageOffset=first)) + metadata)
        out.write(bytes(first - out.tell()))  # a zero range ends the list
        for pfn in present:
            page(pfn)
    else:
        raise ValueError(f"unknown dump kind {spec.kind!r}")
    out.write(blob_stream(spec.secondary))
    out.truncate()


def _ranges(pfns: list[int]) -> list[tuple[int, int]]:
    """Sorted PFNs as (first PFN, count) runs of consecutive pages."""
    ranges: list[list[int]] = []
    for pfn in pfns:
        if ranges and ranges[-1][0] + ranges[-1][1] == pfn:
            ranges[-1][1] += 1
        else:
            ranges.append([pfn, 1])
    return [(p, c) for p, c in ranges]


def dump_bytes(image: DumpImage, spec: DumpSpec) -> bytes:
    """The whole dump in memory (small sample dumps)."""
    buffer = io.BytesIO()
    write_dump(image, spec, buffer)
    return buffer.getvalue()


def build_dump(regions: list[tuple[int, bytes]], spec: DumpSpec, seed: int = 13) -> bytes:
    """A small dump holding each (virtual address, bytes) region, with ``spec``'s bugcheck, kind and secondary data."""
    image = DumpImage(seed=seed)
    for address, data in regions:
        image.map(address, data)
    return dump_bytes(image, spec)
