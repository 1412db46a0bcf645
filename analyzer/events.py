"""The event model: every message of every input becomes one row of one :class:`EventTable`.

A message is typed by the framework format string it was printed with (its catalog entry, see
:mod:`parsers.catalog`), never by substrings: the message table (:mod:`parsers.messages`) says which event
kind each framework message is and which argument fills which column. Framework messages not in the table
become ``FRAMEWORK`` (or ``FRAMEWORK_ERROR`` at error level and above); lines that are not framework
messages become ``RAW``. Nothing is dropped, and every row keeps its input, source reference and text.

The table is filled from messages as columns (parsers.records.MessageColumns): a parser that holds its messages
as columns (an IFR ring: parsers.wpp.IfrMessages) hands them over without building a message, the others' are
read an attribute at a time. Each block of rows of one catalog id gets its kind, level and argument fields with
numpy (arguments given as columns, or as a tuple per message), and the result is held as a pandas DataFrame with
typed columns (``EVENT_COLUMNS``); timelines and rules are queries over it.
``table[i]`` gives row ``i`` as an :class:`Event` for the few places (evidence lines, renderers) that look at
single events. A framework message's text is not in the frame: it is formatted when ``table[i].text`` or
:meth:`EventTable.text` reads it (see ``EventTable``).
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from itertools import chain, groupby
from operator import attrgetter, itemgetter
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from parsers import messages as message_table
from parsers.catalog import load as load_catalog
from parsers.gcpause import gc_paused
from parsers.columns import I64_END, I64_MIN, integers, nullable_int64
from parsers.records import ArgColumns, Coded, LazyMessages, MessageColumns, SourceRef, TraceMessage


class EventKind(str, Enum):
    STATE = "state"  # a state machine entered a new state (machine, state, from_state)
    DROPPED_EVENT = "dropped_event"  # a state machine dropped an event (machine, state, event, detail)
    QUEUE_POWER_STATE = "queue_power_state"  # WDFQUEUE power transition (queue, state)
    QUEUE_POWER_ACTION = "queue_power_action"  # Perform <stop/purge action> for all queues of WDFDEVICE
    QUEUES_RESUMED = "queues_resumed"  # Power resume / restart of all queues of WDFDEVICE
    QUEUE_POWER_STOP = "queue_power_stop"  # a queue starts powering off / purging (detail says which)
    QUEUE_WAITING_DRIVER = "queue_waiting_driver"  # power stop waits for the driver to complete/acknowledge
    QUEUE_POWERED_OFF = "queue_powered_off"  # queue powered off with no in-flight requests
    QUEUE_POWERED_ON = "queue_powered_on"  # queue powered on, I/O resumed
    QUEUE_WAITING = "queue_waiting"  # Waiting for N requests to complete (purge/drain/stop)
    QUEUE_CALLBACK = "queue_callback"  # queue idle/purged, driver callback called
    QUEUE_SHUTDOWN = "queue_shutdown"
    POWER_STOP_NOTIFY = "power_stop_notify"  # EvtIoStop called for a request (detail: stop/purge)
    POWER_RESUME_NOTIFY = "power_resume_notify"  # EvtIoResume called for a request
    REQUEST_QUEUED = "request_queued"
    REQUEST_PRESENTED = "request_presented"  # EvtIoRead/Write/DeviceControl/... called (detail)
    REQUEST_ACKNOWLEDGED = "request_acknowledged"  # WdfRequestStopAcknowledge (detail: with/without requeue)
    REQUEST_REQUEUED = "request_requeued"
    REQUEST_CANCELLED = "request_cancelled"
    REQUEST_COMPLETE_CALLED = "request_complete_called"  # the driver called WdfRequestComplete* (request, status)
    REQUEST_COMPLETED = "request_completed"  # (request, irp, information, status)
    REQUEST_COMPLETED_ON_ARRIVAL = "request_completed_on_arrival"  # the queue completed a new request itself
    REQUEST_NOT_OWNED = "request_not_owned"  # verifier: the driver used a request it does not own (request, status)
    COMPLETION_ERROR = "completion_error"  # double completion, completing a cancelable request, ...
    FRAMEWORK_ERROR = "framework_error"  # other framework message at error/fatal level
    FRAMEWORK = "framework"  # other framework message
    RAW = "raw"  # not a framework message (driver trace, unknown record, debugger noise)


HANDLE_FIELDS = ("device", "devobj", "queue", "request", "irp", "status", "information")  # nullable UInt64
NAME_FIELDS = ("machine", "state", "from_state", "event", "detail")
#: Columns of the event table, in order. ``input`` is the evidence file the row came from; ``file``/``line``/
#: ``offset`` point back into it (``file`` may name a part of the input, e.g. ``dump@0x5000``); ``text`` (object)
#: is the text of RAW rows and None for framework messages (their text: ``EventTable.text(i)``).
EVENT_COLUMNS = ("input", "log", "file", "line", "offset", "sequence", "timestamp", "kind", "text", "catalog_id",
                 "level", "inferred") + HANDLE_FIELDS + ("count",) + NAME_FIELDS + ("mentions",)
#: Columns with few distinct values, held as pandas categoricals (compared by code, stored once).
CATEGORY_COLUMNS = ("input", "log", "file", "kind", "catalog_id", "level") + NAME_FIELDS
ERROR_LEVELS = {"TRACE_LEVEL_ERROR", "TRACE_LEVEL_FATAL", "TRACE_LEVEL_CRITICAL"}  # trace levels of an error
_KINDS = {k.value: k for k in EventKind}


@dataclass(slots=True)
class Event:
    """One row of the event table. Fields that do not apply to the kind are None."""

    kind: EventKind
    index: int  # row number in the event table
    ref: SourceRef
    text: str
    input: str = ""
    log: str = ""
    sequence: int | None = None
    timestamp: datetime | None = None
    catalog_id: str | None = None
    level: str | None = None
    inferred: bool = False
    device: int | None = None
    devobj: int | None = None
    queue: int | None = None
    request: int | None = None
    irp: int | None = None
    machine: str | None = None
    state: str | None = None
    from_state: str | None = None
    event: str | None = None
    status: int | None = None
    information: int | None = None
    count: int | None = None
    detail: str | None = None
    mentions: tuple[int, ...] = ()  # unidentified record: pointer-sized values in its raw arguments


@lru_cache(maxsize=1)
def _specs_by_catalog_id() -> dict[str, tuple[str, tuple[str, ...], tuple]]:
    """catalog id -> (kind, argument fields, fixed fields) for every message of the message table."""
    catalog = load_catalog()
    by_format: dict[str, list] = {}
    for entry in catalog.entries:
        by_format.setdefault(entry.format, []).append(entry)
    table = {}
    for spec in message_table.table():
        entries = [e for e in by_format.get(spec.format, ()) if spec.function in (None, e.function)]
        if not entries:
            raise LookupError(f"message table format not in the framework catalog: {spec.format!r}")
        for entry in entries:
            table[entry.id] = (spec.kind, spec.fields, spec.fixed)
    return table


def kind_of(message: TraceMessage) -> EventKind:
    """The event kind one message becomes."""
    facts = _catalog_facts(message.catalog_id)
    return _KINDS[facts.kind if facts.kind is not None else _kind_by_level(message.level)]


def _kind_by_level(level: str | None) -> str:
    return EventKind.FRAMEWORK_ERROR.value if level in ERROR_LEVELS else EventKind.FRAMEWORK.value


@dataclass(frozen=True, slots=True)
class _CatalogFacts:
    """What every message of one catalog id shares: its kind (None: by each message's level, for an id the
    catalog does not hold), the catalog's level, the argument fields and fixed fields of the message table."""

    kind: str | None
    level: str | None
    fields: tuple[str, ...] = ()
    fixed: tuple = ()


