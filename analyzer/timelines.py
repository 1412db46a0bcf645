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

from copy import copy
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
_OUTCOME_DTYPE = pd.CategoricalDtype(list(_OUTCOMES))


def is_in(column: pd.Series, values, at: np.ndarray | None = None) -> np.ndarray:
    """Boolean array: the (categorical or object) ``column`` holds one of ``values`` (at positions ``at`` only,
    when given; compared on the category codes when the column is categorical: one lookup per category, not per
    row)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = set(values)  # few categories: plain membership (Index.isin costs a pyarrow call on string categories)
        wanted = [c in values for c in column.cat.categories.tolist()] + [False]  # code -1 (missing) -> False
        codes = column.array.codes
        return np.array(wanted, dtype=bool)[codes if at is None else codes[at]]
    return (column if at is None else column.iloc[at]).isin(list(values)).to_numpy(dtype=bool)


def empty(columns: tuple[str, ...]) -> pd.DataFrame:
    """A frame with ``columns`` and no rows, with the project's dtypes (a copy of one made once)."""
    return _empty(columns).copy(deep=False)


@lru_cache(maxsize=None)
def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    def dtype(name: str) -> str:
        return "UInt64" if name in _UINT_COLUMNS else "Int64" if name in _SIGNED_COLUMNS else \
            "datetime64[ns, UTC]" if name in _TIME_COLUMNS else "bool" if name in _BOOL_COLUMNS else "object"
    return pd.DataFrame({name: pd.Series(dtype=dtype(name)) for name in columns}, columns=list(columns))


def _take(column: pd.Series, at: np.ndarray):
    """The values of an event column at positions ``at`` as a timeline holds them: a categorical keeps the table's
    categories unless a value is missing (then objects, None where missing); nullable integers and times as they
    are (times in nanoseconds)."""
    array = column.array
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = array.codes[at]
        if (codes < 0).any():
            return pd.Series(np.append(column.cat.categories.to_numpy(dtype=object), None)[codes], dtype=object)
        return pd.Categorical.from_codes(codes, dtype=column.dtype)
    return _times(column, at) if isinstance(column.dtype, pd.DatetimeTZDtype) else array.take(at)


def row_numbers(events: pd.DataFrame, at: np.ndarray) -> np.ndarray:
    """The event table row numbers of positions ``at`` in ``events`` (the table, or a scope of it)."""
    index = events.index
    if isinstance(index, pd.RangeIndex):  # the whole table: computed, not materialized
        return index.start + index.step * np.asarray(at, dtype=np.int64)
    return index.to_numpy(dtype=np.int64)[at]


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
    kind, queue, device = events["kind"], Handles(events["queue"]), Handles(events["device"])
    opens = np.flatnonzero(is_in(kind, [EventKind.QUEUE_POWER_ACTION.value, EventKind.QUEUES_RESUMED.value]))
    mapping = {}
    if len(opens):
        rows = opens[0] + np.flatnonzero(is_in(kind, QUEUE_KINDS, np.arange(opens[0], len(events))))
        last_open = opens[np.searchsorted(opens, rows, "right") - 1]
        named = ~queue.missing[rows] & ~device.missing[last_open]
        queues, first = np.unique(queue.values[rows[named]], return_index=True)
        mapping = dict(zip(queues.tolist(), device.values[last_open[named][first]].tolist()))
    devices = pd.unique(device.values[~device.missing])
    if len(devices) == 1:
        for q in pd.unique(queue.values[~queue.missing]).tolist():
            mapping.setdefault(q, int(devices[0]))
    return mapping


def _timeline(events: pd.DataFrame, at: np.ndarray, columns: tuple[str, ...], computed: dict) -> pd.DataFrame:
    """A timeline of the events at positions ``at``: ``computed`` columns, the others taken from the event column
    of the same name (``time``: ``timestamp``; ``index``: the row number in the table)."""
    source = {"time": "timestamp"}
    index = pd.arrays.IntegerArray(row_numbers(events, at).astype(np.uint64), np.zeros(len(at), dtype=bool))
    return pd.DataFrame({name: computed[name] if name in computed else index if name == "index" else
                         _take(events[source.get(name, name)], at) for name in columns},
                        columns=list(columns), copy=False)


