"""Memory targets: anything that reads bytes at virtual addresses (a live debugger through pykd, a kernel crash
dump through its page tables (parsers.dump.CrashDump), a snapshot), and reading an IFR log out of one.

A target needs ``read(address, size) -> bytes`` (raising ``TargetReadError`` or returning short data for
unreadable memory) and ``pointer_size``; it may offer ``symbol(name) -> int | None`` (None when it does not know
the name; :func:`symbol` asks any target). The IFR header's own address is known here, so the decoder can
check the header's ``Base`` self-pointer to tell the layout.
"""
from __future__ import annotations

from typing import Protocol

from parsers.errors import EvidenceError, TargetReadError
from parsers.ifr import IfrLog, MAX_LOG_SIZE, header_size_field, parse_ifr


class MemoryTarget(Protocol):
    pointer_size: int

    def read(self, address: int, size: int) -> bytes:
        """Bytes at ``address``; fewer than ``size`` (or TargetReadError) where memory is unreadable."""


def symbol(target: MemoryTarget, name: str) -> int | None:
    """The address of ``name`` (``module!symbol``) if the target knows it, else None."""
    lookup = getattr(target, "symbol", None)
    return lookup(name) if lookup is not None else None


class ImageMemory:
    """A memory image: {base address: bytes}; used for snapshots and by the tests' fake debugger."""

    def __init__(self, regions: dict[int, bytes], pointer_size: int = 8):
        self.regions = dict(regions)
        self.pointer_size = pointer_size

    def read(self, address: int, size: int) -> bytes:
        for base, data in self.regions.items():
            if base <= address < base + len(data):
                return data[address - base: address - base + size]
        raise TargetReadError(address, size, "not in the memory image")


def read_ifr(target: MemoryTarget, address: int, source: str) -> IfrLog:
    """The IFR log whose WDF_IFR_HEADER is at ``address`` (as ``!rcdrlogdump -a`` takes it)."""
    arch = "x64" if target.pointer_size == 8 else "x86"
    size_at, header_size = header_size_field(arch)
    try:
        header = target.read(address, header_size)
    except TargetReadError as exc:
        raise EvidenceError(source, f"cannot read the IFR header: {exc}", offset=address) from None
    if len(header) < header_size:
        raise EvidenceError(source, "IFR header is not fully readable", offset=address)
    size = int.from_bytes(header[size_at:size_at + 4], "little")
    if not 0 < size < MAX_LOG_SIZE:
        raise EvidenceError(source, f"IFR header Size 0x{size:x} outside 1..0xffff", offset=address)
    try:
        area = target.read(address + header_size, size)
    except TargetReadError:
        area = b""
    return parse_ifr(header + area, source, arch=arch, address=address)
