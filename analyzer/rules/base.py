"""What every rule gets to look at, and the small helpers they share.

A rule is a module with ``RULE_ID``, ``TITLE``, ``DEPENDS_ON`` (the rules whose findings it reads), a
docstring (pattern, why it matters, usual fix) and ``check(ctx) -> [Finding]``. Rules query the event
table of one scope (one input, or every input with ``--combine``) through :class:`RuleContext`, whose
lookups are grouped once and answered by binary search, so a rule costs O(n log n) at worst however many
requests the evidence holds.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from analyzer.events import Event, EventKind, EventTable
from analyzer.result import EvidenceLine, Finding, hexh  # noqa: F401 - rules import hexh from here
from analyzer.timelines import Handles, by_request, is_in, row_numbers
from parsers.records import BugCheck


@dataclass
class RuleContext:
    """The evidence of one scope as the rules see it: the event table (``events``; ``scope`` holds this
    scope's rows, indexed by row number), the three timelines, the bugcheck if known, and the findings of
    the rules already run; ``sorted_requests`` is ``timelines.by_request(scope)`` when the caller built it
    for the timelines."""

    events: EventTable
    scope: pd.DataFrame
    requests: pd.DataFrame
    queues: pd.DataFrame
    states: pd.DataFrame
    bugcheck: BugCheck | None = None
    input: str = ""
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    sorted_requests: tuple[np.ndarray, np.ndarray] | None = None  # timelines.by_request(scope), made once
    _positions: dict = field(default_factory=dict, repr=False)
    _where: dict = field(default_factory=dict, repr=False)
    _rows: dict = field(default_factory=dict, repr=False)
    _end_times: dict | None = field(default=None, repr=False)
    _last_states: dict | None = field(default=None, repr=False)
    _last_requests: dict | None = field(default=None, repr=False)
    _outstanding: list[dict] | None = field(default=None, repr=False)

    def evidence(self, index: int, role: str, event: Event | None = None) -> EvidenceLine:
        """An evidence line pointing at event ``index`` (``event``: that row, when the caller has read it)."""
        e = self.events[index] if event is None else event
        return EvidenceLine(ref=e.ref, text=e.text, role=role, index=index, sequence=e.sequence, timestamp=e.timestamp,
                            inferred=e.inferred)

    def findings_of(self, rule_id: str) -> list[Finding]:
        """Findings of a rule this one declared in ``DEPENDS_ON``."""
        return self.findings.get(rule_id, [])

    def where(self, *kinds: EventKind) -> np.ndarray:
        """Positions in ``scope`` of this scope's events of ``kinds``, in order (found once per set of kinds)."""
        key = frozenset(kinds)
        if key not in self._where:
            self._where[key] = np.flatnonzero(is_in(self.scope["kind"], [k.value for k in kinds]))
        return self._where[key]

    def row_numbers(self, at: np.ndarray) -> list[int]:
        """The event table row numbers of positions ``at`` in ``scope``."""
        return row_numbers(self.scope, at).tolist()

    def rows(self, *kinds: EventKind) -> pd.DataFrame:
        """This scope's events of ``kinds``, in order (selected once per set of kinds; do not modify)."""
        key = frozenset(kinds)
        if key not in self._rows:
            at = self.where(*kinds)
            self._rows[key] = self.scope.iloc[at] if len(at) else self.scope.iloc[:0]  # none: a slice, no copy
        return self._rows[key]

    def by_request(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``scope``, handles) of this scope's events that name a request, sorted by handle."""
        if self.sorted_requests is None:
            self.sorted_requests = by_request(self.scope)
        return self.sorted_requests

    def end_time(self, log: str | None = None) -> datetime | None:
        """The newest timestamp in this scope (of one log when given)."""
        if self._end_times is None:
            logs, stamps = self.scope["log"].astype("category"), self.scope["timestamp"]  # (categorical already)
            codes, times = logs.array.codes, stamps.array.asi8  # the log's category code, the time as an integer
            known = (codes >= 0) & stamps.notna().to_numpy()
            newest = np.full(len(logs.cat.categories), np.iinfo(np.int64).min)
            np.maximum.at(newest, codes[known], times[known])
            seen = np.unique(codes[known])
            newest = pd.to_datetime(newest[seen], unit=stamps.dtype.unit, utc=True).to_pydatetime()
            self._end_times = dict(zip(logs.cat.categories[seen].tolist(), newest))
            self._end_times[None] = max(self._end_times.values(), default=None)
        return self._end_times.get(log)

    def outstanding(self) -> list[dict]:
        """The request lifetimes still outstanding at the end of the evidence, in order (their request,
        first_index, queue, device, presented_index, callback and irp)."""
        if self._outstanding is None:
            at = np.flatnonzero(is_in(self.requests["outcome"], ["outstanding"]))
            self._outstanding = records(self.requests, ("request", "first_index", "queue", "device", "presented_index",
                                                        "callback", "irp"), at)
        return self._outstanding

    def last_state(self, device: int | None, machine: str) -> dict | None:
        """The device's newest transition of ``machine``: its ``index`` and ``state`` (None if the evidence has
        none)."""
        if self._last_states is None:  # later transitions overwrite earlier ones
            self._last_states = {(r["device"], r["machine"]): r for r in records(
                self.states, ("device", "machine", "state", "index")) if r["device"] is not None}
        return None if device is None else self._last_states.get((device, machine))

    def last_request(self, request: int | None) -> pd.Series | None:
        """The newest lifetime (row of ``requests``) of a request handle, or None."""
        if self._last_requests is None:
            last = self.requests["request"].drop_duplicates(keep="last")
            self._last_requests = {int(r): at for r, at in zip(last, last.index)}
        at = None if request is None else self._last_requests.get(request)
        return None if at is None else self.requests.loc[at]

    def positions(self, kinds: frozenset[EventKind], key: str | None = None, value=None) -> np.ndarray:
        """Sorted row numbers of this scope's events of ``kinds`` (whose column ``key`` equals ``value``).
        The rows of ``kinds`` are sorted by (key, row) once; each lookup is then two binary searches."""
        cache_key = (kinds, key)
        if cache_key not in self._positions:
            at = self.where(*kinds)
            rows = row_numbers(self.scope, at)
            if key is None:
                self._positions[cache_key] = (None, rows)
            else:
                column = Handles(self.scope[key])
                present = ~column.missing[at]
                keys, rows = column.values[at[present]], rows[present]
                order = np.argsort(keys, kind="stable")  # rows are ascending: stable keeps them so per key
                self._positions[cache_key] = (keys[order], rows[order])
        keys, at = self._positions[cache_key]
        if keys is None:
            return at
        if value is None:
            return _NONE
        lo, hi = np.searchsorted(keys, np.uint64(value), "left"), np.searchsorted(keys, np.uint64(value), "right")
        return at[lo:hi]

    def next_after(self, after: int, kinds: frozenset[EventKind], key: str | None = None, value=None) -> int | None:
        """The first event after row ``after`` of ``kinds`` (with ``key`` == ``value``), or None."""
        found = self.all_after(after, kinds, key, value, limit=1)
        return found[0] if found else None

    def all_after(self, after: int, kinds: frozenset[EventKind], key: str | None = None, value=None,
                  limit: int | None = None) -> list[int]:
        """Row numbers of the events after row ``after`` of ``kinds`` (with ``key`` == ``value``)."""
        at = self.positions(kinds, key, value)
        start = bisect_right(at, after)
        return [int(i) for i in at[start: None if limit is None else start + limit]]

    def last_before(self, before: int, kinds: frozenset[EventKind], key: str | None = None, value=None) -> int | None:
        """The last event before row ``before`` of ``kinds`` (with ``key`` == ``value``), or None."""
        at = self.positions(kinds, key, value)
        end = bisect_left(at, before)
        return int(at[end - 1]) if end else None

    def is_9f(self) -> bool:
        return self.bugcheck is not None and self.bugcheck.code == 0x9F


_NONE = np.array([], dtype=np.int64)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``, None when either is unknown."""
    return None if start is None or end is None else (end - start).total_seconds()


def duration_text(start: datetime | None, end: datetime | None) -> str:
    """' for 2m 5s' style text, or '' when times are unknown."""
    total = seconds_between(start, end)
    if total is None or total < 0:
        return ""
    seconds = int(total)
    if seconds < 1:
        return ""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return " for " + " ".join(p for p in parts if p)


def records(frame: pd.DataFrame, columns: tuple[str, ...], at: np.ndarray | None = None) -> list[dict]:
    """The rows (at positions ``at``, or all) of a timeline frame as dicts of Python values, None where missing."""
    return [dict(zip(columns, row)) for row in zip(*(_python(frame[name].array, at) for name in columns))]


def _python(array, at: np.ndarray | None) -> list:
    """An array's values (at positions ``at``, or all) as Python values, None where missing (read from the arrays:
    a small frame's columns cost more in pandas calls than in values)."""
    if at is not None:
        array = array.take(at)
    if isinstance(array, pd.Categorical):
        names = array.categories.tolist() + [None]  # code -1 (missing) reads the trailing None
        return [names[code] for code in array.codes.tolist()]
    values, missing = (array._data.tolist(), array._mask) if isinstance(array, pd.arrays.IntegerArray) else \
        (array.tolist(), pd.isna(array))
    for position in np.flatnonzero(missing).tolist():
        values[position] = None
    return values


def opt_int(value) -> int | None:
    """A DataFrame cell (nullable integer) as int or None."""
    return None if value is None or pd.isna(value) else int(value)
