"""The event model: every message of every input becomes one row of one :class:`EventTable`.

A message is typed by the framework format string it was printed with (its catalog entry, see
:mod:`parsers.catalog`), never by substrings: the message table (:mod:`parsers.messages`) says which event
kind each framework message is and which argument fills which column. Framework messages not in the table
become ``FRAMEWORK`` (or ``FRAMEWORK_ERROR`` at error level and above); lines that are not framework
messages become ``RAW``. Nothing is dropped, and every row keeps its input, source reference and text.

The table is filled column by column from the parsers' messages (grouped by catalog id once: each group's
kind, level and argument fields are set with numpy, no per-row work but reading the messages' attributes) and
held as a pandas DataFrame with typed columns (``EVENT_COLUMNS``); timelines and rules are queries over it.
``table[i]`` gives row ``i`` as an :class:`Event` for the few places (evidence lines, renderers) that look at
single events. A framework message's text is not in the frame: it is formatted when ``table[i].text`` or
:meth:`EventTable.text` reads it (see ``EventTable``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from parsers import messages as message_table
from parsers.catalog import load as load_catalog
from parsers.gcpause import gc_paused
from parsers.records import SourceRef, TraceMessage


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
_ERROR_LEVELS = {"TRACE_LEVEL_ERROR", "TRACE_LEVEL_FATAL", "TRACE_LEVEL_CRITICAL"}
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
    return EventKind.FRAMEWORK_ERROR.value if level in _ERROR_LEVELS else EventKind.FRAMEWORK.value


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


_U64, _I64_MIN, _I64_END = 1 << 64, -(1 << 63), 1 << 63


class _Builder:
    """The columns of the event table from a list of messages, a column at a time: messages are grouped by
    catalog id once, and each group's argument fields are filled with numpy (no per-row dictionaries)."""

    def __init__(self, messages: list[TraceMessage]):
        self.messages = messages
        self.n = n = len(messages)
        self.catalog_codes, self.catalog_ids = pd.factorize(np.array(_attribute(messages, "catalog_id"), dtype=object),
                                                            sort=True)
        self.facts = [_catalog_facts(c) for c in self.catalog_ids]
        self.handles = {name: (np.zeros(n, dtype=np.uint64), np.ones(n, dtype=bool)) for name in HANDLE_FIELDS}
        self.count = (np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        self.names = {name: np.full(n, None, dtype=object) for name in NAME_FIELDS}
        self.levels = np.array(_attribute(messages, "level"), dtype=object)
        self.kinds = np.full(n, None, dtype=object)
        self.texts = np.full(n, None, dtype=object)
        self.general = np.fromiter(_attribute(messages, "general"), dtype=bool, count=n)

    def fill(self) -> None:
        """Kind, level and argument fields of every row, one catalog id at a time."""
        order = np.argsort(self.catalog_codes, kind="stable")
        bounds = np.searchsorted(self.catalog_codes[order], np.arange(-1, len(self.catalog_ids) + 1))
        args = np.fromiter(_attribute(self.messages, "args"), dtype=object, count=self.n)  # an array of tuples
        for code in range(-1, len(self.catalog_ids)):
            rows = order[bounds[code + 1]:bounds[code + 2]]
            if len(rows):
                self._group(rows, _catalog_facts(None) if code < 0 else self.facts[code], args[rows].tolist())

    def _group(self, rows: np.ndarray, facts: _CatalogFacts, args: list[tuple]) -> None:
        messages = self.messages
        if facts.kind == EventKind.RAW.value:  # not a framework message: its text is all a rule can read
            self.texts[rows] = [messages[i].text for i in rows.tolist()]
        if facts.kind is None:  # an id the catalog does not hold: kind by each message's own level
            self.kinds[rows] = [_kind_by_level(lv) for lv in self.levels[rows].tolist()]
        else:
            self.kinds[rows] = facts.kind
        if facts.level is not None:
            given = self.levels[rows].astype(bool)  # a message's own level, when it has one, wins
            self.levels[rows[~given]] = facts.level
        if facts.fields:
            self._fields(rows, facts.fields, args)
        for name, value in facts.fixed:
            self._set(name, rows, [value] * len(rows), fixed=True)
        if facts.fields:
            general = self.general[rows]
            if general.any():  # recognized as the general form: the variant's own facts are not known
                self.names["detail"][rows[general]] = "reason not known without the TMF"
            if facts.kind == EventKind.REQUEST_ACKNOWLEDGED.value:  # "with requeue" / "without requeue"
                detail = self.names["detail"]
                detail[rows] = [f"{d} requeue" for d in detail[rows].tolist()]

    def _fields(self, rows: np.ndarray, fields: tuple[str, ...], args: list[tuple]) -> None:
        """The argument fields of one catalog id's rows, a field at a time."""
        shortest = min(map(len, args))
        for position, name in enumerate(fields):
            if name == "_":
                continue
            if position < shortest:
                values = list(map(itemgetter(position), args))
            else:  # fewer arguments than fields (a damaged payload): the missing ones stay unknown
                values = [a[position] if len(a) > position else None for a in args]
            self._set(name, rows, values)

    def _set(self, name: str, rows: np.ndarray, values, fixed: bool = False) -> None:
        if name in self.names:  # a name: its text (fixed values as the message table gives them)
            if not fixed and not set(map(type, values)) <= {str}:
                values = [None if v is None else str(v) for v in values]
            self.names[name][rows] = values
            return
        data, missing = self.handles[name] if name in HANDLE_FIELDS else self.count
        low, end = (0, _U64) if name in HANDLE_FIELDS else (_I64_MIN, _I64_END)
        numbers = _integers(values, data.dtype)
        if numbers is not None:
            data[rows], missing[rows] = numbers, False
            return
        # not all integers in range (damaged evidence): each value that is one is kept
        keep = np.array([isinstance(v, int) and low <= v < end for v in values], dtype=bool)
        data[rows[keep]] = [int(v) for v, k in zip(values, keep.tolist()) if k]
        missing[rows] = ~keep

    def frame(self, inputs: list[tuple[str, int]]) -> pd.DataFrame:
        messages = self.messages
        refs = _attribute(messages, "ref")
        names = sorted({name for name, _ in inputs})
        input_codes = np.repeat(np.array([names.index(name) for name, _ in inputs], dtype=np.int64),
                                [count for _, count in inputs])
        columns = {
            "input": pd.Categorical.from_codes(input_codes, categories=pd.Index(names)),
            "log": _category(_attribute(messages, "log")),
            "file": _category(_attribute(refs, "file")),
            "line": _int64(_attribute(refs, "line")),
            "offset": _int64(_attribute(refs, "offset")),
            "sequence": _int64(_attribute(messages, "sequence")),
            "timestamp": _timestamps(_attribute(messages, "timestamp")),
            "kind": _category(self.kinds),
            "text": pd.Series(self.texts, dtype=object),
            "catalog_id": pd.Categorical.from_codes(self.catalog_codes, categories=pd.Index(self.catalog_ids)),
            "level": _category(self.levels),
            "inferred": np.fromiter(_attribute(messages, "inferred"), dtype=bool, count=self.n),
            "count": pd.arrays.IntegerArray(*self.count),
            "mentions": pd.Series(_attribute(messages, "pointers"), dtype=object),
        }
        for name, (data, missing) in self.handles.items():
            columns[name] = pd.arrays.IntegerArray(data, missing)
        for name, values in self.names.items():
            columns[name] = _category(values)
        return pd.DataFrame({name: columns[name] for name in EVENT_COLUMNS}, columns=list(EVENT_COLUMNS))


def _attribute(items: list, name: str) -> list:
    """One attribute of every item."""
    return list(map(attrgetter(name), items))


def _category(values) -> pd.Categorical:
    """A categorical column (categories sorted, as ``pd.Categorical(values)`` makes them) through one factorize."""
    codes, categories = pd.factorize(np.asarray(values, dtype=object), sort=True)
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories))