def build_states(events: pd.DataFrame) -> pd.DataFrame:
    """The ``states`` frame: every state-machine transition in order."""
    at = np.flatnonzero(is_in(events["kind"], [EventKind.STATE.value]))
    if not len(at):
        return empty(STATE_COLUMNS)
    machine, state = _Names(events["machine"]).take(at), _Names(events["state"]).take(at)
    pairs, which = np.unique(np.stack([machine.codes, state.codes]), axis=1, return_inverse=True)
    resting = np.array([is_resting(machine.names[m], state.names[s]) for m, s in pairs.T.tolist()], dtype=bool)
    return _timeline(events, at, STATE_COLUMNS, {"transitional": ~resting[which.reshape(-1)]})


def build_queues(events: pd.DataFrame, devices: dict[int, int]) -> pd.DataFrame:
    """The ``queues`` frame: every queue event with the queue's power state and stop episode."""
    queue = Handles(events["queue"])
    at = np.flatnonzero(is_in(events["kind"], QUEUE_KINDS) & ~queue.missing)
    if not len(at):
        return empty(QUEUE_COLUMNS)
    kind, keys = _Names(events["kind"]).take(at), queue.values[at]
    order = np.argsort(keys, kind="stable")  # each queue's events together, in order
    group_start = np.ones(len(at), dtype=bool)
    group_start[1:] = keys[order][1:] != keys[order][:-1]
    pos = np.arange(len(at))
    first_of_group = np.maximum.accumulate(np.where(group_start, pos, 0))
    # power state: the last QUEUE_POWER_STATE of the queue so far
    is_state = kind.isin([EventKind.QUEUE_POWER_STATE.value])[order]
    last_state = np.maximum.accumulate(np.where(is_state, pos, -1))
    last_state = np.where(last_state >= first_of_group, order[np.maximum(last_state, 0)], -1)
    power = np.empty(len(at), dtype=object)
    power[order] = _Names(events["state"]).take(at).objects(last_state)
    # episode: the queue's power stops so far
    stops = np.cumsum(kind.isin([EventKind.QUEUE_POWER_STOP.value])[order], dtype=np.int64)
    episode = np.empty(len(at), dtype=np.uint64)
    episode[order] = stops - np.where(first_of_group > 0, stops[first_of_group - 1], 0)
    return _timeline(events, at, QUEUE_COLUMNS, {
        "power_state": pd.Series(power, dtype=object),
        "episode": pd.arrays.IntegerArray(episode, np.zeros(len(at), dtype=bool)),
        "waiting": _take(events["count"], at), "device": _lookup(keys, np.zeros(len(at), dtype=bool), devices)})


class _Names:
    """A categorical event column taken apart once: its codes and its categories as Python values (code -1,
    missing, reads the trailing None)."""

    def __init__(self, column: pd.Series):
        if not isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype("category")
        self.codes, self.dtype = column.array.codes, column.dtype
        self.names = np.append(column.cat.categories.to_numpy(dtype=object), None)

    def take(self, at: np.ndarray) -> "_Names":
        """The values at rows ``at``, as a column of their own."""
        taken = copy(self)
        taken.codes = self.codes[at]
        return taken

    def isin(self, wanted, at: np.ndarray | None = None) -> np.ndarray:
        """Rows (``at``, or all) whose value is one of ``wanted``."""
        return np.isin(self.names, list(wanted))[self.codes if at is None else self.codes[at]]

    def startswith(self, prefix: str, at: np.ndarray) -> np.ndarray:
        """Rows ``at`` whose text starts with ``prefix``."""
        return np.array([isinstance(v, str) and v.startswith(prefix) for v in self.names], dtype=bool)[self.codes[at]]

    def objects(self, at: np.ndarray) -> np.ndarray:
        """Python values at rows ``at`` (None where ``at`` is -1)."""
        return self.names[np.where(at < 0, -1, self.codes[np.maximum(at, 0)])]

    def categorical(self, at: np.ndarray) -> pd.Categorical:
        """The column's values at rows ``at`` (missing where ``at`` is -1), with the column's categories."""
        codes = np.where(at < 0, -1, self.codes[np.maximum(at, 0)])
        return pd.Categorical.from_codes(codes, dtype=self.dtype)


class Handles:
    """A nullable unsigned integer event column taken apart once (values and missing mask, no copy)."""

    def __init__(self, column: pd.Series):
        array = column.array
        if isinstance(array, pd.arrays.IntegerArray) and array.dtype == "UInt64":
            self.values, self.missing = array._data, array._mask
        else:
            self.values, self.missing = column.to_numpy(dtype=np.uint64, na_value=0), column.isna().to_numpy()

    def uints(self, at: np.ndarray) -> pd.arrays.IntegerArray:
        """UInt64 values at rows ``at`` (missing where ``at`` is -1 or the value is missing)."""
        safe = np.maximum(at, 0)
        missing = (at < 0) | self.missing[safe]
        return pd.arrays.IntegerArray(np.where(missing, np.uint64(0), self.values[safe]), missing)


