"""Memory targets: anything that reads bytes at virtual addresses (a live debugger or a dump through pykd,
a kernel crash dump through its page tables (parsers.dump.CrashDump), a snapshot file written by ``capture``,
a memory image in tests), and reading an IFR log out of one.

A target (:class:`MemoryTarget`) has ``pointer_size`` (4 or 8), ``read(address, size) -> bytes`` which
returns ``size`` bytes or raises :class:`parsers.errors.TargetReadError` (a crash dump returns fewer bytes
when a later page of the range is unmapped: callers check the length), and ``symbol(name)`` which gives a
symbol's address (``module!name``) or None where the target does not know it (:func:`symbol` asks any
target). The IFR header's own address is known here, so the decoder can check the header's ``Base``
self-pointer to tell the layout.
"""
from __future__ import annotations

from typing import Protocol

from parsers.errors import EvidenceError, TargetReadError
from parsers.ifr import IfrLog, MAX_LOG_SIZE, header_size_field, parse_ifr


class MemoryTarget(Protocol):
    pointer_size: int

    def read(self, address: int, size: int) -> bytes:
        """Exactly ``size`` bytes at ``address``; TargetReadError where any of them is unreadable."""

    def symbol(self, name: str) -> int | None:
        """The address of ``module!name``, None when the target has no symbol information for it."""


def symbol(target: MemoryTarget, name: str) -> int | None:
    """The address of ``name`` (``module!symbol``) if the target knows it, else None."""
    lookup = getattr(target, "symbol", None)
    return lookup(name) if lookup is not None else None


class ImageMemory:
    """A memory image: {base address: bytes} and optional {symbol: address}; regions that touch are read
    as one range."""

    def __init__(self, regions: dict[int, bytes], pointer_size: int = 8, symbols: dict[str, int] | None = None):
        self.regions = dict(sorted(regions.items()))
        self.pointer_size = pointer_size
        self.symbols = dict(symbols or {})

    def read(self, address: int, size: int) -> bytes:
        out, at = b"", address
        for base, data in self.regions.items():
            if base <= at < base + len(data):
                out += data[at - base: at - base + size - len(out)]
                at = address + len(out)
                if len(out) == size:
                    return out
        raise TargetReadError(address, size, "not in the memory image")

    def symbol(self, name: str) -> int | None:
        return self.symbols.get(name)


class RecordingTarget:
    """A target that remembers every range read through it, so a snapshot can hold exactly the memory a
    walk needed (``capture``)."""

    def __init__(self, target: MemoryTarget):
        self.target = target
        self.pointer_size = target.pointer_size
        self.ranges: dict[int, bytes] = {}
        self.symbols: dict[str, int] = {}

    def read(self, address: int, size: int) -> bytes:
        data = self.target.read(address, size)
        if len(data) > len(self.ranges.get(address, b"")):
            self.ranges[address] = data
        return data

    def symbol(self, name: str) -> int | None:
        address = self.target.symbol(name)
        if address is not None:
            self.symbols[name] = address
        return address

    def regions(self) -> dict[int, bytes]:
        """The ranges read, merged where they overlap or touch."""
        merged: list[tuple[int, bytes]] = []
        for address, data in sorted(self.ranges.items()):
            if merged and address <= merged[-1][0] + len(merged[-1][1]):
                base, have = merged[-1]
                end = base + len(have)
                merged[-1] = (base, have + data[end - address:] if address + len(data) > end else have)
            else:
                merged.append((address, data))
        return dict(merged)


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
    return parse_ifr(header + _readable_prefix(target, address + header_size, size), source, arch=arch,
                     address=address)


def _readable_prefix(target: MemoryTarget, address: int, size: int, page: int = 0x1000) -> bytes:
    """As many bytes from ``address`` as are readable, page by page (a log whose tail page is paged out
    still gives its readable records)."""
    out = b""
    while len(out) < size:
        chunk = min(size - len(out), page - (address + len(out)) % page)
        try:
            out += target.read(address + len(out), chunk)
        except TargetReadError:
            break
    return out
