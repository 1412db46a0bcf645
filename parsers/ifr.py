"""KMDF In-Flight Recorder (IFR) ring buffer decoder.

Sources: microsoft/Windows-Driver-Frameworks (MIT) fxifr.h (WDF_IFR_HEADER, WDF_IFR_RECORD),
kmdf/src/core/tracing.cpp (FxIFR, the writer), kmdf/src/core/tracingifrreplay.cpp
(FxIFRSendRecordsToWpp, the framework's own reader).

Input is the blob the framework writes into a crash dump as secondary data (tag WdfDumpGuid): the
WDF_IFR_HEADER immediately followed by ``Size`` bytes of log area. The same bytes come from a live
target or a kernel dump through ``FX_DRIVER_GLOBALS.WdfLogHeader``.

The walk follows the framework's reader: the newest record sits at ``Offset.Previous``; each record
names its predecessor in ``PrevOffset``; after the record at offset 0 (the first one written after
the last wrap) the walk continues into the previous lap's tail only while offsets stay above
``Offset.Current`` (below it, the newest lap has overwritten them). Unlike the in-box replay, the
test applies on the first step past the wrap too, v1 ``LR`` records are accepted, and a sequence
number is never emitted twice.

The walk keeps where each record lies (``IfrLog.offsets``); ``IfrLog.records`` are read from the log area when
first asked for, and the columnar decoder (parsers.wpp.IfrMessages) reads the fields it needs from the area with
numpy (:func:`field_at`, :func:`message_keys`).
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import numpy as np
from construct import Bytes, Const, Int8ul, Int16ul, Int32sl, Int32ul, Int64ul, Padding, Struct

from parsers.errors import EvidenceError, EvidenceWarning
from parsers.gcpause import gc_paused

WDF_TRACE_GUID = uuid.UUID("544d4c9d-942c-46d5-bf50-df5cd9524a50")
WDF_DUMP_GUID = uuid.UUID("54c84888-01d1-4c1e-bed6-282c98241303")
WDF_DUMP_GUID2 = uuid.UUID("f87e4a4c-c5a1-4d2f-bff0-d5de63a5e4c3")

SIGNATURE_V1 = 0x524C  # bytes "LR"
SIGNATURE_V2 = 0x324C  # bytes "L2"
MAX_MESSAGE_SIZE = 256  # WDF_MAX_IFR_MESSAGE_SIZE: argument bytes per record
MAX_LOG_SIZE = 0x10000  # FxIFRMaxLogSize: header + log area
MIN_LOG_SIZE = 0x1000  # FxIFRMinLogSize (one page)
NAME_LEN = 32

_OFFSET = Struct("Current" / Int16ul, "Previous" / Int16ul)

_HEADER_COMMON = ("Size" / Int32ul, "Offset" / _OFFSET, "Sequence" / Int32sl, "DriverName" / Bytes(NAME_LEN))
_TIMESTAMP_FLAGS = ("UseTimeStamp" / Int8ul, "PreciseTimeStamp" / Int8ul, Padding(2))
#: WDF_IFR_HEADER as KMDF x64 lays it out (0x48 bytes).
IFR_HEADER_X64 = Struct("Guid" / Bytes(16), "Base" / Int64ul, *_HEADER_COMMON, *_TIMESTAMP_FLAGS)
#: WDF_IFR_HEADER on x86 from the 22621 sources on (0x44 bytes).
IFR_HEADER_X86 = Struct("Guid" / Bytes(16), "Base" / Int32ul, *_HEADER_COMMON, *_TIMESTAMP_FLAGS)
#: Older x86 builds: no timestamp flags, 0x40 bytes.
IFR_HEADER_X86_OLD = Struct("Guid" / Bytes(16), "Base" / Int32ul, *_HEADER_COMMON)
#: WDF_IFR_RECORD_V1 ('LR', 0x1C bytes) and WDF_IFR_RECORD ('L2', 0x24 bytes, UTC FILETIME).
_RECORD_COMMON = ("Length" / Int16ul, "Sequence" / Int32sl, "PrevOffset" / Int16ul, "MessageNumber" / Int16ul,
                  "MessageGuid" / Bytes(16))
IFR_RECORD_V1 = Struct("Signature" / Const(SIGNATURE_V1, Int16ul), *_RECORD_COMMON)
IFR_RECORD_V2 = Struct("Signature" / Const(SIGNATURE_V2, Int16ul), *_RECORD_COMMON,
                       "TimeStampLow" / Int32ul, "TimeStampHigh" / Int32sl)

HEADER_LAYOUTS = {"x64": IFR_HEADER_X64, "x86": IFR_HEADER_X86, "x86-old": IFR_HEADER_X86_OLD}
HEADER_SIZES = {arch: layout.sizeof() for arch, layout in HEADER_LAYOUTS.items()}  # construct computes sizeof slowly


def field_offset(layout: Struct, name: str) -> int:
    """Byte offset of the field ``name`` in a fixed-size construct ``layout`` (from the declaration itself)."""
    offset = 0
    for sub in layout.subcons:
        if sub.name == name:
            return offset
        offset += sub.sizeof()
    raise KeyError(name)


def header_size_field(arch: str) -> tuple[int, int]:
    """(offset of ``Size``, size of the whole header) in the WDF_IFR_HEADER of ``arch``."""
    layout = HEADER_LAYOUTS[arch]
    return field_offset(layout, "Size"), HEADER_SIZES[arch]
RECORD_SIZES = {SIGNATURE_V1: IFR_RECORD_V1.sizeof(), SIGNATURE_V2: IFR_RECORD_V2.sizeof()}

# Hot-loop decoder derived from the declarations above (checked at import time).
_RECORD_PREFIX = struct.Struct("<HHiHH16s")  # WDF_IFR_RECORD_V1, and the common part of both
_RECORD_V2 = struct.Struct("<HHiHH16sQ")  # WDF_IFR_RECORD: the prefix and the FILETIME
_RECORD_CHECKED = struct.Struct("<HHiH")  # the fields the walk checks: Signature, Length, Sequence, PrevOffset
_SEQUENCE = struct.Struct("<i")
_TIMESTAMP = struct.Struct("<Q")
assert _RECORD_PREFIX.size == IFR_RECORD_V1.sizeof() == 0x1C and _RECORD_V2.size == IFR_RECORD_V2.sizeof()
assert IFR_RECORD_V2.sizeof() == 0x24 and IFR_HEADER_X64.sizeof() == 0x48 and IFR_HEADER_X86.sizeof() == 0x44

FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


def filetime_to_datetime(value: int) -> datetime | None:
    """Convert a FILETIME (100 ns units since 1601, UTC) to an aware datetime; None if implausible."""
    if value <= 0 or value >= 0x7FFF_FFFF_FFFF_FFFF:
        return None
    try:
        return FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


class IfrRecord(NamedTuple):
    """One record of the ring: where it sits, its header fields and its WPP argument bytes. A named tuple: the
    walk makes one per record, and a tuple is the cheapest object Python builds."""

    offset: int
    version: int  # 1 ('LR') or 2 ('L2')
    length: int
    sequence: int
    prev_offset: int
    message_number: int
    message_guid: uuid.UUID
    filetime: int | None
    payload: bytes

    @property
    def timestamp(self) -> datetime | None:
        return filetime_to_datetime(self.filetime) if self.filetime is not None else None


_new_record = tuple.__new__  # IfrRecord without the keyword-handling __new__ (hot loop)


class GuidCache(dict):
    """GUID bytes (as stored, little-endian fields) -> uuid.UUID, built once per distinct GUID: a log holds a
    few dozen message GUIDs across thousands of records, and building a UUID costs more than the rest of a record."""

    def __missing__(self, raw: bytes) -> uuid.UUID:
        value = self[raw] = uuid.UUID(bytes_le=raw)
        return value


_GUIDS = GuidCache()


@dataclass(slots=True)
class IfrHeader:
    arch: str
    header_size: int
    guid: uuid.UUID
    base: int
    size: int
    current: int
    previous: int
    sequence: int
    driver_name: str
    use_timestamp: bool
    precise_timestamp: bool


@dataclass(slots=True)
class IfrLog:
    """A decoded ring: header, its records oldest first (where they lie in the log area, their sequence numbers,
    the records themselves read from the area when first asked for), and what the walk noticed."""

    source: str
    header: IfrHeader
    records: Sequence[IfrRecord] = field(default_factory=list)  # a RingRecords after the walk
    offsets: list[int] = field(default_factory=list)
    sequences: list[int] = field(default_factory=list)
    wrapped: bool = False
    truncated: bool = False  # the file ends inside the log area
    dropped: int = 0  # messages the writer dropped (sequence gaps between surviving records + after newest)
    overwritten: int = 0  # messages lost to wrap (sequence numbers before the oldest surviving record)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (after sequence, missing count)
    out_of_order: list[tuple[int, int]] = field(default_factory=list)  # (previous sequence, sequence)
    warnings: list[EvidenceWarning] = field(default_factory=list)
    area: bytes = b""  # the log area as read


class RingRecords(Sequence):
    """The records at ``offsets`` of a log area, read the first time one is asked for."""

    __slots__ = ("area", "offsets", "_records")

    def __init__(self, area: bytes, offsets: list[int]):
        self.area, self.offsets, self._records = area, offsets, None

    def _read(self) -> list[IfrRecord]:
        if self._records is None:
            with gc_paused():
                self._records = [read_record(self.area, offset) for offset in self.offsets]
        return self._records

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, index):
        return self._read()[index]

    def __iter__(self):
        return iter(self._read())

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"RingRecords({self._read()!r})"


def read_record(area: bytes, offset: int) -> IfrRecord:
    """The record the walk found at ``offset`` of the log area (its header and payload lie in the area)."""
    sig, length, seq, prev, number, guid = _RECORD_PREFIX.unpack_from(area, offset)
    if sig == SIGNATURE_V2:
        return _new_record(IfrRecord, (offset, 2, length, seq, prev, number, _GUIDS[guid],
                                       _TIMESTAMP.unpack_from(area, offset + _RECORD_PREFIX.size)[0],
                                       area[offset + _RECORD_V2.size:offset + length]))
    return _new_record(IfrRecord, (offset, 1, length, seq, prev, number, _GUIDS[guid], None,
                                   area[offset + _RECORD_PREFIX.size:offset + length]))


def field_at(area: bytes, positions: np.ndarray, dtype: str) -> np.ndarray:
    """The little-endian ``dtype`` value at each byte position of ``area`` (any alignment)."""
    kind = np.dtype(dtype)
    starts = max(0, len(area) - kind.itemsize + 1)  # an area shorter than one field holds none (no record either)
    view = np.ndarray((starts,), kind, buffer=area, strides=(1,)) if starts else np.empty(0, kind)
    return view[positions]


def message_keys(log: IfrLog) -> tuple[list[tuple[uuid.UUID, int]], np.ndarray]:
    """The distinct (message GUID, message number) pairs of the log's records, and each record's index into
    them (one lexsort of the record fields)."""
    offsets = np.array(log.offsets, dtype=np.int64)
    low, high = field_at(log.area, offsets + 0xC, "<u8"), field_at(log.area, offsets + 0x14, "<u8")
    numbers = field_at(log.area, offsets + 0xA, "<u2")
    order = np.lexsort((numbers, high, low))
    first = np.ones(len(offsets), dtype=bool)  # the first of its (GUID, number) in that order
    first[1:] = np.diff(low[order]).astype(bool) | np.diff(high[order]).astype(bool) | \
        np.diff(numbers[order]).astype(bool)
    codes = np.empty(len(offsets), dtype=np.int64)
    codes[order] = np.cumsum(first) - 1
    keys = [(_GUIDS[log.area[offset + 0xC:offset + 0x1C]], number)
            for offset, number in zip(offsets[order[first]].tolist(), numbers[order[first]].tolist())]
    return keys, codes


def _parse_header(blob: bytes, arch: str, source: str) -> IfrHeader:
    layout = HEADER_LAYOUTS[arch]
    h = layout.parse(blob[: HEADER_SIZES[arch]])
    return IfrHeader(
        arch="x86" if arch.startswith("x86") else "x64",
        header_size=HEADER_SIZES[arch],
        guid=uuid.UUID(bytes_le=h.Guid),
        base=h.Base,
        size=h.Size,
        current=h.Offset.Current,
        previous=h.Offset.Previous,
        sequence=h.Sequence,
        driver_name=h.DriverName.split(b"\x00", 1)[0].decode("latin-1"),
        use_timestamp=bool(h.get("UseTimeStamp", 0)),
        precise_timestamp=bool(h.get("PreciseTimeStamp", 0)),
    )


def _plausible(h: IfrHeader, blob_len: int) -> int:
    """Score how well a header interpretation fits the blob (higher is better, <0 impossible)."""
    if h.guid != WDF_TRACE_GUID:
        return -1
    if not (0 < h.size < MAX_LOG_SIZE):
        return -1
    score = 1 if h.current <= h.size and h.previous <= h.size else 0  # still this layout; parse_ifr says why
    if blob_len == h.header_size + h.size:
        score += 4
    if h.header_size + h.size <= MAX_LOG_SIZE and (h.header_size + h.size) % 0x1000 == 0:
        score += 2
    if h.driver_name and h.driver_name.isprintable():
        score += 1
    return score


def detect_arch(blob: bytes, address: int | None = None, choices=tuple(HEADER_LAYOUTS)) -> str:
    """Tell the header layout ("x64", "x86" or "x86-old") of an IFR blob.

    With the header's own address known (memory targets), ``Base`` must point right after the
    header. Otherwise the layout whose ``Size`` makes header + log area fill the blob (one to
    sixteen pages) wins.
    """
    candidates = []
    for arch in choices:
        if len(blob) < HEADER_SIZES[arch]:
            continue
        h = _parse_header(blob, arch, "")
        if address is not None and h.base != address + HEADER_SIZES[arch]:
            continue
        score = _plausible(h, len(blob))
        if score >= 0:
            candidates.append((score, arch))
    if not candidates:
        raise LookupError("no IFR header layout fits")
    return max(candidates)[1]


def parse_ifr(blob: bytes, source: str = "<buffer>", arch: str | None = None, address: int | None = None) -> IfrLog:
    """Decode an IFR blob (header + log area) into records, oldest first.

    Raises :class:`EvidenceError` when the header itself cannot be trusted; a damaged ring yields
    the records that could be trusted plus warnings in ``IfrLog.warnings``.
    """
    if len(blob) < HEADER_SIZES["x86-old"]:
        raise EvidenceError(source, f"too short for an IFR header ({len(blob)} bytes)", offset=0)
    guid = uuid.UUID(bytes_le=bytes(blob[:16]))
    if guid != WDF_TRACE_GUID:
        raise EvidenceError(source, f"not a WDF IFR log: header GUID {guid} is not WdfTraceGuid {WDF_TRACE_GUID}", offset=0)
    if arch not in HEADER_LAYOUTS:
        choices = ("x86", "x86-old") if arch == "x86" else tuple(HEADER_LAYOUTS) if arch is None else (arch,)
        try:
            arch = detect_arch(blob, address, choices)
        except LookupError:
            raise EvidenceError(source, "IFR header Size/Offset fields fit no x64 or x86 layout", offset=0x10) from None
    if len(blob) < HEADER_SIZES[arch]:
        raise EvidenceError(source, f"{len(blob)} bytes is too short for the 0x{HEADER_SIZES[arch]:x}-byte {arch} IFR "
                                    "header", offset=len(blob))
    header = _parse_header(blob, arch, source)
    log = IfrLog(source=source, header=header)
    hs = header.header_size
    if header.size == 0 or header.size >= MAX_LOG_SIZE:
        raise EvidenceError(source, f"IFR header Size 0x{header.size:x} outside 1..0xffff",
                            offset=field_offset(HEADER_LAYOUTS[arch], "Size"))
    if header.current > header.size or header.previous > header.size:
        raise EvidenceError(
            source,
            f"IFR header offsets Current=0x{header.current:x} Previous=0x{header.previous:x} past Size 0x{header.size:x}",
            offset=field_offset(HEADER_LAYOUTS[arch], "Offset"),
        )
    area = log.area = bytes(blob[hs : hs + header.size])  # one copy of at most 64 KB; records are sliced from it
    if len(area) < header.size:
        log.warnings.append(
            EvidenceWarning(source, f"file truncated: log area holds 0x{len(area):x} of 0x{header.size:x} bytes", offset=len(blob))
        )
    _walk(log, area)
    _account_sequences(log)
    return log


def _walk(log: IfrLog, area: bytes) -> None:
    """Follow PrevOffset from the newest record back to the oldest one that survived (the hot loop: one
    ``unpack_from`` of the fields the checks read per record; the records are read when asked for)."""
    h = log.header
    src = log.source
    hs = h.header_size
    avail = len(area)
    unpack, prefix_size, size_v2 = _RECORD_CHECKED.unpack_from, _RECORD_PREFIX.size, _RECORD_V2.size
    newest_first: list[int] = []  # offsets
    append = newest_first.append
    first_lap: set[int] = set()  # offsets walked before the wrap (within a lap offsets only go down)
    seen_sequences: set[int] | None = None  # built the first time a sequence is not below every earlier one
    lowest = 1 << 32  # below every sequence walked so far: a record under it cannot be a stale repeat
    offset = h.previous
    current, log_size = h.current, h.size
    limit, largest_v2 = min(log_size, avail), size_v2 + MAX_MESSAGE_SIZE
    past_wrap = truncated = False
    while True:
        if past_wrap and offset in first_lap:
            log.warnings.append(EvidenceWarning(src, "PrevOffset chain loops back; walk stopped", offset=hs + offset))
            break
        if offset + prefix_size > avail:
            truncated = True
            if offset + prefix_size <= log_size:
                log.warnings.append(EvidenceWarning(
                    src, "record lies in the missing (truncated) part of the file; older records skipped", offset=hs + offset))
            else:
                log.warnings.append(EvidenceWarning(src, f"record offset 0x{offset:x} past log Size; walk stopped", offset=hs + offset))
            break
        sig, length, seq, prev = unpack(area, offset)
        end = offset + length
        if sig != SIGNATURE_V2 or not size_v2 <= length <= largest_v2 or end > limit or seq >= lowest:
            # every check, each with its own warning
            rec_size = RECORD_SIZES.get(sig)
            if rec_size is None:
                if not newest_first and sig == 0 and h.sequence == 0:
                    break  # empty log
                log.warnings.append(EvidenceWarning(src, f"bad record signature 0x{sig:04x}; older records skipped", offset=hs + offset))
                break
            if length < rec_size or length > rec_size + MAX_MESSAGE_SIZE or end > log_size:
                log.warnings.append(EvidenceWarning(src, f"bad record Length 0x{length:x}; older records skipped", offset=hs + offset + 2))
                break
            if end > avail:
                truncated = True
                log.warnings.append(EvidenceWarning(src, "record cut by end of file; older records skipped", offset=hs + offset))
                break
            if seen_sequences is None:
                seen_sequences = {_SEQUENCE.unpack_from(area, o + 4)[0] for o in newest_first}
            if seq in seen_sequences:
                log.warnings.append(EvidenceWarning(src, f"sequence {seq} seen twice; stale record, walk stopped", offset=hs + offset + 4))
                break
        append(offset)
        if seq < lowest:
            lowest = seq
        if seen_sequences is not None:
            seen_sequences.add(seq)
        if offset == 0:
            if prev == 0:
                break  # the first record ever written
            if past_wrap:
                log.warnings.append(EvidenceWarning(src, "walk wrapped twice; walk stopped", offset=hs))
                break
            past_wrap = log.wrapped = True
            first_lap = set(newest_first)
        elif prev == offset:
            break  # first record ever (PrevOffset == own offset)
        elif prev > offset:
            log.warnings.append(EvidenceWarning(src, f"PrevOffset 0x{prev:x} points forward; walk stopped", offset=hs + offset + 8))
            break
        if past_wrap and prev < current:
            break  # older lap's records below Offset.Current were overwritten by the newest lap
        offset = prev
    newest_first.reverse()
    log.truncated = truncated
    if truncated and 0 not in newest_first:
        salvaged = _salvage_forward(area, avail, h.size, set(newest_first))
        if salvaged:
            log.warnings.append(EvidenceWarning(
                src, f"salvaged {len(salvaged)} older record(s) by reading forward from the start of the log area",
                offset=hs))
        newest_first = salvaged + newest_first
    log.offsets = newest_first
    log.records = RingRecords(area, newest_first)


def _salvage_forward(area: bytes, avail: int, size: int, known: set[int]) -> list[int]:
    """Offsets of the records read forward from offset 0 while each one chains to the one before it (PrevOffset)."""
    out: list[int] = []
    offset = last_sequence = 0
    while offset + _RECORD_PREFIX.size <= avail and offset not in known:
        sig, length, seq, prev = _RECORD_CHECKED.unpack_from(area, offset)
        rec_size = RECORD_SIZES.get(sig)
        if rec_size is None or not rec_size <= length <= rec_size + MAX_MESSAGE_SIZE or offset + length > min(avail, size):
            break
        if out and (prev != out[-1] or seq <= last_sequence):
            break
        out.append(offset)
        last_sequence = seq
        offset += length
    return out


def _account_sequences(log: IfrLog) -> None:
    sequences = field_at(log.area, np.array(log.offsets, dtype=np.int64) + 4, "<i4").astype(np.int64)
    log.sequences = sequences.tolist()
    down = np.flatnonzero(sequences[1:] < sequences[:-1])
    log.out_of_order = list(zip(sequences[down].tolist(), sequences[down + 1].tolist()))  # concurrent writers
    ordered = np.sort(sequences)
    steps = np.diff(ordered)
    gaps = np.flatnonzero(steps > 1)
    log.gaps = list(zip(ordered[gaps].tolist(), (steps[gaps] - 1).tolist()))
    log.dropped = sum(missing for _, missing in log.gaps)
    if len(sequences):
        newest = int(ordered[-1])
        if log.header.sequence > newest and not log.truncated:
            tail = log.header.sequence - newest
            log.gaps.append((newest, tail))
            log.dropped += tail
        if log.wrapped:
            log.overwritten = max(0, int(ordered[0]) - 1)
