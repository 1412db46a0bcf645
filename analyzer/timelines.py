"""Timelines: the typed events folded into three pandas DataFrames.

Every frame has the same columns whether or not the evidence held any row of its kind. ``*_index``
columns are positions in the event list the frames were built from; times are ``datetime64[ns, UTC]``
(NaT when the evidence carries no timestamps); handles, pointers, indexes and statuses are nullable
unsigned 64-bit integers (``UInt64``: kernel pointers do not fit a signed int64); ``sequence`` and
``waiting`` are nullable signed (``Int64``).

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
"""
from __future__ import annotations

import pandas as pd

from analyzer.events import Event, EventKind
from analyzer.states import is_resting
from parsers import ntstatus

REQUEST_COLUMNS = (
    "request", "irp", "queue", "device", "callback", "first_index", "first_time", "queued_index",
    "presented_index", "stop_notified_index", "acknowledged_index", "requeued", "forwarded", "completed_index",
    "cancelled_index", "end_index", "end_time", "status", "status_name", "information", "outcome",
)
QUEUE_COLUMNS = ("queue", "device", "index", "sequence", "time", "kind", "power_state", "episode", "waiting", "detail")
STATE_COLUMNS = ("device", "devobj", "machine", "index", "sequence", "time", "from_state", "state", "transitional")

_INT_COLUMNS = {
    "request", "irp", "queue", "device", "devobj", "first_index", "queued_index", "presented_index",
    "stop_notified_index", "acknowledged_index", "completed_index", "cancelled_index", "end_index", "status",
    "information", "index", "sequence", "episode", "waiting",
}
_SIGNED_COLUMNS = {"sequence", "waiting"}  # the record's LONG sequence number, a %d count
_TIME_COLUMNS = {"first_time", "end_time", "time"}
_BOOL_COLUMNS = {"requeued", "forwarded", "transitional"}

_QUEUE_KINDS = {
    EventKind.QUEUE_POWER_STATE, EventKind.QUEUE_POWER_STOP, EventKind.QUEUE_WAITING_DRIVER,
    EventKind.QUEUE_POWERED_OFF, EventKind.QUEUE_POWERED_ON, EventKind.QUEUE_WAITING, EventKind.QUEUE_CALLBACK,
    EventKind.QUEUE_SHUTDOWN, EventKind.POWER_STOP_NOTIFY, EventKind.POWER_RESUME_NOTIFY,
}
_END_KINDS = {EventKind.REQUEST_COMPLETED: "completed", EventKind.REQUEST_COMPLETED_ON_ARRIVAL: "completed",
              EventKind.REQUEST_CANCELLED: "cancelled"}
ARRIVAL_KINDS = {EventKind.REQUEST_QUEUED, EventKind.REQUEST_PRESENTED, EventKind.REQUEST_COMPLETED_ON_ARRIVAL}


def ends_request(event: Event) -> bool:
    """True for events after which the framework no longer holds the request: a completion (also one
    the queue did itself on arrival), or a cancellation the framework completes itself (cancelled while
    still on the queue). A cancel routine being called leaves the request with the driver, which must
    still complete it."""
    return event.kind in _END_KINDS and (
        event.kind is not EventKind.REQUEST_CANCELLED or event.detail == "cancelled on queue")


def _column(name: str, values: list):
    """One column with the project's dtype, built from the Python values (no float detour for handles)."""
    if name in _SIGNED_COLUMNS:
        return pd.array([v if isinstance(v, int) and -(1 << 63) <= v < 1 << 63 else None for v in values], dtype="Int64")
    if name in _INT_COLUMNS:  # a value that cannot be a handle/index/status (damaged evidence) is left out
        return pd.array([v if isinstance(v, int) and 0 <= v < 1 << 64 else None for v in values], dtype="UInt64")
    if name in _TIME_COLUMNS:
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype("datetime64[ns, UTC]")
    if name in _BOOL_COLUMNS:
        return pd.array([bool(v) for v in values], dtype=bool)
    return pd.Series(values, dtype=object)


