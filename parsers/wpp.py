"""WPP argument decoding and message rendering, and IFR records turned into TraceMessages.

A WPP payload is the message's arguments back to back in argument-number order, no headers, no
alignment (sizes per item type below; pointers as wide as the writer's). Rendering follows the
FormatMessage-style ``%N!fmt!`` of the TMF format string, with the names wdfkd and tracefmt print
for NTSTATUS values and enums. Printing whole ``!wdflogdump`` lines is the renderers' job
(reports/logdump.py).

IFR records become messages on two paths that give the same messages: :func:`messages_from_ifr` builds a
TraceMessage per record; :func:`ifr_messages` holds them as columns (:class:`IfrMessages`), from which the
event table is filled with numpy (a struct layout per (GUID, number) read over every payload of that plan at
once) and a message is built only when something reads it (tests/test_ifr_columns.py checks the two agree).
"""
from __future__ import annotations

import re
import struct
import uuid
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial

import numpy as np

from parsers import catalog as catalog_module
from parsers import ntstatus
from parsers.errors import EvidenceWarning, WdfTriageError
from parsers.gcpause import gc_paused
from parsers.ifr import (FILETIME_EPOCH, RECORD_SIZES, SIGNATURE_V1, SIGNATURE_V2, IfrLog, IfrRecord, field_at,
                         filetime_to_datetime, message_keys, read_record)
from parsers.numbers import NumberError, int_or_none, parse_int
from parsers.records import NAT_NS, ArgColumns, Coded, LazyMessages, MessageColumns, SourceRef, TraceMessage
from parsers.tmf import TmfArg, TmfDatabase, TmfMessage