def _times(column: pd.Series, at: np.ndarray) -> pd.arrays.DatetimeArray:
    """The times of a UTC time column at rows ``at`` (NaT where ``at`` is -1), in nanoseconds."""
    times = column.array.take(at, allow_fill=True)
    return times if times.unit == "ns" else times.as_unit("ns")


class _Lifetimes:
    """Request lifetimes: contiguous ranges of positions in the request-sorted events, starting at ``bounds``.
    A reduction takes the sorted positions of the rows it looks for and answers with a binary search per
    lifetime; answers come in ``order`` (the order of the output rows)."""

    def __init__(self, bounds: np.ndarray, n: int, order: np.ndarray):
        self.bounds, self.ends, self.order = bounds, np.append(bounds[1:], n), order
        self.starts = bounds[order]

    def of(self, positions: np.ndarray) -> np.ndarray:
        """The lifetime (as stored, not in ``order``) of each position."""
        return np.searchsorted(self.bounds, positions, "right") - 1

    def first(self, found: np.ndarray) -> np.ndarray:
        """Per lifetime, the first of the sorted positions ``found`` inside it (-1 when none)."""
        at = np.searchsorted(found, self.bounds, "left")
        hit = at < len(found)
        hit[hit] = found[at[hit]] < self.ends[hit]
        return np.where(hit, found[np.minimum(at, len(found) - 1)] if len(found) else -1, -1)[self.order]

    def last(self, found: np.ndarray) -> np.ndarray:
        """Per lifetime, the last of the sorted positions ``found`` inside it (-1 when none)."""
        at = np.searchsorted(found, self.ends, "left") - 1
        hit = at >= 0
        hit[hit] = found[at[hit]] >= self.bounds[hit]
        return np.where(hit, found[np.maximum(at, 0)] if len(found) else -1, -1)[self.order]


