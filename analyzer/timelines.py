"""Timelines: views of the event table as three pandas DataFrames, built with grouped column operations
(no per-event Python loop), so their cost grows linearly with the number of events.

Every frame has the same columns whether or not the evidence held any row of its kind. ``*_index``
columns are row numbers in the event table; times are ``datetime64[ns, UTC]`` (NaT when the evidence
carries no timestamps); handles, pointers, indexes and statuses are nullable unsigned 64-bit integers
(``UInt64``: kernel pointers do not fit a signed int64); ``sequence`` and ``waiting`` are nullable signed
(``Int64``). Every frame also has ``input``: the evidence file the rows come from.

``requests`` (one row per request lifetime; a handle reused after completion starts a new row)
    request, irp, queue, device, callback (EvtIoRead, ...), first_index, first_time, queued_index,
    presented_index, stop_notified_index, acknowledged_index, requeued, forwarded (queued on another
    queue while still outstanding: WdfRequestForwardToIoQueue), completed_index,
    cancelled_index, end_index, end_time, status, status_name, information,
    outcome ("completed" | "cancelled" | "outstanding")

``queues`` (one row per queue event, in order)
    queue, device, index, sequence, time, kind (EventKind value), power_state (the queue's power state
    after the event), episode (power stop/purge episode number, 0 before the first), waiting (request
    count when the framework logged one), detail

``states`` (one row per state-machine transition)
    device, devobj, machine (pnp, power, pwrpol, notpwrpolowner, idle, selfio, wakeint, pwrreq), index,
    sequence, time, from_state, state, transitional (the state is not a resting state)

A queue's device is read from the framework's own "for all queues of WDFDEVICE" messages that open
each power episode; when the evidence holds a single device every queue belongs to it.

Request lifetimes: a request's events are taken in order; its first event opens a lifetime, and so does
the first arrival (queued, presented, completed on arrival) after an event that ended the previous one
(a completion, or a cancellation the framework completes itself). Messages about an ended request that
are not ends themselves (late completion errors) do not reopen it.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from analyzer.events import EventKind
from analyzer.states import is_resting
from parsers import ntstatus

REQUEST_COLUMNS = (
    "input", "request", "irp", "queue", "device", "callback", "first_index", "first_time", "queued_index",
    "presented_index", "stop_notified_index", "acknowledged_index", "requeued", "forwarded", "completed_index",
    "cancelled_index", "end_index", "end_time", "status", "status_name", "information", "outcome",
)
QUEUE_COLUMNS = ("input", "queue", "device", "index", "sequence", "time", "kind", "power_state", "episode", "waiting",
                 "detail")
STATE_COLUMNS = ("input", "device", "devobj", "machine", "index", "sequence", "time", "from_state", "state",
                 "transitional")

_UINT_COLUMNS = {
    "request", "irp", "queue", "device", "devobj", "first_index", "queued_index", "presented_index",
    "stop_notified_index", "acknowledged_index", "completed_index", "cancelled_index", "end_index", "status",
    "information", "index", "episode",
}
_SIGNED_COLUMNS = {"sequence", "waiting"}
_TIME_COLUMNS = {"first_time", "end_time", "time"}
_BOOL_COLUMNS = {"requeued", "forwarded", "transitional"}

QUEUE_KINDS = frozenset(k.value for k in (
    EventKind.QUEUE_POWER_STATE, EventKind.QUEUE_POWER_STOP, EventKind.QUEUE_WAITING_DRIVER,
    EventKind.QUEUE_POWERED_OFF, EventKind.QUEUE_POWERED_ON, EventKind.QUEUE_WAITING, EventKind.QUEUE_CALLBACK,
    EventKind.QUEUE_SHUTDOWN, EventKind.POWER_STOP_NOTIFY, EventKind.POWER_RESUME_NOTIFY))
_END_KINDS = {EventKind.REQUEST_COMPLETED.value: "completed", EventKind.REQUEST_COMPLETED_ON_ARRIVAL.value: "completed",
              EventKind.REQUEST_CANCELLED.value: "cancelled"}
ARRIVAL_KINDS = frozenset(k.value for k in (
    EventKind.REQUEST_QUEUED, EventKind.REQUEST_PRESENTED, EventKind.REQUEST_COMPLETED_ON_ARRIVAL))
_CANCELLED_ON_QUEUE = "cancelled on queue"
_OUTCOMES = ("outstanding", "completed", "cancelled")


def is_in(column: pd.Series, values) -> np.ndarray:
    """Boolean array: the (categorical or object) ``column`` holds one of ``values`` (compared on the category
    codes when the column is categorical: one lookup per category, not per row)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = set(values)  # few categories: plain membership (Index.isin costs a pyarrow call on string categories)
        wanted = [c in values for c in column.cat.categories.tolist()] + [False]  # code -1 (missing) -> False
        return np.array(wanted, dtype=bool)[column.array.codes]
    return column.isin(list(values)).to_numpy(dtype=bool)