_FIXED = {  # item type -> struct format (little-endian)
    "ItemChar": "b", "ItemUChar": "B", "ItemShort": "h", "ItemUShort": "H", "ItemPort": ">H",
    "ItemLong": "i", "ItemULong": "I", "ItemULongX": "I", "ItemLongX": "I", "ItemNTSTATUS": "I",
    "ItemWINERROR": "I", "ItemHRESULT": "I", "ItemNDIS_STATUS": "I", "ItemNDIS_OID": "I", "ItemIPAddr": "I",
    "ItemEnum": "I", "ItemFlagsEnum": "I", "ItemChar4": "I",
    "ItemLongLong": "q", "ItemULongLong": "Q", "ItemLongLongX": "Q", "ItemLongLongXX": "Q", "ItemLongLongO": "Q",
    "ItemULongLongX": "Q", "ItemDouble": "d", "ItemTimestamp": "q", "ItemWaitTime": "q", "ItemTimeDelta": "q",
    "ItemListByte": "B", "ItemListShort": "H", "ItemListLong": "I",
    "ItemSetByte": "B", "ItemSetShort": "H", "ItemSetLong": "I",
}
_GUID_ITEMS = {"ItemGuid", "ItemCLSID", "ItemLIBID", "ItemIID"}
_SPEC = re.compile(r"%([0-9]+)!([^!]*)!|%!(\w+)!|%%")
_PRINTF = re.compile(r"^([-+ #0]*)([1-9][0-9]*)?(?:\.([0-9]+))?(I64|I32|ll|hh|l|h|w|I)?([diouxXpcsSZegfE])$")
MAX_WIDTH = 256  # printf widths and precisions are cut to this: a TMF is untrusted text, its output one line
#: The record times timelines can hold (pandas' nanosecond range, 1677-09-21 .. 2262-04-11); outside it a
#: time is not believable evidence either, and is kept as unknown.
TIME_RANGE = (datetime(1677, 9, 22, tzinfo=timezone.utc), datetime(2262, 4, 11, tzinfo=timezone.utc))
#: The FILETIMEs whose times (whole microseconds) fall in TIME_RANGE: first, and one past the last.
FILETIME_RANGE = ((TIME_RANGE[0] - FILETIME_EPOCH) // timedelta(microseconds=1) * 10,
                  ((TIME_RANGE[1] - FILETIME_EPOCH) // timedelta(microseconds=1) + 1) * 10)
_STRING_HOLES = {"s", "S", "Z", "hs", "ls", "ws", "wZ", "hZ"}


class WppError(WdfTriageError):
    """A payload that does not hold the arguments its TMF entry describes (the decoder keeps the record as an
    unknown message with its raw bytes; the error never leaves the parser)."""


def _take_string(payload: bytes, pos: int, wide: bool, arg: TmfArg) -> tuple[str, int]:
    if wide:
        for end in range(pos, len(payload) - 1, 2):
            if payload[end] == 0 and payload[end + 1] == 0:
                return payload[pos:end].decode("utf-16-le", errors="replace"), end + 2
    else:
        end = payload.find(b"\0", pos)
        if end >= 0:
            return payload[pos:end].decode("latin-1"), end + 1
    raise WppError(f"argument %{arg.number} ({arg.name}) string not terminated")


def _take(payload: bytes, pos: int, arg: TmfArg, pointer_size: int):
    item = arg.item_type
    if item == "ItemPtr":
        fmt = "<Q" if pointer_size == 8 else "<I"
    elif item in _FIXED:
        fmt = _FIXED[item] if _FIXED[item].startswith(">") else "<" + _FIXED[item]
    elif item in _GUID_ITEMS:
        if pos + 16 > len(payload):
            raise WppError(f"argument %{arg.number} ({arg.name}) truncated")
        return uuid.UUID(bytes_le=payload[pos:pos + 16]), pos + 16
    elif item in ("ItemString", "ItemRString"):
        return _take_string(payload, pos, False, arg)
    elif item in ("ItemWString", "ItemRWString"):
        return _take_string(payload, pos, True, arg)
    elif item in ("ItemPString", "ItemPWString", "ItemHexDump", "ItemHEXDump"):
        if pos + 2 > len(payload):
            raise WppError(f"argument %{arg.number} ({arg.name}) truncated")
        (length,) = struct.unpack_from("<H", payload, pos)
        data = payload[pos + 2:pos + 2 + length]
        if len(data) < length:
            raise WppError(f"argument %{arg.number} ({arg.name}) counted string truncated")
        if item == "ItemPWString":
            return data.decode("utf-16-le", errors="replace"), pos + 2 + length
        if item == "ItemPString":
            return data.decode("latin-1"), pos + 2 + length
        return data.hex(" "), pos + 2 + length
    else:
        raise WppError(f"argument %{arg.number} ({arg.name}) has unsupported type {item}")
    size = struct.calcsize(fmt)
    if pos + size > len(payload):
        raise WppError(f"argument %{arg.number} ({arg.name}) truncated")
    (value,) = struct.unpack_from(fmt, payload, pos)
    if item.startswith(("ItemList", "ItemSet")):
        value = _enum_text(arg, value)
    return value, pos + size


@lru_cache(maxsize=None)
def _enum_names(enum_names: tuple | None) -> dict[int, str]:
    return dict(enum_names or ())


def _enum_text(arg: TmfArg, value: int) -> str:
    names = _enum_names(arg.enum_names)
    if arg.item_type.startswith("ItemList"):
        return names.get(value, f"!{value:X}!")
    bits = [names.get(i + 1, str(i + 1)) for i in range(32) if value >> i & 1]
    return "[" + ",".join(bits) + "]"


def decode_args(message: TmfMessage, payload: bytes, pointer_size: int) -> list:
    """Argument values in argument-number order: int, float, str (strings, enum names) or UUID."""
    values, pos = [], 0
    for arg in message.args:
        value, pos = _take(payload, pos, arg, pointer_size)
        values.append(value)
    return values


def _display(arg: TmfArg, value) -> object:
    """What %N!s! shows for an item: status names, GUID text; numbers stay numbers for printf specs."""
    if arg.item_type == "ItemNTSTATUS":
        return ntstatus.render(value)
    if arg.item_type in ("ItemHRESULT", "ItemWINERROR"):
        return ntstatus.render(value) if arg.item_type == "ItemHRESULT" else str(value)
    return value


def _capped(digits: str | None) -> str:
    """A printf width or precision as digits, at most MAX_WIDTH ('' when absent)."""
    if not digits:
        return ""
    try:
        return str(min(parse_int(digits), MAX_WIDTH))
    except NumberError:  # more digits than any 64-bit value
        return str(MAX_WIDTH)


def _printf(spec: str, value, pointer_size: int) -> str:
    m = _PRINTF.match(spec)
    if not m:
        return str(value)
    flags, width, precision, _length, conv = m.groups()
    width, precision = _capped(width), _capped(precision)
    if conv == "p":
        return f"{int(value) & ((1 << pointer_size * 8) - 1):0{pointer_size * 2}X}" if isinstance(value, int) else str(value)
    if conv in "sSZ":
        return f"{str(value):{'<' if '-' in flags else '>'}{width or 0}}"
    if conv == "c":
        return chr(value & 0xFF) if isinstance(value, int) else str(value)
    if not isinstance(value, (int, float)):
        return str(value)
    if conv in "egfE":
        return ("%" + flags + width + ("." + precision if precision else "") + conv) % value
    if isinstance(value, float):  # an integer conversion on an ItemDouble: the TMF disagrees with itself
        return str(value)
    if conv in "xXo" and isinstance(value, int) and value < 0:
        value &= (1 << (64 if _length in ("I64", "ll") else 32)) - 1
    return ("%" + flags + width + conv.replace("i", "d").replace("u", "d")) % value


def render(message: TmfMessage, values: list, pointer_size: int = 8) -> str:
    """The message body as wdfkd prints it (the ``%0`` prefix left out)."""
    by_number = {a.number: (a, v) for a, v in zip(message.args, values)}

    def substitute(m: re.Match) -> str:
        number, spec, item = m.group(1), m.group(2), m.group(3)
        if item is not None:
            return {"FUNC": message.function or "", "LEVEL": message.level or "", "FLAGS": message.flags or ""}.get(item, "")
        if number is None:
            return "%"
        n = int_or_none(number, bits=16)
        if n is None:
            return "<NoValue>"
        if n < 10:
            return ""  # prefix items (%1..%9) belong to the line prefix, not the body
        if n not in by_number:
            return "<NoValue>"
        arg, value = by_number[n]
        return _printf(spec or "s", _display(arg, value), pointer_size)

    body = message.format[2:] if message.format.startswith("%0") else message.format
    return _SPEC.sub(substitute, body).strip()


def unknown_text(record: IfrRecord) -> str:
    """An IFR record with no format: tracefmt's 'No Format Information found' with the raw arguments."""
    raw = record.payload.hex(" ") if record.payload else "(no arguments)"
    return f"Unknown( {record.message_number}): GUID={record.message_guid} (No Format Information found). {raw}"


def pointer_values(payload: bytes, pointer_size: int) -> tuple[int, ...]:
    """Every distinct pointer-sized little-endian value at any byte offset of an argument block that
    could be a kernel handle or address (at least 64 KiB). WPP packs arguments without padding, so a
    pointer may sit at any offset; payloads are at most a few hundred bytes."""
    values = (int.from_bytes(payload[i:i + pointer_size], "little")
              for i in range(len(payload) - pointer_size + 1))
    return tuple(dict.fromkeys(v for v in values if v >= 0x10000))


class _Plan:
    """How the records of one (GUID, number) become messages, worked out once: the TMF entry, a single struct
    layout for its arguments when they all have a fixed size, and where each catalog argument comes from.
    With a layout, a message's arguments are ``unpack(payload)``, passed through ``convert`` when it is set
    (enum names, catalog conversions, another order); otherwise ``arguments(payload)``."""

    __slots__ = ("message", "pointer_size", "layout", "enums", "catalog_id", "picks", "unpack", "convert", "steps",
                 "function", "level", "render")
    inferred = general = False

    def __init__(self, message: TmfMessage | None, catalog, pointer_size: int):
        self.message, self.pointer_size, self.layout, self.enums = message, pointer_size, None, ()
        self.catalog_id = self.picks = self.unpack = self.convert = self.steps = self.function = self.level = None
        self.render = self._render  # one bound method for every message of this plan
        if message is None:
            return
        self.function, self.level = message.function, message.level
        self.layout = _fixed_layout(message.args, pointer_size)
        self.enums = tuple((i, a) for i, a in enumerate(message.args) if a.item_type.startswith(("ItemList", "ItemSet")))
        match = catalog.match_format(message.format, message.function)
        position = {a.number: i for i, a in enumerate(message.args)}
        # typed only when every hole of the framework message is one of the TMF entry's arguments
        if match is not None and all(n in position for n in match[1]):
            entry, numbers = match
            self.catalog_id = entry.id
            self.picks = tuple((hole, position[n]) for hole, n in zip(entry.holes, numbers))
        if self.layout is not None:
            self.unpack = self.layout.unpack_from
            self.steps = self._steps(message.args)
            self.convert = _converter(self.steps, len(message.args))

    def _steps(self, args: tuple[TmfArg, ...]) -> tuple:
        """Per argument of the message: the index of its unpacked value and the conversion it needs (None when
        taken as it is): enum names looked up through a memo, catalog conversions of the printed value."""
        steps = []
        for hole, i in self.picks if self.picks is not None else ((None, i) for i in range(len(args))):
            arg = args[i]
            if arg.item_type.startswith(("ItemList", "ItemSet")):
                steps.append((i, _Memo(partial(_enum_catalog_value, hole, arg)).__getitem__))
            elif hole is not None and _FIXED.get(arg.item_type) in ("b", "h", "i", "q") and \
                    hole[-1:] in ("x", "X", "p", "o"):  # a negative value printed in hex is masked
                steps.append((i, partial(_catalog_value, hole)))
            else:
                steps.append((i, None))
        return tuple(steps)

    def decode(self, payload: bytes) -> list | None:
        """The argument values, or None when the payload does not hold them."""
        if self.message is None:
            return None
        if self.layout is not None and len(payload) >= self.layout.size:
            values = list(self.layout.unpack_from(payload))
            for i, arg in self.enums:
                values[i] = _enum_text(arg, values[i])
            return values
        try:
            return decode_args(self.message, payload, self.pointer_size)
        except WppError:
            return None

    def arguments(self, payload: bytes) -> tuple | None:
        """The message's arguments (catalog order and types for a framework message), None when the payload
        does not hold them."""
        values = self.decode(payload)
        if values is None:
            return None
        if self.picks is None:
            return tuple(values)
        return tuple([_catalog_value(hole, None if i is None else values[i]) for hole, i in self.picks])

    def _render(self, payload: bytes) -> str:
        return render(self.message, self.decode(payload), self.pointer_size)


def _converter(steps: tuple, count: int):
    """The function turning a layout's unpacked values into a message's arguments, as ``steps`` say (None when
    the arguments are the values themselves). Generated as one expression, like collections.namedtuple does,
    from indexes and the step functions only: a call per message instead of a loop over its arguments."""
    if all(convert is None for _, convert in steps) and [i for i, _ in steps] == list(range(count)):
        return None
    names = {f"c{k}": convert for k, (_, convert) in enumerate(steps) if convert is not None}
    items = "".join(f"v[{i}], " if convert is None else f"c{k}(v[{i}]), " for k, (i, convert) in enumerate(steps))
    return eval(f"lambda v: ({items})", names)  # noqa: S307 - the text holds only integers and generated names


class _Recognized:
    """The records of one (GUID, number) that no TMF covers but recognition matched to a catalog entry by
    payload shape (same interface as :class:`_Plan`)."""

    __slots__ = ("entry", "pointer_size", "catalog_id", "function", "level", "general", "render")
    unpack = convert = None
    inferred = True

    def __init__(self, entry, general: bool, catalog, pointer_size: int):
        self.entry, self.general, self.pointer_size = entry, general, pointer_size
        self.catalog_id, self.function, self.level = entry.id, catalog.function_of(entry), entry.level
        self.render = self._render

    def arguments(self, payload: bytes) -> tuple | None:
        from parsers.recognize import decode

        return decode(self.entry, payload, self.pointer_size)

    def _render(self, payload: bytes) -> str:
        return catalog_module.render_entry(self.entry, self.arguments(payload), self.pointer_size)


class _Memo(dict):
    """Converted values of one argument, each converted once (a log repeats a few dozen enum values); at most
    MEMO_SIZE are kept, so a hostile log costs time, not memory."""

    __slots__ = ("convert",)

    def __init__(self, convert):
        super().__init__()
        self.convert = convert

    def __missing__(self, value):
        converted = self.convert(value)
        if len(self) < MEMO_SIZE:
            self[value] = converted
        return converted


MEMO_SIZE = 4096


def _enum_catalog_value(hole: str | None, arg: TmfArg, value: int):
    """An enum argument's value as the message's arguments hold it: its name (or printed form), converted
    for the catalog hole when there is one."""
    text = _enum_text(arg, value)
    return text if hole is None else _catalog_value(hole, text)


@lru_cache(maxsize=4096)
def _tmf_plan(message: TmfMessage | None, catalog, pointer_size: int) -> _Plan:
    """The plan of one TMF entry, shared by every log of a run (building one matches the catalog)."""
    return _Plan(message, catalog, pointer_size)


def _fixed_layout(args: tuple[TmfArg, ...], pointer_size: int) -> struct.Struct | None:
    """One little-endian struct for arguments that all have a fixed size (None when one does not)."""
    codes = []
    for arg in args:
        if arg.item_type == "ItemPtr":
            codes.append("Q" if pointer_size == 8 else "I")
        elif arg.item_type in _FIXED and not _FIXED[arg.item_type].startswith(">"):
            codes.append(_FIXED[arg.item_type])
        else:
            return None
    return struct.Struct("<" + "".join(codes))


def messages_from_ifr(log: IfrLog, tmf: TmfDatabase | None, source: str, catalog=None,
                      recognized=None) -> list[TraceMessage]:
    """One TraceMessage per IFR record, oldest first; framework messages carry catalog id and typed args.
    Records with no TMF entry use ``recognized`` (a parsers.recognize.RecognitionMap) when it knows their
    (GUID, number); those messages are marked ``inferred``. No text is formatted here: each message
    formats its own when its ``text`` is first read. Record times outside TIME_RANGE add a warning to the log."""
    times = TimeCheck(source)
    with gc_paused():
        messages = _messages(log.records, log, tmf, source, catalog or catalog_module.load(), recognized, times)
    log.warnings += times.warnings()
    return messages


def _messages(records, log: IfrLog, tmf: TmfDatabase | None, source: str, catalog, recognized,
              times: TimeCheck) -> list[TraceMessage]:
    """The messages of ``records`` (records of ``log``)."""
    pointer_size = 8 if log.header.arch == "x64" else 4
    # (id of the GUID object, number) -> what the loop reads of the plan (the walk shares GUID objects)
    plans: dict[tuple[int, int], tuple] = {}
    header_size, driver = log.header.header_size, log.header.driver_name
    out: list[TraceMessage] = []
    append = out.append
    first_time, end_time = FILETIME_RANGE
    last_micro = last_time = None  # consecutive records often share a clock tick (a datetime holds microseconds)
    message_type, ref_type, struct_error = TraceMessage, SourceRef, struct.error
    for record in records:
        offset, _version, _length, sequence, _prev, number, guid, filetime, payload = record
        key = (id(guid), number)
        plan = plans.get(key)
        if plan is None:
            found = _plan_of(guid, number, tmf, catalog, recognized, pointer_size)
            plan = plans[key] = (found.unpack, found.convert, found.arguments, found.function, found.catalog_id,
                                 found.level, found.inferred, found.general, found.render)
        unpack, convert, arguments, function, catalog_id, level, inferred, general, formatter = plan
        if filetime is not None and first_time <= filetime < end_time:
            micro = filetime // 10
            if micro != last_micro:
                last_micro, last_time = micro, FILETIME_EPOCH + timedelta(0, 0, micro)
            timestamp = last_time
        else:
            timestamp = times.checked(filetime_to_datetime(filetime) if filetime is not None else None,
                                      offset=header_size + offset)
        ref = ref_type(source, None, header_size + offset, sequence)
        if unpack is not None:
            try:
                args = unpack(payload)
            except struct_error:  # shorter than the layout
                args = None
            else:
                if convert is not None:
                    args = convert(args)
        else:
            args = arguments(payload)
        if args is None:
            append(message_type(ref, None, driver, sequence, timestamp, None, None, (), None, False, False, False,
                                pointer_values(payload, pointer_size), unknown_text, record))
        else:
            append(message_type(ref, None, driver, sequence, timestamp, function, catalog_id, args, level, True,
                                inferred, general, (), formatter, payload))
    return out


def ifr_messages(log: IfrLog, tmf: TmfDatabase | None, source: str, catalog=None,
                 recognized=None) -> IfrMessages:
    """The messages :func:`messages_from_ifr` gives, held as columns (:class:`IfrMessages`): the event table is
    filled from them without building a message; a message is built when read. Same warnings."""
    messages = IfrMessages(log, tmf, source, catalog or catalog_module.load(), recognized)
    log.warnings += messages.time_warnings
    return messages


_EPOCH_MICROSECONDS = (datetime(1970, 1, 1, tzinfo=timezone.utc) - FILETIME_EPOCH) // timedelta(microseconds=1)
_PAD = bytes(0x24)  # after the log area, so that every record header can be read whole (a v1 record has no time)


class IfrMessages(LazyMessages):
    """The messages of one walked IFR ring, each exactly as :func:`messages_from_ifr` makes it, held as columns
    read from the log area (record fields, a plan per (GUID, number)) and built when read. The records whose
    plan has no struct layout (strings, recognized messages) have their arguments decoded here, once; the
    others are decoded by :meth:`columns` for every log of an event table at once, a plan at a time."""

    def __init__(self, log: IfrLog, tmf: TmfDatabase | None, source: str, catalog, recognized):
        self.log, self.tmf, self.source, self.catalog, self.recognized = log, tmf, source, catalog, recognized
        self.pointer_size = 8 if log.header.arch == "x64" else 4
        self.n = len(log.offsets)
        self.area = log.area + _PAD
        self.offsets = np.array(log.offsets, dtype=np.int64)
        self.lengths = field_at(self.area, self.offsets + 2, "<u2").astype(np.int64)
        self.payloads = np.where(field_at(self.area, self.offsets, "<u2") == SIGNATURE_V2, RECORD_SIZES[SIGNATURE_V2],
                                 RECORD_SIZES[SIGNATURE_V1]) + self.offsets  # where each payload starts
        self.plans, self.plan_codes = self._plans()
        sizes = np.array([-1 if plan.unpack is None else plan.layout.size for plan in self.plans], dtype=np.int64)
        self.known = self.lengths - (self.payloads - self.offsets) >= sizes[self.plan_codes]  # as unpack would find
        self.arguments: dict[int, tuple] = {}  # row -> arguments, for the plans with no layout
        for code in np.flatnonzero(sizes < 0).tolist():
            plan = self.plans[code]
            for row in np.flatnonzero(self.plan_codes == code).tolist():
                args = plan.arguments(self._payload(row))
                self.known[row] = args is not None
                if args is not None:
                    self.arguments[row] = args
        self.filetimes = np.where(self.payloads - self.offsets == RECORD_SIZES[SIGNATURE_V2],
                                  field_at(self.area, self.offsets + 0x1C, "<u8"), 0)  # 0: none (v1)
        self.time_warnings = self._check_times()

    def __len__(self) -> int:
        return self.n

    def _payload(self, row: int) -> bytes:
        start = int(self.payloads[row])
        return self.area[start:int(self.offsets[row] + self.lengths[row])]

    def _plans(self) -> tuple[list, np.ndarray]:
        """The plan of every (GUID, number) of the log and each record's index into them."""
        keys, codes = message_keys(self.log)
        return [_plan_of(guid, number, self.tmf, self.catalog, self.recognized, self.pointer_size)
                for guid, number in keys], codes

    def _check_times(self) -> list[EvidenceWarning]:
        """The warning :class:`TimeCheck` gives for the record times outside TIME_RANGE."""
        times = TimeCheck(self.source)
        first, end = FILETIME_RANGE
        outside = np.flatnonzero((self.filetimes != 0) & ((self.filetimes < first) | (self.filetimes >= end)))
        for row in outside.tolist():
            times.checked(filetime_to_datetime(int(self.filetimes[row])),
                          offset=self.log.header.header_size + int(self.offsets[row]))
        return times.warnings()

    def counts(self) -> tuple[int, int]:
        """(messages with no format, messages recognized by shape)."""
        inferred = np.array([plan.inferred for plan in self.plans], dtype=bool)[self.plan_codes]
        return int(self.n - self.known.sum()), int((inferred & self.known).sum())

    def _build(self, rows: list[int]) -> list[TraceMessage]:
        log = self.log
        with gc_paused():
            return _messages([read_record(log.area, log.offsets[i]) for i in rows], log, self.tmf, self.source,
                             self.catalog, self.recognized, TimeCheck(self.source))

    @classmethod
    def columns(cls, parts: list[IfrMessages]) -> MessageColumns:
        """The columns of every message of ``parts`` (at least one): the record fields of every log at once, the
        arguments of every plan's records at once (a numpy struct view of their payloads)."""
        sizes = np.array([p.n for p in parts], dtype=np.int64)
        n, part_of = int(sizes.sum()), np.repeat(np.arange(len(parts)), sizes)
        area = b"".join(p.area for p in parts)
        bases = np.repeat(np.cumsum([0] + [len(p.area) for p in parts[:-1]]), sizes)
        offsets = np.concatenate([p.offsets for p in parts])
        payloads = np.concatenate([p.payloads for p in parts]) + bases  # where each payload starts in ``area``
        known = np.concatenate([p.known for p in parts])
        plans: list = []  # plans are shared across logs (_tmf_plan): each distinct one decodes its rows once
        index: dict[int, int] = {}
        codes = []
        for p in parts:
            lookup = []
            for plan in p.plans:
                if id(plan) not in index:
                    index[id(plan)] = len(plans)
                    plans.append(plan)
                lookup.append(index[id(plan)])
            codes.append(np.array(lookup, dtype=np.int64)[p.plan_codes])
        plan_codes = np.where(known, np.concatenate(codes), -1)  # -1: no arguments, an unknown message
        blocks = []
        starts = np.cumsum(np.concatenate(([0], sizes)))
        order = np.argsort(plan_codes, kind="stable")
        bounds = np.searchsorted(plan_codes[order], np.arange(-1, len(plans) + 1))
        for code in range(-1, len(plans)):
            rows = order[bounds[code + 1]:bounds[code + 2]]
            if not len(rows):
                continue
            if code < 0:
                blocks.append((None, rows, [()] * len(rows)))
                continue
            plan = plans[code]
            if plan.unpack is None:
                args = [parts[k].arguments[row - int(starts[k])] for k, row in zip(part_of[rows].tolist(), rows.tolist())]
            else:
                args = ArgColumns(_argument_columns(plan, area, payloads[rows]))
            blocks.append((plan.catalog_id, rows, args))
        mentions = np.empty(n, dtype=object)
        mentions.fill(())
        for k, p in enumerate(parts):  # a message with no format: a RAW row, whose text the table reads anyway
            unknown = np.flatnonzero(~p.known).tolist()
            for row, message in zip(unknown, p.take(unknown) if unknown else ()):
                mentions[starts[k] + row] = message.pointers
        levels = [plan.level for plan in plans] + [None]
        level_values = list(dict.fromkeys(v for v in levels if v is not None))
        level_codes = np.array([-1 if v is None else level_values.index(v) for v in levels], dtype=np.int64)
        flags = np.array([(plan.inferred, plan.general) for plan in plans] + [(False, False)], dtype=bool)
        filetimes = np.concatenate([p.filetimes for p in parts])
        first, end = FILETIME_RANGE
        in_range = (filetimes >= first) & (filetimes < end)
        timestamps = np.where(in_range, (filetimes // 10).astype(np.int64) - _EPOCH_MICROSECONDS, 0) * 1000
        timestamps[~in_range] = NAT_NS
        header_sizes = np.array([p.log.header.header_size for p in parts], dtype=np.int64)[part_of]
        sequences = field_at(area, offsets + bases + 4, "<i4").astype(np.int64)
        no = np.zeros(n, dtype=bool)
        return MessageColumns(
            messages=list(parts), log=_coded([p.log.header.driver_name for p in parts], part_of),
            file=_coded([p.source for p in parts], part_of), line=(np.zeros(n, dtype=np.int64), ~no),
            offset=(header_sizes + offsets, no), sequence=(sequences, no), timestamp=timestamps,
            level=Coded(level_codes[plan_codes], level_values), inferred=flags[plan_codes, 0],
            general=flags[plan_codes, 1], mentions=mentions, blocks=blocks)


def _coded(values: list, codes: np.ndarray) -> Coded:
    """A coded column from a value per code (values may repeat)."""
    distinct = list(dict.fromkeys(values))
    lookup = np.array([distinct.index(v) for v in values], dtype=np.int64)
    return Coded(lookup[codes] if len(codes) else codes, distinct)


def _argument_columns(plan: _Plan, area: bytes, starts: np.ndarray) -> list:
    """The arguments of the records of one plan whose payloads start at ``starts`` in ``area``, a column per
    argument (as ``plan.convert(plan.unpack(payload))`` would give them row by row): a numpy array, or a coded
    column where the argument is converted (each distinct value converted once)."""
    layout = _numpy_layout(plan.layout.format)
    if not layout.itemsize:  # a format with no arguments (whatever the payload holds)
        return []
    raw = np.frombuffer(area, dtype=np.uint8)[starts[:, None] + np.arange(layout.itemsize)]
    values = raw.view(layout).reshape(-1)
    columns = []
    for i, convert in plan.steps:
        column = values[f"f{i}"]
        if convert is None:
            columns.append(column.astype(column.dtype.newbyteorder("=")))
        else:
            distinct, codes = np.unique(column, return_inverse=True)
            columns.append(Coded(codes.reshape(-1), [convert(v) for v in distinct.tolist()]))
    return columns


_NUMPY_CODES = {"b": "i1", "B": "u1", "h": "<i2", "H": "<u2", "i": "<i4", "I": "<u4", "q": "<i8", "Q": "<u8",
                "d": "<f8"}


@lru_cache(maxsize=None)
def _numpy_layout(struct_format: str) -> np.dtype:
    """The numpy record type of a little-endian struct format of the codes _FIXED uses (fields f0, f1...)."""
    kinds = [_NUMPY_CODES[c] for c in struct_format.lstrip("<")]
    layout = np.dtype([(f"f{i}", k) for i, k in enumerate(kinds)])
    assert layout.itemsize == struct.calcsize(struct_format)
    return layout


def _plan_of(guid: uuid.UUID, number: int, tmf: TmfDatabase | None, catalog, recognized, pointer_size: int):
    """The plan for one (GUID, number): its TMF entry, else what recognition matched it to, else none."""
    message = tmf.lookup(guid, number) if tmf is not None else None
    if message is None and recognized is not None:
        recognition = recognized.get(guid, number)
        if recognition is not None:
            return _Recognized(catalog.entry(recognition.entry_id), recognition.general, catalog, pointer_size)
    return _tmf_plan(message, catalog, pointer_size)


class TimeCheck:
    """Record times outside :data:`TIME_RANGE` made unknown (None), with one warning per source naming
    the first of them."""

    def __init__(self, source: str):
        self.source = source
        self.outside = 0
        self.first: tuple[datetime, int | None, int | None] | None = None

    def checked(self, when: datetime | None, offset: int | None = None, line: int | None = None) -> datetime | None:
        """``when`` if timelines can hold it, else None (counted for the warning)."""
        if when is None or TIME_RANGE[0] <= when <= TIME_RANGE[1]:
            return when
        self.outside += 1
        if self.first is None or (line is not None and self.first[2] is not None and line < self.first[2]):
            self.first = (when, offset, line)  # lines: the first in the text, whatever order they were checked in
        return None

    def warnings(self) -> list[EvidenceWarning]:
        if not self.outside:
            return []
        when, offset, line = self.first
        return [EvidenceWarning(self.source, f"{self.outside} record time(s) outside {TIME_RANGE[0].year}.."
                                             f"{TIME_RANGE[1].year} (first: {when.isoformat()}) kept as unknown",
                                offset=offset, line=line)]


def _catalog_value(hole: str, value):
    """The value as the catalog's text matcher would return it for the same rendered text."""
    if isinstance(value, str) and hole not in _STRING_HOLES:
        return catalog_module.convert(hole, value)
    if isinstance(value, int) and value < 0 and hole[-1:] in ("x", "X", "p", "o"):
        return value & (0xFFFFFFFFFFFFFFFF if hole.startswith("I64") or hole == "p" else 0xFFFFFFFF)
    return value