def by_request(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(positions, handles) of the events that name a request, sorted by handle; in table order per handle."""
    column = Handles(events["request"])
    rows = np.flatnonzero(~column.missing)
    request = column.values[rows]
    order = np.argsort(request, kind="stable")  # rows are in table order: stable keeps it per request
    return rows[order], request[order]


def _lifetime_starts(request: np.ndarray, is_end: np.ndarray, is_arrival: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(where lifetimes start, ends strictly before each row) in the request-sorted events: a lifetime starts at a
    request's first event, and at an arrival with an end of the same request since its previous arrival (or since
    its first event, for its first arrival)."""
    n = len(request)
    starts = np.ones(n, dtype=bool)
    starts[1:] = request[1:] != request[:-1]
    first_rows = np.flatnonzero(starts)
    before = np.cumsum(is_end, dtype=np.int64)
    before -= is_end  # ends strictly before each row
    arrivals = np.flatnonzero(is_arrival)
    group = np.searchsorted(first_rows, arrivals, "right") - 1
    since = before[first_rows[group]]  # ends before the request's first event ...
    same = np.zeros(len(arrivals), dtype=bool)
    same[1:] = group[1:] == group[:-1]
    since[1:][same[1:]] = before[arrivals[:-1]][same[1:]]  # ... or before its previous arrival
    starts[arrivals[before[arrivals] > since]] = True
    return starts, before


def build_requests(events: pd.DataFrame, devices: dict[int, int],
                   sorted_requests: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """The ``requests`` frame: one row per request lifetime (see the module docstring); ``sorted_requests`` is
    ``by_request(events)`` when the caller has it."""
    rows, request = sorted_requests if sorted_requests is not None else by_request(events)
    if not len(rows):
        return empty(REQUEST_COLUMNS)
    kind, detail = _Names(events["kind"]).take(rows), _Names(events["detail"])
    # an event ends a request when the framework no longer holds it: a completion (also one the queue did itself on
    # arrival) or a cancellation it completes itself (cancelled on the queue); after a cancel routine is called the
    # request is still the driver's to complete
    is_end = kind.isin(_END_KINDS)
    cancels = np.flatnonzero(kind.isin([EventKind.REQUEST_CANCELLED.value]))
    is_end[cancels] = detail.isin([_CANCELLED_ON_QUEUE], rows[cancels])
    starts, before = _lifetime_starts(request, is_end, kind.isin(ARRIVAL_KINDS))
    first = np.flatnonzero(starts)
    late = before > np.repeat(before[first], np.diff(np.append(first, len(rows))))  # after an end of its lifetime
    late &= ~is_end
    if late.any():  # messages about an ended request that are not ends themselves do not reopen it
        keep = ~late
        rows, request, is_end, kind = rows[keep], request[keep], is_end[keep], kind.take(keep)
        first = np.flatnonzero(starts[keep])
    lt = _Lifetimes(first, len(rows), order=np.argsort(row_numbers(events, rows[first]), kind="stable"))  # by first event

    def where(*kinds: EventKind) -> np.ndarray:
        return np.flatnonzero(kind.isin([k.value for k in kinds]))

    def table_rows(at: np.ndarray) -> np.ndarray:
        return np.where(at < 0, -1, rows[np.maximum(at, 0)])

    def indexes(at: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(np.where(at < 0, 0, row_numbers(events, rows[np.maximum(at, 0)])).astype(np.uint64),
                                      at < 0)

    queue, irp = Handles(events["queue"]), Handles(events["irp"])
    named = np.flatnonzero(~queue.missing[rows])
    queued, presented = where(EventKind.REQUEST_QUEUED), where(EventKind.REQUEST_PRESENTED)
    # forwarded: queued on a queue other than the last one named before it in the same lifetime
    on_queue = queued[~queue.missing[rows[queued]]]
    previous = np.searchsorted(named, on_queue) - 1  # on_queue rows are among the named ones
    on_queue, previous = on_queue[previous >= 0], named[previous[previous >= 0]]
    lifetime = lt.of(on_queue)
    moved = (previous >= first[lifetime]) & (queue.values[rows[previous]] != queue.values[rows[on_queue]])
    forwarded = np.zeros(len(first), dtype=bool)
    forwarded[lifetime[moved]] = True
    last_requeue = lt.last(where(EventKind.REQUEST_ACKNOWLEDGED, EventKind.REQUEST_REQUEUED))
    requeued = (last_requeue >= 0) & (kind.isin([EventKind.REQUEST_REQUEUED.value], last_requeue)
                                      | detail.startswith("with", table_rows(last_requeue)))  # acknowledged with requeue
    end_at = lt.first(np.flatnonzero(is_end))
    end_rows, queue_rows = table_rows(end_at), table_rows(lt.last(named))
    outcome = np.zeros(len(first), dtype=np.int8)  # codes of _OUTCOMES
    for value, name in _END_KINDS.items():
        outcome[(end_at >= 0) & kind.isin([value], end_at)] = _OUTCOMES.index(name)
    end_index, status = indexes(end_at), Handles(events["status"]).uints(end_rows)

    def end_index_if(outcome_name: str) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(end_index._data.copy(), end_index._mask | (outcome != _OUTCOMES.index(outcome_name)))

    out = pd.DataFrame({
        "input": _Names(events["input"]).categorical(table_rows(lt.starts)),
        "request": pd.arrays.IntegerArray(request[lt.starts], np.zeros(len(first), dtype=bool)),
        "irp": irp.uints(table_rows(lt.last(np.flatnonzero(~irp.missing[rows])))),
        "queue": queue.uints(queue_rows),
        "device": _lookup(queue.values[np.maximum(queue_rows, 0)], queue_rows < 0, devices),
        "callback": pd.Series(detail.objects(table_rows(lt.last(presented))), dtype=object),
        "first_index": indexes(lt.starts),
        "first_time": _times(events["timestamp"], table_rows(lt.starts)),
        "queued_index": indexes(lt.first(queued)),
        "presented_index": indexes(lt.last(presented)),
        "stop_notified_index": indexes(lt.last(where(EventKind.POWER_STOP_NOTIFY))),
        "acknowledged_index": indexes(lt.last(where(EventKind.REQUEST_ACKNOWLEDGED))),
        "requeued": requeued,
        "forwarded": forwarded[lt.order],
        "completed_index": end_index_if("completed"),
        "cancelled_index": end_index_if("cancelled"),
        "end_index": end_index,
        "end_time": _times(events["timestamp"], end_rows),
        "status": status,
        "status_name": pd.Series(_status_names(status), dtype=object),
        "information": Handles(events["information"]).uints(end_rows),
        "outcome": pd.Categorical.from_codes(outcome, dtype=_OUTCOME_DTYPE),
    }, columns=list(REQUEST_COLUMNS), copy=False)
    return out


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