def empty(columns: tuple[str, ...]) -> pd.DataFrame:
    """A frame with ``columns`` and no rows, with the project's dtypes (a copy of one made once)."""
    return _empty(columns).copy()


@lru_cache(maxsize=None)
def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return conform(pd.DataFrame({c: [] for c in columns}), columns)


def conform(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``df`` with exactly ``columns`` in order and the project's dtypes (columns already right are kept)."""
    out = {}
    for name in columns:
        col = df[name] if name in df else pd.Series([None] * len(df), index=df.index, dtype=object)
        if name in _UINT_COLUMNS:
            col = col if col.dtype == "UInt64" else col.astype("UInt64") if col.dtype != object else \
                pd.array(col.tolist(), dtype="UInt64")
        elif name in _SIGNED_COLUMNS:
            col = col if col.dtype == "Int64" else col.astype("Int64") if col.dtype != object else \
                pd.array(col.tolist(), dtype="Int64")
        elif name in _TIME_COLUMNS:
            col = col if col.dtype == "datetime64[ns, UTC]" else \
                pd.to_datetime(col, utc=True, errors="coerce").astype("datetime64[ns, UTC]")
        elif name in _BOOL_COLUMNS:
            col = col if col.dtype == bool else col.fillna(False).astype(bool)
        elif not isinstance(col.dtype, pd.CategoricalDtype) or col.isna().any():  # missing stays None, not NaN
            col = col.astype(object).where(col.notna(), None)
        out[name] = pd.Series(col, index=df.index)
    return pd.DataFrame(out, columns=list(columns)).reset_index(drop=True)


def _rows(events: pd.DataFrame, mask: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """The masked rows' ``columns``, plus their table row number as column ``index``."""
    rows = events.loc[mask, columns]
    return rows.assign(index=np.asarray(rows.index, dtype=np.uint64))


def _uint(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values as uint64 with 0 for missing, missing mask) of a nullable UInt64 column."""
    return column.to_numpy(dtype=np.uint64, na_value=0), column.isna().to_numpy()


def _lookup(keys: np.ndarray, missing: np.ndarray, mapping: dict[int, int]) -> pd.arrays.IntegerArray:
    """mapping[key] for every key (missing where the key is missing or not mapped), as UInt64."""
    known = np.array(sorted(mapping), dtype=np.uint64)
    found = np.zeros(len(keys), dtype=bool)
    values = np.zeros(len(keys), dtype=np.uint64)
    if len(known):
        targets = np.array([mapping[int(k)] for k in known], dtype=np.uint64)
        at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
        found = (known[at] == keys) & ~missing
        values = np.where(found, targets[at], np.uint64(0))
    return pd.arrays.IntegerArray(values, ~found)


def queue_devices(events: pd.DataFrame) -> dict[int, int]:
    """queue -> device, from the device named by the last "for all queues of WDFDEVICE" message before the
    queue's first event of a power episode; when the events name a single device, every queue is its own."""
    opens = is_in(events["kind"], [EventKind.QUEUE_POWER_ACTION.value, EventKind.QUEUES_RESUMED.value])
    last_open = np.maximum.accumulate(np.where(opens, np.arange(len(opens)), -1)) if len(opens) else np.array([], int)
    rows = np.flatnonzero(is_in(events["kind"], QUEUE_KINDS) & (last_open >= 0))
    pairs = pd.DataFrame({"queue": events["queue"].array[rows], "device": events["device"].array[last_open[rows]]})
    pairs = pairs.dropna().drop_duplicates("queue")
    mapping = {int(q): int(d) for q, d in zip(pairs["queue"], pairs["device"])}
    devices = events["device"].dropna().unique()
    if len(devices) == 1:
        for q in events["queue"].dropna().unique():
            mapping.setdefault(int(q), int(devices[0]))
    return mapping


def build_states(events: pd.DataFrame) -> pd.DataFrame:
    """The ``states`` frame: every state-machine transition in order."""
    mask = is_in(events["kind"], [EventKind.STATE.value])
    if not mask.any():
        return empty(STATE_COLUMNS)
    rows = _rows(events, mask, ["input", "device", "devobj", "machine", "sequence", "timestamp", "from_state", "state"])
    machine, state = rows["machine"].astype(object), rows["state"].astype(object)
    pairs = pd.DataFrame({"machine": machine, "state": state}).drop_duplicates()
    resting = {(m, s): is_resting(m, s) for m, s in pairs.itertuples(index=False)}
    transitional = [not resting[(m, s)] for m, s in zip(machine, state)]
    out = rows.rename(columns={"timestamp": "time"}).assign(transitional=transitional)
    return conform(out, STATE_COLUMNS)


def build_queues(events: pd.DataFrame, devices: dict[int, int]) -> pd.DataFrame:
    """The ``queues`` frame: every queue event with the queue's power state and stop episode."""
    mask = is_in(events["kind"], QUEUE_KINDS) & events["queue"].notna().to_numpy()
    if not mask.any():
        return empty(QUEUE_COLUMNS)
    rows = _rows(events, mask, ["input", "queue", "sequence", "timestamp", "kind", "state", "count", "detail"])
    power = rows["state"].astype(object).where(is_in(rows["kind"], [EventKind.QUEUE_POWER_STATE.value]))
    stops = is_in(rows["kind"], [EventKind.QUEUE_POWER_STOP.value]).astype(np.int64)
    by_queue = rows["queue"]
    out = pd.DataFrame({
        "input": rows["input"], "queue": by_queue, "index": rows["index"],
        "sequence": rows["sequence"], "time": rows["timestamp"], "kind": rows["kind"],
        "power_state": power.groupby(by_queue, sort=False).ffill(),
        "episode": pd.Series(stops, index=rows.index).groupby(by_queue, sort=False).cumsum(),
        "waiting": rows["count"], "detail": rows["detail"],
        "device": _lookup(*_uint(by_queue), devices),
    })
    return conform(out, QUEUE_COLUMNS)


class _Lifetimes:
    """Per-lifetime reductions over request events sorted by (request, row number), lifetimes contiguous.
    Results come in ``order`` (a permutation of the lifetimes; by default as stored)."""

    def __init__(self, starts: np.ndarray):
        self.bounds = np.flatnonzero(starts)
        self.pos = np.arange(len(starts))
        self.order = np.arange(len(self.bounds))

    @property
    def starts(self) -> np.ndarray:
        """Position of each lifetime's first row."""
        return self.bounds[self.order]

    def first(self, mask: np.ndarray) -> np.ndarray:
        """Position of the first masked row of each lifetime (-1 when none)."""
        found = np.minimum.reduceat(np.where(mask, self.pos, len(self.pos)), self.bounds)[self.order]
        return np.where(found < len(self.pos), found, -1)

    def last(self, mask: np.ndarray) -> np.ndarray:
        """Position of the last masked row of each lifetime (-1 when none)."""
        return np.maximum.reduceat(np.where(mask, self.pos, -1), self.bounds)[self.order]

    def any(self, mask: np.ndarray) -> np.ndarray:
        return np.logical_or.reduceat(mask, self.bounds)[self.order]


class _Column:
    """One event column restricted to some rows, as numpy arrays: ``values`` (uint64 handles with 0 for
    missing, category codes, or datetime64) and ``missing``; ``take`` reorders/filters every array alike."""

    def __init__(self, column: pd.Series, rows: np.ndarray):
        self.categories = None
        array = column.array
        if isinstance(column.dtype, pd.CategoricalDtype):
            self.categories = np.append(column.cat.categories.to_numpy(dtype=object), None)
            self.values = array.codes[rows]  # -1 (missing) indexes the trailing None
            self.missing = self.values < 0
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            self.values = array.asi8[rows].view("datetime64[ns]")
            self.missing = np.isnat(self.values)
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            self.values = column.to_numpy(dtype=object)[rows]
            self.missing = pd.isna(self.values)
        elif isinstance(array, pd.arrays.IntegerArray):  # values and mask taken apart, no full-column copy
            self.values = array._data[rows].astype(np.uint64, copy=False)
            self.missing = array._mask[rows]
            self.values[self.missing] = 0
        else:
            self.values = column.to_numpy(dtype=np.uint64, na_value=0)[rows]
            self.missing = column.isna().to_numpy()[rows]

    def take(self, at: np.ndarray) -> None:
        self.values, self.missing = self.values[at], self.missing[at]

    def has(self, wanted) -> np.ndarray:
        """Rows whose (categorical or object) value is one of ``wanted``."""
        if self.categories is not None:
            return np.isin(self.categories, list(wanted))[self.values]
        return np.isin(self.values, list(wanted))

    def startswith(self, prefix: str) -> np.ndarray:
        """Rows whose (categorical or object) text starts with ``prefix``."""
        if self.categories is not None:
            return np.array([isinstance(v, str) and v.startswith(prefix) for v in self.categories])[self.values]
        return pd.Series(self.values, dtype=object).str.startswith(prefix).fillna(False).to_numpy(dtype=bool)

    def objects(self, at: np.ndarray) -> np.ndarray:
        """Python values at positions ``at`` (None where ``at`` is -1 or the value is missing)."""
        safe = np.maximum(at, 0)
        values = self.categories[self.values[safe]] if self.categories is not None \
            else self.values[safe].astype(object)
        values[(at < 0) | self.missing[safe]] = None
        return values

    def categorical(self, at: np.ndarray) -> pd.Categorical:
        """A categorical column's values at positions ``at`` (missing where ``at`` is -1)."""
        codes = np.where(at < 0, -1, self.values[np.maximum(at, 0)])
        return pd.Categorical.from_codes(codes, self.categories[:-1])

    def uints(self, at: np.ndarray) -> pd.arrays.IntegerArray:
        """UInt64 values at positions ``at`` (missing where ``at`` is -1 or the value is missing)."""
        safe = np.maximum(at, 0)
        return pd.arrays.IntegerArray(self.values[safe], (at < 0) | self.missing[safe])

    def times(self, at: np.ndarray) -> np.ndarray:
        return np.where(at >= 0, self.values[np.maximum(at, 0)], np.datetime64("NaT"))


def by_request(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(positions, handles) of the events that name a request, sorted by handle; in table order per handle."""
    rows = np.flatnonzero(events["request"].notna().to_numpy())
    request = events["request"].to_numpy(dtype=np.uint64, na_value=0)[rows]
    order = np.argsort(request, kind="stable")  # rows are in table order: stable keeps it per request
    return rows[order], request[order]


def build_requests(events: pd.DataFrame, devices: dict[int, int],
                   sorted_requests: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """The ``requests`` frame: one row per request lifetime (see the module docstring); ``sorted_requests`` is
    ``by_request(events)`` when the caller has it."""
    rows, request = sorted_requests if sorted_requests is not None else by_request(events)
    if not len(rows):
        return empty(REQUEST_COLUMNS)
    c = {name: _Column(events[name], rows) for name in ("kind", "detail")}
    index = np.asarray(events.index, dtype=np.int64)[rows]
    kind = c["kind"]
    # an event ends a request when the framework no longer holds it: a completion (also one the queue did itself on
    # arrival) or a cancellation it completes itself (cancelled on the queue); after a cancel routine is called the
    # request is still the driver's to complete
    cancelled = kind.has([EventKind.REQUEST_CANCELLED.value])
    is_end = kind.has(_END_KINDS) & (~cancelled | c["detail"].has([_CANCELLED_ON_QUEUE]))
    is_arrival = kind.has(ARRIVAL_KINDS)
    n = len(index)
    first_of_request = np.ones(n, dtype=bool)
    first_of_request[1:] = request[1:] != request[:-1]
    group_start = np.maximum.accumulate(np.where(first_of_request, np.arange(n), 0))
    before = np.cumsum(is_end, dtype=np.int32) - is_end  # ends strictly before each row
    ends_before = before - before[group_start]  # ... within the same request
    # a lifetime starts at a request's first event, and at an arrival with an end since the previous arrival
    arrivals = np.flatnonzero(is_arrival)
    ends_at_arrival = ends_before[arrivals]
    previous = np.zeros(len(arrivals), dtype=ends_at_arrival.dtype)
    previous[1:] = np.where(group_start[arrivals[1:]] == group_start[arrivals[:-1]], ends_at_arrival[:-1], 0)
    starts = first_of_request.copy()
    starts[arrivals[ends_at_arrival > previous]] = True
    lifetime_start = np.flatnonzero(starts)[np.cumsum(starts, dtype=np.int32) - 1]
    keep = np.flatnonzero(~(ends_before - ends_before[lifetime_start] > 0) | is_end)  # late messages don't reopen
    index, is_end, starts, rows = index[keep], is_end[keep], starts[keep], rows[keep]
    for column in c.values():
        column.take(keep)
    c.update({name: _Column(events[name], rows) for name in ("input", "request", "queue", "irp", "status",
                                                             "information", "timestamp")})
    kind, lt = c["kind"], _Lifetimes(starts)
    lt.order = np.argsort(index[lt.bounds], kind="stable")  # output rows in order of each lifetime's first event
    presented = kind.has([EventKind.REQUEST_PRESENTED.value])
    queued = kind.has([EventKind.REQUEST_QUEUED.value])
    requeue_event = kind.has([EventKind.REQUEST_REQUEUED.value])
    ack = kind.has([EventKind.REQUEST_ACKNOWLEDGED.value])
    queue = c["queue"]
    # forwarded: queued on a queue other than the last one named before it in the same lifetime
    lifetime_of = np.cumsum(starts, dtype=np.int32) - 1
    prev_named = np.empty(len(index), dtype=np.int64)
    prev_named[0] = -1
    prev_named[1:] = np.maximum.accumulate(np.where(queue.missing, -1, lt.pos))[:-1]
    same = (prev_named >= 0) & (lifetime_of[np.maximum(prev_named, 0)] == lifetime_of)
    forwarded_row = queued & ~queue.missing & same & (queue.values[np.maximum(prev_named, 0)] != queue.values)
    with_requeue = requeue_event | (ack & c["detail"].startswith("with"))
    last_requeue = lt.last(ack | requeue_event)
    first, end_at = lt.starts, lt.first(is_end)
    outcome = np.zeros(len(first), dtype=np.int8)  # codes of _OUTCOMES
    for value, name in _END_KINDS.items():
        outcome[kind.has([value])[np.maximum(end_at, 0)] & (end_at >= 0)] = _OUTCOMES.index(name)
    positions = _Column(pd.Series(index.astype(np.uint64)), np.arange(len(index)))
    queue_at = lt.last(~queue.missing)
    out = pd.DataFrame({
        "input": c["input"].categorical(first),
        "request": c["request"].uints(first),
        "irp": c["irp"].uints(lt.last(~c["irp"].missing)),
        "queue": queue.uints(queue_at),
        "device": _lookup(queue.values[np.maximum(queue_at, 0)], queue_at < 0, devices),
        "callback": pd.Series(c["detail"].objects(lt.last(presented)), dtype=object),
        "first_index": index[first],
        "first_time": c["timestamp"].times(first),
        "queued_index": positions.uints(lt.first(queued)),
        "presented_index": positions.uints(lt.last(presented)),
        "stop_notified_index": positions.uints(lt.last(kind.has([EventKind.POWER_STOP_NOTIFY.value]))),
        "acknowledged_index": positions.uints(lt.last(ack)),
        "requeued": np.where(last_requeue >= 0, with_requeue[np.maximum(last_requeue, 0)], False),
        "forwarded": lt.any(forwarded_row),
        "completed_index": positions.uints(np.where(outcome == _OUTCOMES.index("completed"), end_at, -1)),
        "cancelled_index": positions.uints(np.where(outcome == _OUTCOMES.index("cancelled"), end_at, -1)),
        "end_index": positions.uints(end_at),
        "end_time": c["timestamp"].times(end_at),
        "status": c["status"].uints(end_at),
        "information": c["information"].uints(end_at),
        "outcome": pd.Categorical.from_codes(outcome, _OUTCOMES),
    })
    out["status_name"] = pd.Series(_status_names(out["status"]), dtype=object)
    return conform(out, REQUEST_COLUMNS)


def _status_names(status: pd.Series) -> np.ndarray:
    """NTSTATUS names, rendered once per distinct value."""
    codes, distinct = pd.factorize(status)
    return np.array([ntstatus.render(int(s)) for s in distinct] + [None], dtype=object)[codes]


def build_all(events: pd.DataFrame, sorted_requests: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(requests, queues, states) of one scope of the event table, sharing the queue -> device map (and
    ``by_request(events)`` when the caller has it)."""
    devices = queue_devices(events)
    return build_requests(events, devices, sorted_requests), build_queues(events, devices), build_states(events)