@lru_cache(maxsize=None)
def _catalog_facts(catalog_id: str | None) -> _CatalogFacts:
    if catalog_id is None:
        return _CatalogFacts(EventKind.RAW.value, None)
    entry = load_catalog().by_id.get(catalog_id)
    spec = _specs_by_catalog_id().get(catalog_id)
    level = entry.level if entry else None
    if spec is not None:
        return _CatalogFacts(spec[0], level, spec[1], spec[2])
    return _CatalogFacts(_kind_by_level(level) if entry else None, level)


_U64 = 1 << 64


class _Coded:
    """A categorical column being filled: a code per row into ``values`` (-1: None); values may repeat."""

    def __init__(self, codes: np.ndarray, values=()):
        self.codes = codes
        self.values = list(values)
        self.index = {v: i for i, v in enumerate(self.values)}

    def code(self, value) -> int:
        if value is None:
            return -1
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code

    def set(self, rows: np.ndarray, value) -> None:
        """Give ``rows`` the one value ``value``."""
        self.codes[rows] = self.code(value)

    def assign(self, rows: np.ndarray, codes: np.ndarray, values: list) -> None:
        """Give ``rows`` the values of a coded column (``values[codes[k]]`` for row ``rows[k]``)."""
        lookup = np.array([self.code(v) for v in values] + [-1], dtype=np.int64)
        self.codes[rows] = lookup[codes]

    def at(self, rows: np.ndarray) -> tuple[np.ndarray, list]:
        """The values of ``rows`` as a coded column of their distinct codes (code -1: None)."""
        codes, inverse = np.unique(self.codes[rows], return_inverse=True)
        return inverse.reshape(-1), [None if c < 0 else self.values[c] for c in codes.tolist()]

    def categorical(self) -> pd.Categorical:
        """The column as ``pd.Categorical(values)`` makes it: the values present, sorted."""
        used = np.bincount(self.codes[self.codes >= 0], minlength=len(self.values)) > 0
        present = sorted({v for v, u in zip(self.values, used.tolist()) if u})
        position = {v: k for k, v in enumerate(present)}
        lookup = np.array([position[v] if u else -1 for v, u in zip(self.values, used.tolist())] + [-1], dtype=np.int64)
        return pd.Categorical.from_codes(lookup[self.codes], categories=pd.Index(np.array(present, dtype=object)))


