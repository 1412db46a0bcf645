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


def ends_request(kind: pd.Series, detail: pd.Series) -> pd.Series:
    """True for events after which the framework no longer holds the request: a completion (also one the
    queue did itself on arrival), or a cancellation the framework completes itself (cancelled while still
    on the queue). A cancel routine being called leaves the request with the driver, which must still
    complete it."""
    kind = kind.astype(object)
    return kind.isin(list(_END_KINDS)) & ((kind != EventKind.REQUEST_CANCELLED.value) | (detail == _CANCELLED_ON_QUEUE))


def empty(columns: tuple[str, ...]) -> pd.DataFrame:
    """A frame with ``columns`` and no rows, with the project's dtypes."""
    return conform(pd.DataFrame({c: [] for c in columns}), columns)


def conform(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``df`` with exactly ``columns`` in order and the project's dtypes."""
    out = {}
    for name in columns:
        col = df[name] if name in df else pd.Series([None] * len(df), index=df.index, dtype=object)
        if name in _UINT_COLUMNS:
            col = col.astype("UInt64") if col.dtype != object else pd.array(col.tolist(), dtype="UInt64")
        elif name in _SIGNED_COLUMNS:
            col = col.astype("Int64") if col.dtype != object else pd.array(col.tolist(), dtype="Int64")
        elif name in _TIME_COLUMNS:
            col = pd.to_datetime(col, utc=True, errors="coerce").astype("datetime64[ns, UTC]")
        elif name in _BOOL_COLUMNS:
            col = col.fillna(False).astype(bool)
        else:
            col = col.astype(object).where(col.notna(), None)
        out[name] = pd.Series(col, index=df.index)
    return pd.DataFrame(out, columns=list(columns)).reset_index(drop=True)


def _with_index(events: pd.DataFrame) -> pd.DataFrame:
    """The event rows with their table row number as column ``index``."""
    return events.assign(index=np.asarray(events.index, dtype=np.uint64))


def queue_devices(events: pd.DataFrame) -> dict[int, int]:
    """queue -> device, from the device named by the last "for all queues of WDFDEVICE" message before the
    queue's first event of a power episode; when the events name a single device, every queue is its own."""
    kind = events["kind"].astype(object).to_numpy()
    opens = np.isin(kind, [EventKind.QUEUE_POWER_ACTION.value, EventKind.QUEUES_RESUMED.value])
    last_open = np.maximum.accumulate(np.where(opens, np.arange(len(kind)), -1)) if len(kind) else np.array([], int)
    rows = np.flatnonzero(np.isin(kind, list(QUEUE_KINDS)) & (last_open >= 0))
    pairs = pd.DataFrame({"queue": events["queue"].array[rows], "device": events["device"].array[last_open[rows]]})
    pairs = pairs.dropna().drop_duplicates("queue")
    mapping = {int(q): int(d) for q, d in zip(pairs["queue"], pairs["device"])}
    devices = events["device"].dropna().unique()
    if len(devices) == 1:
        for q in events.loc[events["queue"].notna(), "queue"].unique():
            mapping.setdefault(int(q), int(devices[0]))
    return mapping


def build_states(events: pd.DataFrame) -> pd.DataFrame:
    """The ``states`` frame: every state-machine transition in order."""
    rows = _with_index(events[events["kind"] == EventKind.STATE.value])
    if rows.empty:
        return empty(STATE_COLUMNS)
    pairs = rows[["machine", "state"]].astype(object).drop_duplicates()
    resting = {(m, s): is_resting(m, s) for m, s in pairs.itertuples(index=False)}
    transitional = [not resting[(m, s)] for m, s in zip(rows["machine"].astype(object), rows["state"])]
    out = rows.rename(columns={"timestamp": "time"}).assign(transitional=transitional)
    return conform(out, STATE_COLUMNS)


def build_queues(events: pd.DataFrame, devices: dict[int, int]) -> pd.DataFrame:
    """The ``queues`` frame: every queue event with the queue's power state and stop episode."""
    kind = events["kind"].astype(object)
    rows = _with_index(events[kind.isin(list(QUEUE_KINDS)) & events["queue"].notna()])
    if rows.empty:
        return empty(QUEUE_COLUMNS)
    rkind = rows["kind"].astype(object)
    power = rows["state"].where(rkind == EventKind.QUEUE_POWER_STATE.value)
    stops = (rkind == EventKind.QUEUE_POWER_STOP.value).astype(np.int64)
    by_queue = rows["queue"]
    out = pd.DataFrame({
        "input": rows["input"].astype(object), "queue": by_queue, "index": rows["index"],
        "sequence": rows["sequence"], "time": rows["timestamp"], "kind": rkind,
        "power_state": power.groupby(by_queue, sort=False).ffill(),
        "episode": stops.groupby(by_queue, sort=False).cumsum(),
        "waiting": rows["count"], "detail": rows["detail"],
    })
    out["device"] = [devices.get(int(q)) for q in by_queue]
    return conform(out, QUEUE_COLUMNS)


def build_requests(events: pd.DataFrame, devices: dict[int, int]) -> pd.DataFrame:
    """The ``requests`` frame: one row per request lifetime (see the module docstring)."""
    r = _with_index(events[events["request"].notna()])
    if r.empty:
        return empty(REQUEST_COLUMNS)
    r = r.sort_values(["request", "index"], kind="stable")
    kind = r["kind"].astype(object)
    is_end = ends_request(kind, r["detail"]).to_numpy()
    is_arrival = kind.isin(list(ARRIVAL_KINDS)).to_numpy()
    request = r["request"].to_numpy(dtype=np.uint64)
    first_of_request = np.ones(len(r), dtype=bool)
    first_of_request[1:] = request[1:] != request[:-1]
    group_start = np.maximum.accumulate(np.where(first_of_request, np.arange(len(r)), 0))
    ends_total = np.cumsum(is_end)
    ends_before = ends_total - is_end - (ends_total - is_end)[group_start]  # ends earlier in the same request
    # a lifetime starts at a request's first event, and at an arrival with an end since the previous arrival
    prev_arrival_ends = _previous_within(np.where(is_arrival, ends_before, -1), is_arrival, group_start)
    starts = first_of_request | (is_arrival & (ends_before > np.maximum(prev_arrival_ends, 0)))
    lifetime = np.cumsum(starts) - 1
    lifetime_start = np.flatnonzero(starts)[lifetime]
    ended = ends_before - ends_before[lifetime_start] > 0
    keep = ~ended | is_end  # late messages about an ended request don't reopen it
    r = r[keep].assign(lifetime=lifetime[keep], is_end=is_end[keep])
    kind = r["kind"].astype(object)
    g = r.groupby("lifetime", sort=False)

    def first_where(mask, column="index"):
        return r[column].where(mask).groupby(r["lifetime"], sort=False).first()

    def last_where(mask, column="index"):
        return r[column].where(mask).groupby(r["lifetime"], sort=False).last()

    presented = kind == EventKind.REQUEST_PRESENTED.value
    ack = kind == EventKind.REQUEST_ACKNOWLEDGED.value
    requeue_event = kind == EventKind.REQUEST_REQUEUED.value
    requeue_value = pd.Series(np.where(requeue_event, True, r["detail"].astype(str).str.startswith("with")),
                              index=r.index).where(ack | requeue_event)
    prev_queue = r["queue"].groupby(r["lifetime"], sort=False).shift(1)
    prev_queue = prev_queue.groupby(r["lifetime"], sort=False).ffill()
    forwarded = (kind == EventKind.REQUEST_QUEUED.value) & r["queue"].notna() & prev_queue.notna() & \
        (r["queue"] != prev_queue)
    end_rows = r[r["is_end"]].groupby("lifetime", sort=False).head(1).set_index("lifetime")
    out = pd.DataFrame({
        "input": g["input"].first().astype(object),
        "request": g["request"].first(),
        "irp": g["irp"].last(),
        "queue": g["queue"].last(),
        "callback": last_where(presented, "detail"),
        "first_index": g["index"].first(),
        "first_time": g["timestamp"].first(),
        "queued_index": first_where(kind == EventKind.REQUEST_QUEUED.value),
        "presented_index": last_where(presented),
        "stop_notified_index": last_where(kind == EventKind.POWER_STOP_NOTIFY.value),
        "acknowledged_index": last_where(ack),
        "requeued": requeue_value.groupby(r["lifetime"], sort=False).last().fillna(False).astype(bool),
        "forwarded": forwarded.groupby(r["lifetime"], sort=False).any(),
    })
    end_kind = end_rows["kind"].astype(object).map(_END_KINDS)
    out["outcome"] = end_kind.reindex(out.index).fillna("outstanding")
    out["completed_index"] = end_rows["index"].where(end_kind == "completed").reindex(out.index)
    out["cancelled_index"] = end_rows["index"].where(end_kind == "cancelled").reindex(out.index)
    out["end_index"] = end_rows["index"].reindex(out.index)
    out["end_time"] = end_rows["timestamp"].reindex(out.index)
    out["status"] = end_rows["status"].reindex(out.index)
    out["information"] = end_rows["information"].reindex(out.index)
    out["status_name"] = [None if pd.isna(s) else ntstatus.render(int(s)) for s in out["status"]]
    out["device"] = [None if pd.isna(q) else devices.get(int(q)) for q in out["queue"]]
    return conform(out.sort_values("first_index", kind="stable"), REQUEST_COLUMNS)


def _previous_within(values: np.ndarray, mask: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """For each row, ``values`` at the previous masked row of the same group (-1 when there is none)."""
    positions = np.where(mask, np.arange(len(values)), -1)
    last_masked = np.maximum.accumulate(positions)
    previous = np.empty(len(values), dtype=np.int64)
    previous[0] = -1
    previous[1:] = last_masked[:-1]
    valid = previous >= group_start
    out = np.full(len(values), -1, dtype=np.int64)
    out[valid] = values[previous[valid]]
    return out


def build_all(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(requests, queues, states) of one scope of the event table, sharing the queue -> device map."""
    devices = queue_devices(events)
    return build_requests(events, devices), build_queues(events, devices), build_states(events)
