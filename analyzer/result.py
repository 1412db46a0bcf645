"""The triage result: what the analyzer hands to every renderer in :mod:`reports`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

import pandas as pd

from analyzer.events import EventTable
from parsers.records import BugCheck, SourceRef


def hexh(value: int | None) -> str:
    """A handle or pointer as wdfkd prints it (0x-prefixed hex), '?' when the evidence does not give it."""
    return "?" if value is None else f"0x{value:x}"


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> "Severity":
        return cls[text.upper()]


@dataclass(slots=True)
class EvidenceLine:
    """One piece of evidence behind a finding: the event it points to and why it matters."""

    ref: SourceRef
    text: str
    role: str  # e.g. "EvtIoStop called", "last power state"
    index: int | None = None  # event index in TriageResult.events
    sequence: int | None = None
    timestamp: datetime | None = None
    inferred: bool = False  # the line was recognized by shape (no TMF), not read from a TMF


@dataclass(slots=True)
class Finding:
    """A rule's verdict with the objects it concerns and the evidence lines."""

    rule: str  # "WDF002"
    title: str
    severity: Severity
    summary: str  # one line naming the objects
    probable_cause: str
    suggested_fix: str
    log: str = ""
    input: str = ""  # the evidence file (or files, with --combine) the finding rests on
    device: int | None = None
    queue: int | None = None
    request: int | None = None
    requests_explained: tuple[int, ...] = ()  # requests this finding explains (later rules leave them alone)
    evidence: list[EvidenceLine] = field(default_factory=list)
    at_index: int | None = None  # where to pin the finding on a timeline (event index)
    at_time: datetime | None = None
    facts: dict = field(default_factory=dict)
    object_view: tuple | None = None  # (DeviceView, QueueView | None) from analyzer.objects.walk: what it rests on


@dataclass(slots=True)
class InputFile:
    """One input: ``sha256`` of the whole file (None when it was not hashed whole: a crash dump), ``read_digest``
    the SHA-256 of the header and every block read (crash dumps; None otherwise)."""

    path: str
    sha256: str | None
    size: int
    kind: str  # "ifr", "text", ...
    read_digest: str | None = None


@dataclass(slots=True)
class Timelines:
    """pandas DataFrames; columns are documented in :mod:`analyzer.timelines`."""

    requests: pd.DataFrame
    queues: pd.DataFrame
    states: pd.DataFrame


@dataclass(slots=True)
class TriageResult:
    tool_version: str
    created: datetime
    inputs: list[InputFile]
    events: EventTable
    timelines: Timelines
    findings: list[Finding]
    bugcheck: BugCheck | None = None
    bugcheck_analysis: dict | None = None  # decoded parameters, see analyzer.bugcheck
    logs: list[dict] = field(default_factory=list)  # one per (input, log): input, name, facts (records, wrapped...)
    warnings: list[str] = field(default_factory=list)

    def worst_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)
