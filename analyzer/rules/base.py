"""What every rule gets to look at, and the small helpers they share."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from analyzer.events import Event, EventKind
from analyzer.result import EvidenceLine, Finding
from parsers.records import BugCheck


@dataclass
class RuleContext:
    """The evidence as the rules see it: typed events, the three timelines, the bugcheck if known,
    the findings of the rules that ran before, and the requests they already explained."""

    events: list[Event]
    requests: pd.DataFrame
    queues: pd.DataFrame
    states: pd.DataFrame
    bugcheck: BugCheck | None = None
    findings: list[Finding] = field(default_factory=list)
    explained_requests: set[int] = field(default_factory=set)

    def evidence(self, index: int, role: str) -> EvidenceLine:
        """An evidence line pointing at event ``index``."""
        e = self.events[index]
        return EvidenceLine(ref=e.ref, text=e.text, role=role, index=index, sequence=e.sequence, timestamp=e.timestamp,
                            inferred=e.inferred)

    def end_time(self, log: str | None = None) -> datetime | None:
        """The newest timestamp in the evidence (of one log when given)."""
        times = [e.timestamp for e in self.events if e.timestamp is not None and (log is None or e.log == log)]
        return max(times, default=None)

    def last_state(self, device: int | None, machine: str) -> pd.Series | None:
        """The device's newest transition of ``machine`` (None if the evidence has none)."""
        rows = self.states[(self.states["machine"] == machine) & (self.states["device"] == device)] \
            if device is not None else self.states.iloc[0:0]
        return None if rows.empty else rows.iloc[-1]

    def later(self, after: int, kinds: set[EventKind], **match) -> list[Event]:
        """Events after index ``after`` of one of ``kinds`` whose fields equal ``match``."""
        return [e for e in self.events[after + 1:]
                if e.kind in kinds and all(getattr(e, k) == v for k, v in match.items())]

    def is_9f(self) -> bool:
        return self.bugcheck is not None and self.bugcheck.code == 0x9F


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


def opt_int(value) -> int | None:
    """A DataFrame cell (nullable integer) as int or None."""
    return None if value is None or pd.isna(value) else int(value)


def hexh(value: int | None) -> str:
    """A handle as wdfkd prints it."""
    return "?" if value is None else f"0x{value:x}"
