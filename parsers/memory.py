"""Memory targets: anything that reads bytes at virtual addresses (a live debugger through pykd, later a
crash dump or a snapshot), and reading an IFR log out of one.

A target needs ``read(address, size) -> bytes`` (raising ``MemoryError`` or returning short data for
unreadable memory) and ``pointer_size``. The IFR header's own address is known here, so the decoder can
check the header's ``Base`` self-pointer to tell the layout.
"""
from __future__ import annotations

from typing import Protocol

from parsers.errors import EvidenceError
from parsers.ifr import HEADER_LAYOUTS, IfrLog, MAX_LOG_SIZE, parse_ifr


class MemoryTarget(Protocol):
    pointer_size: int

    def read(self, address: int, size: int) -> bytes:
        """Bytes at ``address``; fewer than ``size`` (or MemoryError) where memory is unreadable."""


class ImageMemory:
    """A memory image: {base address: bytes}; used for snapshots and by the tests' fake debugger."""

    def __init__(self, regions: dict[int, bytes], pointer_size: int = 8):
        self.regions = dict(regions)
        self.pointer_size = pointer_size

    def read(self, address: int, size: int) -> bytes:
        for base, data in self.regions.items():
            if base <= address < base + len(data):
                return data[address - base: address - base + size]
        raise MemoryError(f"address 0x{address:x} is not in the memory image")


def read_ifr(target: MemoryTarget, address: int, source: str) -> IfrLog:
    """The IFR log whose WDF_IFR_HEADER is at ``address`` (as ``!rcdrlogdump -a`` takes it)."""
    header_size = HEADER_LAYOUTS["x64" if target.pointer_size == 8 else "x86"].sizeof()
    try:
        header = target.read(address, header_size)
    except MemoryError as exc:
        raise EvidenceError(source, f"cannot read the IFR header: {exc}", offset=address) from None
    if len(header) < header_size:
        raise EvidenceError(source, "IFR header is not fully readable", offset=address)
    size = int.from_bytes(header[0x18:0x1C] if target.pointer_size == 8 else header[0x14:0x18], "little")
    if not 0 < size < MAX_LOG_SIZE:
        raise EvidenceError(source, f"IFR header Size 0x{size:x} outside 1..0xffff", offset=address)
    try:
        area = target.read(address + header_size, size)
    except MemoryError:
        area = b""
    return parse_ifr(header + area, source, arch="x64" if target.pointer_size == 8 else "x86", address=address)