def _timestamps(values: list) -> pd.Series:
    """A ``datetime64[ns, UTC]`` column of aware datetimes (None and times it cannot hold: NaT). Each run of one
    object (the records of one clock tick share their datetime) is converted once."""
    ids = np.fromiter(map(id, values), dtype=np.uintp, count=len(values))
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))[:len(values)]
    distinct = [values[i] for i in starts.tolist()]
    try:
        converted = pd.DatetimeIndex(distinct, tz="UTC").as_unit("ns")
    except (TypeError, ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):  # a value of another kind
        converted = pd.DatetimeIndex([_timestamp(v) for v in distinct], dtype="datetime64[ns, UTC]")
    runs = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(values))))
    return pd.Series(converted.take(runs))


def _timestamp(value) -> pd.Timestamp:
    """One value as a UTC time in nanoseconds (naive: taken as UTC); NaT when it is none or out of range."""
    try:
        when = pd.Timestamp(value)
        return (when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")).as_unit("ns")
    except (TypeError, ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.NaT


def _integers(values, dtype: np.dtype) -> np.ndarray | None:
    """``values`` as an array of ``dtype`` when every one is an int that fits it (None otherwise)."""
    if not set(map(type, values)) <= {int, bool}:
        return None
    try:
        return np.fromiter(values, dtype=dtype, count=len(values))
    except OverflowError:  # negative for a handle, or wider than 64 bits
        return None


def _int64(values: list) -> pd.arrays.IntegerArray:
    """A nullable Int64 column: values that are not ints in int64's range are missing."""
    if values.count(None) == len(values):  # e.g. the line of every IFR record, the offset of every pasted line
        return pd.arrays.IntegerArray(np.zeros(len(values), dtype=np.int64), np.ones(len(values), dtype=bool))
    array = _integers(values, np.dtype(np.int64))
    if array is not None:
        return pd.arrays.IntegerArray(array, np.zeros(len(array), dtype=bool))
    return pd.array([v if isinstance(v, int) and _I64_MIN <= v < _I64_END else None for v in values], dtype="Int64")


class EventTable:
    """Every event of a triage, in evidence order, as one DataFrame (``frame``) with typed columns:
    handles and statuses nullable ``UInt64`` (kernel pointers do not fit int64), line/offset/sequence/count
    nullable ``Int64``, ``timestamp`` ``datetime64[ns, UTC]``, names categorical or object.

    ``text`` (object) holds the text of ``RAW`` rows, the messages that are not framework messages (a rule can
    only read their text); it is None for framework messages, which rules read by their typed columns. Every
    row's text is given by :meth:`text` and ``table[i].text``: a table built from messages keeps them, and a
    message's text is formatted the first time it is read (parsers.records.TraceMessage), so building the
    table formats nothing a report does not show."""

    def __init__(self, frame: pd.DataFrame, messages: list[TraceMessage] | None = None):
        self.frame = frame
        self._messages = messages
        self._readers: dict | None = None

    @classmethod
    def from_messages(cls, inputs: Iterable[tuple[str, Iterable[TraceMessage]]]) -> "EventTable":
        """The table of every message of every (input name, messages) pair."""
        messages: list[TraceMessage] = []
        counts = []
        with gc_paused():
            for input_name, msgs in inputs:
                before = len(messages)
                messages.extend(msgs)
                counts.append((input_name, len(messages) - before))
            builder = _Builder(messages)
            builder.fill()
            return cls(builder.frame(counts), messages)

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