def frame(rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` and the project's dtypes (nullable UInt64/Int64, UTC times)."""
    data = {name: _column(name, [row.get(name) for row in rows]) for name in columns}
    return pd.DataFrame({name: pd.Series(col).reset_index(drop=True) for name, col in data.items()},
                        columns=list(columns))


class _Builder:
    def __init__(self, events: list[Event]):
        self.events = events
        self.devices = sorted({e.device for e in events if e.device is not None})
        self.queue_device: dict[int, int] = {}
        self.requests: list[dict] = []
        self.live: dict[int, dict] = {}
        self.request_queue: dict[int, int] = {}

    def device_of_queue(self, queue: int | None) -> int | None:
        if queue is None:
            return None
        if queue in self.queue_device:
            return self.queue_device[queue]
        return self.devices[0] if len(self.devices) == 1 else None

    def request_row(self, event: Event) -> dict:
        row = self.live.get(event.request)
        if row is None:
            row = dict.fromkeys(REQUEST_COLUMNS)
            row.update(request=event.request, first_index=event.index, first_time=event.timestamp, requeued=False,
                       forwarded=False, outcome="outstanding")
            self.live[event.request] = row
            self.requests.append(row)
        if event.queue is not None:
            if event.kind is EventKind.REQUEST_QUEUED and row["queue"] not in (None, event.queue):
                row["forwarded"] = True
            row["queue"] = event.queue
        if event.irp is not None:
            row["irp"] = event.irp
        return row


def build_requests(events: list[Event], builder: _Builder | None = None) -> pd.DataFrame:
    """The ``requests`` frame: one row per request lifetime."""
    b = builder or _Builder(events)
    for e in events:
        if e.request is None:
            continue
        if e.kind in ARRIVAL_KINDS and e.request in b.live \
                and b.live[e.request]["outcome"] != "outstanding":
            del b.live[e.request]  # handle reused for a new request
        if not ends_request(e) and e.request in b.live and b.live[e.request]["outcome"] != "outstanding":
            continue  # late messages about an ended request (e.g. completion errors) don't reopen it
        row = b.request_row(e)
        if e.kind is EventKind.REQUEST_QUEUED:
            row["queued_index"] = row["queued_index"] if row["queued_index"] is not None else e.index
        elif e.kind is EventKind.REQUEST_PRESENTED:
            row["presented_index"] = e.index
            row["callback"] = e.detail
        elif e.kind is EventKind.POWER_STOP_NOTIFY:
            row["stop_notified_index"] = e.index
        elif e.kind is EventKind.REQUEST_ACKNOWLEDGED:
            row["acknowledged_index"] = e.index
            row["requeued"] = bool(e.detail and e.detail.startswith("with"))
        elif e.kind is EventKind.REQUEST_REQUEUED:
            row["requeued"] = True
        elif ends_request(e) and row["outcome"] == "outstanding":
            row["outcome"] = _END_KINDS[e.kind]
            row["cancelled_index" if e.kind is EventKind.REQUEST_CANCELLED else "completed_index"] = e.index
            row["end_index"], row["end_time"] = e.index, e.timestamp
            if e.status is not None:
                row["status"], row["status_name"] = e.status, ntstatus.render(e.status)
            if e.information is not None:
                row["information"] = e.information
    for row in b.requests:
        row["device"] = b.device_of_queue(row["queue"])
    return frame(b.requests, REQUEST_COLUMNS)


def build_queues(events: list[Event], builder: _Builder | None = None) -> pd.DataFrame:
    """The ``queues`` frame: every queue event with the queue's power state and stop episode."""
    b = builder or _Builder(events)
    rows, power, episode, current_device = [], {}, {}, None
    for e in events:
        if e.kind in (EventKind.QUEUE_POWER_ACTION, EventKind.QUEUES_RESUMED):
            current_device = e.device
            continue
        if e.kind not in _QUEUE_KINDS or e.queue is None:
            continue
        if current_device is not None:
            b.queue_device.setdefault(e.queue, current_device)
        if e.kind is EventKind.QUEUE_POWER_STATE:
            power[e.queue] = e.state
        elif e.kind is EventKind.QUEUE_POWER_STOP:
            episode[e.queue] = episode.get(e.queue, 0) + 1
        rows.append({
            "queue": e.queue, "device": None, "index": e.index, "sequence": e.sequence, "time": e.timestamp,
            "kind": e.kind.value, "power_state": power.get(e.queue), "episode": episode.get(e.queue, 0),
            "waiting": e.count, "detail": e.detail,
        })
    for row in rows:
        row["device"] = b.device_of_queue(row["queue"])
    return frame(rows, QUEUE_COLUMNS)


def build_states(events: list[Event]) -> pd.DataFrame:
    """The ``states`` frame: every state-machine transition in order."""
    rows = [{
        "device": e.device, "devobj": e.devobj, "machine": e.machine, "index": e.index, "sequence": e.sequence,
        "time": e.timestamp, "from_state": e.from_state, "state": e.state,
        "transitional": not is_resting(e.machine, e.state),
    } for e in events if e.kind is EventKind.STATE]
    return frame(rows, STATE_COLUMNS)


def build_all(events: list[Event]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(requests, queues, states), sharing the queue -> device map learned from the queue events."""
    builder = _Builder(events)
    queues = build_queues(events, builder)
    requests = build_requests(events, builder)
    return requests, queues, build_states(events)
