"""An IFR ring written the way the framework's writer (FxIFR) writes it, byte for byte.

Per message: the argument bytes are padded to a multiple of 4; a message whose arguments exceed
256 bytes is dropped and only bumps the header's sequence number; the record goes at
``Offset.Current`` unless it would run past ``Size``, in which case the ring wraps and the record
goes at offset 0 (``Current = size``, ``Previous = 0``); ``PrevOffset`` is the previous newest
record's offset (even across the wrap); sequence numbers start at 1. Nothing is zeroed: bytes of
older records stay after ``Offset.Current`` once the ring has wrapped.
"""
from __future__ import annotations

import struct
import uuid

from parsers.ifr import (IFR_HEADER_X64, IFR_HEADER_X86, IFR_HEADER_X86_OLD, IFR_RECORD_V1, IFR_RECORD_V2,
                         MAX_MESSAGE_SIZE, SIGNATURE_V1, SIGNATURE_V2, WDF_TRACE_GUID)

HEADERS = {"x64": IFR_HEADER_X64, "x86": IFR_HEADER_X86, "x86-old": IFR_HEADER_X86_OLD}


class IfrWriter:
    """One driver's IFR: header + log area of ``pages`` pages (total allocation = pages * 4096)."""

    def __init__(self, driver_name: str, arch: str = "x64", pages: int = 1, timestamps: bool = True,
                 header_address: int | None = None):
        self.arch = arch
        self.layout = HEADERS[arch]
        self.header_size = self.layout.sizeof()
        self.size = pages * 0x1000 - self.header_size
        self.area = bytearray(self.size)
        self.current = self.previous = 0
        self.sequence = 0
        self.driver_name = driver_name
        self.timestamps = timestamps and arch != "x86-old"
        default = 0xFFFFB30C4A2F1000 if arch == "x64" else 0x8A2F1000
        self.header_address = default if header_address is None else header_address

    def write(self, guid: uuid.UUID, number: int, args: list[bytes], filetime: int = 0) -> tuple[int, int] | None:
        """Log one message; returns (offset, sequence) or None when FxIFR drops it for size."""
        if any(len(a) > MAX_MESSAGE_SIZE for a in args):
            self.sequence += 1
            return None
        payload = b"".join(args)
        padded = (len(payload) + 3) & ~3
        if padded > MAX_MESSAGE_SIZE:
            self.sequence += 1
            return None
        record = IFR_RECORD_V2 if self.timestamps else IFR_RECORD_V1
        size = record.sizeof() + padded
        if self.current + size > self.size:
            new_current, new_previous = size, 0
        else:
            new_current, new_previous = self.current + size, self.current
        prev_offset = self.previous
        self.current, self.previous = new_current, new_previous
        self.sequence += 1
        fields = dict(Length=size, Sequence=self.sequence, PrevOffset=prev_offset, MessageNumber=number,
                      MessageGuid=guid.bytes_le)
        if self.timestamps:
            fields.update(Signature=SIGNATURE_V2, TimeStampLow=filetime & 0xFFFFFFFF, TimeStampHigh=filetime >> 32)
        else:
            fields.update(Signature=SIGNATURE_V1)
        raw = record.build(fields) + payload
        self.area[new_previous:new_previous + len(raw)] = raw  # pad bytes keep whatever was there
        return new_previous, self.sequence

    def header(self) -> bytes:
        fields = dict(Guid=WDF_TRACE_GUID.bytes_le, Base=self.header_address + self.header_size, Size=self.size,
                      Offset=dict(Current=self.current, Previous=self.previous), Sequence=self.sequence,
                      DriverName=self.driver_name.encode("ascii")[:31].ljust(32, b"\0"))
        if self.arch != "x86-old":
            fields.update(UseTimeStamp=int(self.timestamps), PreciseTimeStamp=0)
        return self.layout.build(fields)

    def blob(self) -> bytes:
        """Header + log area: the bytes the framework copies into a crash dump."""
        return self.header() + bytes(self.area)


def pack_pointer(value: int, arch: str) -> bytes:
    """A pointer argument as the writer's pointer size lays it out."""
    return struct.pack("<Q", value) if arch == "x64" else struct.pack("<I", value & 0xFFFFFFFF)
