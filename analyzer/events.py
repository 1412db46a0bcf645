"""The event model: every message of every input becomes one row of one :class:`EventTable`.

A message is typed by the framework format string it was printed with (its catalog entry, see
:mod:`parsers.catalog`), never by substrings: the message table (:mod:`parsers.messages`) says which event
kind each framework message is and which argument fills which column. Framework messages not in the table
become ``FRAMEWORK`` (or ``FRAMEWORK_ERROR`` at error level and above); lines that are not framework
messages become ``RAW``. Nothing is dropped, and every row keeps its input, source reference and text.

The table is filled in one pass over the parsers' messages and held as a pandas DataFrame with typed
columns (``EVENT_COLUMNS``); timelines and rules are queries over it. ``table[i]`` gives row ``i`` as an
:class:`Event` for the few places (evidence lines, renderers) that look at single events.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Iterable, Iterator

import pandas as pd

from parsers import messages as message_table
from parsers.catalog import load as load_catalog
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
#: ``offset`` point back into it (``file`` may name a part of the input, e.g. ``dump@0x5000``).
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
    if message.catalog_id is None:
        return EventKind.RAW
    spec = _specs_by_catalog_id().get(message.catalog_id)
    if spec is not None:
        return _KINDS[spec[0]]
    entry = load_catalog().by_id.get(message.catalog_id)
    return EventKind.FRAMEWORK_ERROR if (entry.level if entry else message.level) in _ERROR_LEVELS \
        else EventKind.FRAMEWORK


class _Columns:
    """Column lists filled one message at a time."""

    def __init__(self):
        self.data = {name: [] for name in EVENT_COLUMNS}

    def add(self, message: TraceMessage, input_name: str) -> None:
        d = self.data
        ref = message.ref
        row = dict.fromkeys(HANDLE_FIELDS + NAME_FIELDS + ("count",))
        kind = kind_of(message)
        level = message.level
        if message.catalog_id is not None:
            entry = load_catalog().by_id.get(message.catalog_id)
            level = level or (entry.level if entry else None)
            spec = _specs_by_catalog_id().get(message.catalog_id)
            if spec is not None:
                _, fields, fixed = spec
                for name, value in zip(fields, message.args):
                    if name != "_":
                        row[name] = _field_value(name, value)
                row.update(fixed)
                if message.general:  # recognized as the general form: the variant's own facts are not known
                    row["detail"] = "reason not known without the TMF"
                if kind is EventKind.REQUEST_ACKNOWLEDGED:
                    row["detail"] = f"{row['detail']} requeue"  # "with requeue" / "without requeue"
        d["input"].append(input_name)
        d["log"].append(message.log)
        d["file"].append(ref.file)
        d["line"].append(ref.line)
        d["offset"].append(ref.offset)
        d["sequence"].append(message.sequence)
        d["timestamp"].append(message.timestamp)
        d["kind"].append(kind.value)
        d["text"].append(message.text)
        d["catalog_id"].append(message.catalog_id)
        d["level"].append(level)
        d["inferred"].append(message.inferred)
        for name, value in row.items():
            d[name].append(value)
        d["mentions"].append(message.pointers)


def _field_value(name: str, value):
    if name in HANDLE_FIELDS or name == "count":
        return value if isinstance(value, int) else None
    return None if value is None else str(value)


def _typed(name: str, values: list):
    """One column with the project's dtype, built from Python values (no float detour for handles)."""
    if name in HANDLE_FIELDS:  # a value that cannot be a handle/status (damaged evidence) is left out
        return pd.array([v if isinstance(v, int) and 0 <= v < 1 << 64 else None for v in values], dtype="UInt64")
    if name in ("line", "offset", "sequence", "count"):
        return pd.array([v if isinstance(v, int) and -(1 << 63) <= v < 1 << 63 else None for v in values],
                        dtype="Int64")
    if name == "timestamp":
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce").astype("datetime64[ns, UTC]")
    if name == "inferred":
        return pd.array([bool(v) for v in values], dtype=bool)
    if name in CATEGORY_COLUMNS:
        return pd.Categorical(values)
    return pd.Series(values, dtype=object)


class EventTable:
    """Every event of a triage, in evidence order, as one DataFrame (``frame``) with typed columns:
    handles and statuses nullable ``UInt64`` (kernel pointers do not fit int64), line/offset/sequence/count
    nullable ``Int64``, ``timestamp`` ``datetime64[ns, UTC]``, names categorical or object."""

    def __init__(self, frame: pd.DataFrame, values: dict[str, list] | None = None):
        self.frame = frame
        self._values = dict(values or {})

    @classmethod
    def from_messages(cls, inputs: Iterable[tuple[str, Iterable[TraceMessage]]]) -> "EventTable":
        """The table of every message of every (input name, messages) pair, in one pass."""
        columns = _Columns()
        for input_name, msgs in inputs:
            for message in msgs:
                columns.add(message, input_name)
        data = columns.data
        frame = pd.DataFrame({name: _typed(name, data[name]) for name in EVENT_COLUMNS}, columns=list(EVENT_COLUMNS))
        return cls(frame, data)

    def __len__(self) -> int:
        return len(self.frame)

    def _value(self, name: str, index: int):
        cached = self._values.get(name)
        if cached is not None:
            return cached[index]
        value = self.frame[name].array[index]
        if value is pd.NA or value is pd.NaT or (value is not None and not isinstance(value, (str, tuple)) and
                                                 pd.isna(value)):
            return None
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
        return value.item() if hasattr(value, "item") else value

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        v = {name: self._value(name, index) for name in EVENT_COLUMNS}
        return Event(kind=_KINDS[v["kind"]], index=index,
                     ref=SourceRef(file=v["file"], line=v["line"], offset=v["offset"], sequence=v["sequence"]),
                     text=v["text"], input=v["input"], log=v["log"], sequence=v["sequence"], timestamp=v["timestamp"],
                     catalog_id=v["catalog_id"], level=v["level"], inferred=bool(v["inferred"]),
                     mentions=tuple(v["mentions"] or ()),
                     **{name: v[name] for name in HANDLE_FIELDS + NAME_FIELDS + ("count",)})

    def __iter__(self) -> Iterator[Event]:
        return (self[i] for i in range(len(self)))