class _Builder:
    """The columns of the event table from messages as columns (parsers.records.MessageColumns): each block of
    rows of one catalog id gets its kind, level and argument fields with numpy (no per-row work but the arguments
    the block holds as tuples)."""

    def __init__(self, columns: MessageColumns):
        self.columns = columns
        self.n = n = len(columns.inferred)
        self.messages = columns.messages[0] if len(columns.messages) == 1 else _Chain(columns.messages)
        self.catalog = _Coded(np.full(n, -1, dtype=np.int64))
        self.handles = {name: (np.zeros(n, dtype=np.uint64), np.ones(n, dtype=bool)) for name in HANDLE_FIELDS}
        self.count = (np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        self.names = {name: _Coded(np.full(n, -1, dtype=np.int64)) for name in NAME_FIELDS}
        self.levels = _Coded(np.array(columns.level.codes, dtype=np.int64), columns.level.values)
        self.kinds = _Coded(np.full(n, -1, dtype=np.int64))
        self.texts = np.full(n, None, dtype=object)

    def fill(self) -> None:
        """Catalog id, kind, level and argument fields of every row, one block at a time."""
        for catalog_id, rows, args in self.columns.blocks:
            self.catalog.set(rows, catalog_id)
            self._group(rows, _catalog_facts(catalog_id), args)

    def _group(self, rows: np.ndarray, facts: _CatalogFacts, args) -> None:
        if facts.kind == EventKind.RAW.value:  # not a framework message: its text is all a rule can read
            self.texts[rows] = [m.text for m in _take(self.messages, rows.tolist())]
        if facts.kind is None:  # an id the catalog does not hold: kind by each message's own level
            codes, levels = self.levels.at(rows)
            self.kinds.assign(rows, codes, [_kind_by_level(lv) for lv in levels])
        else:
            self.kinds.set(rows, facts.kind)
        if facts.level is not None:  # a message's own level, when it has one, wins
            given = np.array([bool(v) for v in self.levels.values] + [False])[self.levels.codes[rows]]
            self.levels.set(rows[~given], facts.level)
        if facts.fields:
            self._fields(rows, facts.fields, args)
        for name, value in facts.fixed:
            self._set(name, rows, [value] * len(rows), fixed=True)
        if facts.fields:
            general = self.columns.general[rows]
            if general.any():  # recognized as the general form: the variant's own facts are not known
                self.names["detail"].set(rows[general], "reason not known without the TMF")
            if facts.kind == EventKind.REQUEST_ACKNOWLEDGED.value:  # "with requeue" / "without requeue"
                codes, details = self.names["detail"].at(rows)
                self.names["detail"].assign(rows, codes, [f"{d} requeue" for d in details])

    def _fields(self, rows: np.ndarray, fields: tuple[str, ...], args) -> None:
        """The argument fields of one block's rows, a field at a time."""
        shortest = len(args) if isinstance(args, ArgColumns) else min(map(len, args))
        for position, name in enumerate(fields):
            if name == "_":
                continue
            if isinstance(args, ArgColumns):
                values = args[position] if position < shortest else [None] * len(rows)
            elif position < shortest:
                values = list(map(itemgetter(position), args))
            else:  # fewer arguments than fields (a damaged payload): the missing ones stay unknown
                values = [a[position] if len(a) > position else None for a in args]
            self._set(name, rows, values)

    def _set(self, name: str, rows: np.ndarray, values, fixed: bool = False) -> None:
        """One field of ``rows`` from a list, a numpy array or a coded column of their values."""
        if name in self.names:  # a name: its text (fixed values as the message table gives them)
            if isinstance(values, Coded):
                codes, distinct = values
            elif isinstance(values, np.ndarray) and values.dtype.kind in "iu":
                distinct, codes = np.unique(values, return_inverse=True)
                codes, distinct = codes.reshape(-1), distinct.tolist()
            else:
                values = values.tolist() if isinstance(values, np.ndarray) else values
                if not fixed and not set(map(type, values)) <= {str}:  # as text before telling values apart
                    values = [None if v is None else str(v) for v in values]
                codes, distinct = pd.factorize(np.asarray(values, dtype=object))
                distinct = distinct.tolist()
            if not fixed and not set(map(type, distinct)) <= {str}:
                distinct = [None if v is None else str(v) for v in distinct]
            self.names[name].assign(rows, codes, distinct)
            return
        data, missing = self.handles[name] if name in HANDLE_FIELDS else self.count
        if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
            keep = _in_range(values, data.dtype)
            data[rows[keep]], missing[rows] = values[keep], ~keep
            return
        if isinstance(values, Coded):
            values = np.array(values.values + [None], dtype=object)[values.codes].tolist()
        elif isinstance(values, np.ndarray):
            values = values.tolist()
        low, end = (0, _U64) if name in HANDLE_FIELDS else (I64_MIN, I64_END)
        numbers = integers(values, data.dtype)
        if numbers is not None:
            data[rows], missing[rows] = numbers, False
            return
        # not all integers in range (damaged evidence): each value that is one is kept
        keep = np.array([isinstance(v, int) and low <= v < end for v in values], dtype=bool)
        data[rows[keep]] = [int(v) for v, k in zip(values, keep.tolist()) if k]
        missing[rows] = ~keep

    def frame(self, inputs: list[tuple[str, int]]) -> pd.DataFrame:
        c = self.columns
        names = sorted({name for name, _ in inputs})
        input_codes = np.repeat(np.array([names.index(name) for name, _ in inputs], dtype=np.int64),
                                [count for _, count in inputs])
        columns = {
            "input": pd.Categorical.from_codes(input_codes, categories=pd.Index(names)),
            "log": _Coded(c.log.codes, c.log.values).categorical(),
            "file": _Coded(c.file.codes, c.file.values).categorical(),
            "line": pd.arrays.IntegerArray(*c.line),
            "offset": pd.arrays.IntegerArray(*c.offset),
            "sequence": pd.arrays.IntegerArray(*c.sequence),
            "timestamp": pd.Series(pd.DatetimeIndex(c.timestamp.view("datetime64[ns]")).tz_localize("UTC")),
            "kind": self.kinds.categorical(),
            "text": pd.Series(self.texts, dtype=object),
            "catalog_id": self.catalog.categorical(),
            "level": self.levels.categorical(),
            "inferred": c.inferred,
            "count": pd.arrays.IntegerArray(*self.count),
            "mentions": pd.Series(c.mentions, dtype=object),
        }
        for name, (data, missing) in self.handles.items():
            columns[name] = pd.arrays.IntegerArray(data, missing)
        for name, values in self.names.items():
            columns[name] = values.categorical()
        return pd.DataFrame({name: columns[name] for name in EVENT_COLUMNS}, columns=list(EVENT_COLUMNS))


def _in_range(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Which integers of ``values`` ``dtype`` (uint64 or int64) holds."""
    if dtype == np.uint64:
        return values >= 0 if values.dtype.kind == "i" else np.ones(len(values), dtype=bool)
    return values < I64_END if values.dtype == np.uint64 else np.ones(len(values), dtype=bool)


class _Chain(Sequence):
    """Sequences of messages read as one."""

    def __init__(self, parts: list):
        self.parts = parts
        self.starts = np.cumsum([0] + [len(p) for p in parts]).tolist()

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, index: int):
        k = bisect_right(self.starts, index) - 1
        return self.parts[k][index - self.starts[k]]

    def take(self, rows: list[int]) -> list:
        """The messages of ``rows``, each part's taken together."""
        out = [None] * len(rows)
        part_of = np.searchsorted(self.starts, rows, side="right") - 1
        for k in np.unique(part_of).tolist():
            places = np.flatnonzero(part_of == k).tolist()
            for place, message in zip(places, _take(self.parts[k], [rows[p] - self.starts[k] for p in places])):
                out[place] = message
        return out


def _take(messages: Sequence, rows: list[int]) -> list:
    """The messages of ``rows`` of a list, a chain or a parser's lazily built messages (built together)."""
    if isinstance(messages, (LazyMessages, _Chain)):
        return messages.take(rows)
    return [messages[i] for i in rows]


def message_columns(messages: list[TraceMessage]) -> MessageColumns:
    """The columns of a list of messages (what a parser that builds its messages hands over)."""
    n = len(messages)
    refs = _attribute(messages, "ref")
    catalog_codes, catalog_ids = pd.factorize(np.array(_attribute(messages, "catalog_id"), dtype=object), sort=True)
    order = np.argsort(catalog_codes, kind="stable")
    bounds = np.searchsorted(catalog_codes[order], np.arange(-1, len(catalog_ids) + 1))
    args = np.fromiter(_attribute(messages, "args"), dtype=object, count=n)  # an array of tuples
    blocks = []
    for code in range(-1, len(catalog_ids)):
        rows = order[bounds[code + 1]:bounds[code + 2]]
        if len(rows):
            blocks.append((None if code < 0 else catalog_ids[code], rows, args[rows].tolist()))
    return MessageColumns(
        messages=[messages], log=_factorized(_attribute(messages, "log")), file=_factorized(_attribute(refs, "file")),
        line=nullable_int64(_attribute(refs, "line")), offset=nullable_int64(_attribute(refs, "offset")),
        sequence=nullable_int64(_attribute(messages, "sequence")), timestamp=_timestamps(_attribute(messages, "timestamp")),
        level=_factorized(_attribute(messages, "level")),
        inferred=np.fromiter(_attribute(messages, "inferred"), dtype=bool, count=n),
        general=np.fromiter(_attribute(messages, "general"), dtype=bool, count=n),
        mentions=np.fromiter(_attribute(messages, "pointers"), dtype=object, count=n), blocks=blocks)


def _joined(parts: list[MessageColumns]) -> MessageColumns:
    """Columns of several inputs one after the other."""
    if len(parts) == 1:
        return parts[0]
    starts = np.cumsum([0] + [len(p.inferred) for p in parts]).tolist()

    def coded(name: str) -> Coded:
        values, codes = [], []
        for p in parts:
            column = getattr(p, name)
            codes.append(np.where(column.codes >= 0, column.codes + len(values), -1))
            values += column.values
        return Coded(np.concatenate(codes), values)

    def pair(name: str) -> tuple:
        return tuple(np.concatenate([getattr(p, name)[k] for p in parts]) for k in (0, 1))

    def array(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return MessageColumns(
        messages=[m for p in parts for m in p.messages], log=coded("log"), file=coded("file"), line=pair("line"),
        offset=pair("offset"), sequence=pair("sequence"), timestamp=array("timestamp"), level=coded("level"),
        inferred=array("inferred"), general=array("general"), mentions=array("mentions"),
        blocks=[(c, rows + start, args) for p, start in zip(parts, starts) for c, rows, args in p.blocks])


def _attribute(items: list, name: str) -> list:
    """One attribute of every item."""
    return list(map(attrgetter(name), items))


def _factorized(values: list) -> Coded:
    """A coded column of a list of values."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    return Coded(codes.astype(np.int64), distinct.tolist())


def _timestamps(values: list) -> np.ndarray:
    """Nanoseconds since 1970 UTC (NaT: None and times a ``datetime64[ns]`` cannot hold) of aware datetimes. Each
    run of one object (the records of one clock tick share their datetime) is converted once."""
    ids = np.fromiter(map(id, values), dtype=np.uintp, count=len(values))
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))[:len(values)]
    distinct = [values[i] for i in starts.tolist()]
    try:
        converted = pd.DatetimeIndex(distinct, tz="UTC").as_unit("ns")
    except (TypeError, ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):  # a value of another kind
        converted = pd.DatetimeIndex([_timestamp(v) for v in distinct], dtype="datetime64[ns, UTC]")
    runs = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(values))))
    return converted.asi8.take(runs) if len(values) else np.zeros(0, dtype=np.int64)


def _timestamp(value) -> pd.Timestamp:
    """One value as a UTC time in nanoseconds (naive: taken as UTC); NaT when it is none or out of range."""
    try:
        when = pd.Timestamp(value)
        return (when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")).as_unit("ns")
    except (TypeError, ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.NaT


class EventTable:
    """Every event of a triage, in evidence order, as one DataFrame (``frame``) with typed columns:
    handles and statuses nullable ``UInt64`` (kernel pointers do not fit int64), line/offset/sequence/count
    nullable ``Int64``, ``timestamp`` ``datetime64[ns, UTC]``, names categorical or object.

    ``text`` (object) holds the text of ``RAW`` rows, the messages that are not framework messages (a rule can
    only read their text); it is None for framework messages, which rules read by their typed columns. Every
    row's text is given by :meth:`text` and ``table[i].text``: a table keeps its messages (those a parser holds
    as columns are built when read), and a message's text is formatted the first time it is read
    (parsers.records.TraceMessage), so building the table formats nothing a report does not show."""

    def __init__(self, frame: pd.DataFrame, messages: Sequence[TraceMessage] | None = None):
        self.frame = frame
        self._messages = messages
        self._readers: dict | None = None

    @classmethod
    def from_messages(cls, inputs: Iterable[tuple[str, Iterable[TraceMessage]]]) -> "EventTable":
        """The table of every message of every (input name, messages) pair. Messages a parser holds as columns
        (parsers.records.LazyMessages) are read as columns, each run of inputs of one kind at once; the others
        are read a column at a time from the messages."""
        parts, counts = [], []
        for input_name, msgs in inputs:
            if not isinstance(msgs, (list, LazyMessages)):
                msgs = list(msgs)
            parts.append(msgs)
            counts.append((input_name, len(msgs)))
        with gc_paused():
            columns = []
            for kind, run in groupby(parts, key=lambda p: type(p) if isinstance(p, LazyMessages) else list):
                run = list(run)
                columns.append(message_columns(list(chain.from_iterable(run))) if kind is list else kind.columns(run))
            return cls.from_columns(_joined(columns) if columns else message_columns([]), counts)

    @classmethod
    def from_columns(cls, columns: MessageColumns, inputs: list[tuple[str, int]]) -> "EventTable":
        """The table of messages handed over as columns; ``inputs`` are (input name, row count) in order."""
        with gc_paused():
            builder = _Builder(columns)
            builder.fill()
            return cls(builder.frame(inputs), builder.messages)

    def __len__(self) -> int:
        return len(self.frame)

    def text(self, index: int) -> str:
        """The text of row ``index`` (formatted now if it never was)."""
        if self._messages is not None:
            return self._messages[index].text
        return _python(self.frame["text"].array[index])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return self._row(index)

    def __iter__(self) -> Iterator[Event]:
        """Every row as an :class:`Event`, read as ``table[i]`` is (nothing converted for rows not reached)."""
        return map(self._row, range(len(self)))

    def _row(self, index: int) -> Event:
        if self._readers is None:  # each column taken apart once: a row is then read without pandas
            self._readers = {name: _reader(self.frame[name]) for name in EVENT_COLUMNS}
        readers = self._readers
        return self._event(index, lambda name: readers[name](index))

    def _event(self, index: int, value) -> Event:
        """Row ``index`` as an Event; ``value(name)`` reads one of its frame columns."""
        v = {name: value(name) for name in _FRAME_ONLY}
        message = self._messages[index] if self._messages is not None else None
        if message is not None:
            ref, text, log, sequence = message.ref, message.text, message.log, message.sequence
            timestamp, inferred, mentions = message.timestamp, message.inferred, message.pointers
        else:
            v.update((name, value(name)) for name in _MESSAGE_COLUMNS)
            ref = SourceRef(file=v["file"], line=v["line"], offset=v["offset"], sequence=v["sequence"])
            text, log, sequence, timestamp = v["text"], v["log"], v["sequence"], v["timestamp"]
            inferred, mentions = v["inferred"], v["mentions"]
        return Event(kind=_KINDS[v["kind"]], index=index, ref=ref, text=text, input=v["input"], log=log,
                     sequence=sequence, timestamp=timestamp, catalog_id=v["catalog_id"], level=v["level"],
                     inferred=bool(inferred), mentions=tuple(mentions or ()),
                     **{name: v[name] for name in HANDLE_FIELDS + NAME_FIELDS + ("count",)})


#: The columns an Event takes from the frame even when the table keeps its messages (the others are the
#: messages' own attributes).
_FRAME_ONLY = ("input", "kind", "catalog_id", "level") + HANDLE_FIELDS + NAME_FIELDS + ("count",)
_MESSAGE_COLUMNS = tuple(name for name in EVENT_COLUMNS if name not in _FRAME_ONLY)


def _reader(column: pd.Series):
    """row number -> the Python value of ``column`` there (as :func:`_python` gives it), with the column's
    arrays taken apart once: reading one cell through pandas costs tens of microseconds."""
    array = column.array
    if isinstance(column.dtype, pd.CategoricalDtype):
        names = column.cat.categories.tolist() + [None]  # code -1 (missing) reads the trailing None
        codes = array.codes
        return lambda i: names[codes[i]]
    if isinstance(array, pd.arrays.IntegerArray):
        data, mask = array._data, array._mask
        return lambda i: None if mask[i] else int(data[i])
    return lambda i: _python(array[i])


def _python(value):
    """A frame cell as a Python value: None where missing, ints, datetimes, str."""
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, (str, tuple)):
        return value
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
