"""WDF005 completion errors.

Pattern: the framework reports a completion it refused or flagged ("WDFREQUEST 0x... has already been
completed", "Completing Cancelable WDFREQUEST ...", "IRP ... of WDFREQUEST ... cannot be completed"),
KMDF verifier reports a completed request being used again ("WDFREQUEST 0x... is not owned by the
driver" after its completion: the second WdfRequestComplete of a double completion), or the evidence
shows the same request completed twice with no new arrival of that handle in between.

With no TMF, a record whose format is unknown but whose raw arguments contain the handle of a request
that was already completed is reported too, as inferred evidence (the framework traces nothing about a
request after completing it unless something is wrong with it), unless a later decoded arrival or
completion of that handle shows it was reused for a new request whose arrival was not decoded. Such a
reuse also keeps the later completion from counting as a second one.

Why it matters: completing a request twice or while it is still cancelable races with the cancel
routine; the second completion touches a freed IRP and ends in memory corruption or a 0x10D/0x44
bugcheck far from the real culprit.

Usual fix: have exactly one owner complete a request; call WdfRequestUnmarkCancelable before
WdfRequestComplete and, if it returns STATUS_CANCELLED, let the cancel routine complete it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.events import Event, EventKind
from analyzer.result import Finding, Severity
from analyzer.rules.base import RuleContext, hexh
from analyzer.timelines import ARRIVAL_KINDS, is_in

RULE_ID = "WDF005"
TITLE = "Request completion error"
DEPENDS_ON = ()

FIRST = "first completion"
AGAIN = "completed again"
UNIDENTIFIED = "unidentified framework message names it after its completion (no TMF)"
_COMPLETIONS = {EventKind.REQUEST_COMPLETE_CALLED, EventKind.REQUEST_COMPLETED}


class _Tracker:
    """Per request: where it was completed (if it was, since its last arrival) and what went wrong."""

    def __init__(self):
        self.completed_at: dict[int, int] = {}
        self.announced: set[int] = set()  # completion announced; the framework's own completion line follows
        self.unidentified: dict[int, int] = {}  # completed request -> first unknown record naming it since
        self.problems: dict[int, list[tuple[int, str]]] = {}

    def flag(self, request: int, index: int, role: str, with_first: bool = True) -> None:
        lines = self.problems.setdefault(request, [])
        if with_first and request in self.completed_at:
            lines.append((self.completed_at[request], FIRST))
        lines.append((index, role))

    def mentioned(self, e: Event) -> None:
        """An unidentified record: remember which completed requests its raw arguments name."""
        for r in e.mentions:
            if r in self.completed_at:
                self.unidentified.setdefault(r, e.index)

    def see(self, e: Event) -> None:
        r = e.request
        # a decoded arrival or completion after an unknown record naming the handle: it was reused for a new
        # request whose arrival was among the unknown records
        reused = r in self.unidentified and e.kind in ARRIVAL_KINDS | _COMPLETIONS
        if reused:
            del self.unidentified[r]
        if reused or e.kind in ARRIVAL_KINDS:
            self.completed_at.pop(r, None)
            self.announced.discard(r)
        if e.kind in (EventKind.REQUEST_COMPLETE_CALLED, EventKind.REQUEST_COMPLETED_ON_ARRIVAL):
            if r in self.completed_at:
                self.flag(r, e.index, AGAIN)
            self.completed_at.setdefault(r, e.index)
            self.announced.add(r)
        elif e.kind is EventKind.REQUEST_COMPLETED:
            if r in self.announced:
                self.announced.discard(r)
            elif r in self.completed_at:
                self.flag(r, e.index, AGAIN)
            self.completed_at.setdefault(r, e.index)
        elif e.kind is EventKind.REQUEST_NOT_OWNED:
            role = "used after completion: not owned by the driver" if r in self.completed_at \
                else "used while not owned by the driver"
            self.flag(r, e.index, role)
        elif e.kind is EventKind.COMPLETION_ERROR:
            self.flag(r, e.index, e.detail or "completion error", with_first=False)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per request with a completion error or a double completion."""
    t, queues = _Tracker(), {}  # request -> the first queue its events name
    for index in ctx.row_numbers(_suspects(ctx.scope, *ctx.by_request())):
        e = ctx.events[index]
        if e.request is not None:
            t.see(e)
            if e.queue is not None:
                queues.setdefault(e.request, e.queue)
        elif e.mentions:
            t.mentioned(e)
    for request, index in t.unidentified.items():  # nothing decoded after them explains them
        t.flag(request, index, UNIDENTIFIED)
    return [_finding(ctx, request, lines, queues.get(request)) for request, lines in t.problems.items()]


def _suspects(scope: pd.DataFrame, with_request: np.ndarray, request: np.ndarray) -> np.ndarray:
    """Positions in ``scope`` (in order) of the rows the tracker must see: every event of a request that is
    completed twice between two arrivals, completed before the driver's completion call, used while not owned or
    named in a completion error, or named by an unidentified record; and those unidentified records. Requests
    with one clean completion per arrival cannot produce a finding, so they are left out (this keeps the rule
    linear on long traces).
    ``with_request``, ``request``: the positions of the scope's events that name a request, sorted by handle."""
    kind = scope["kind"]
    raw, mentions = np.flatnonzero(is_in(kind, [EventKind.RAW.value])), scope["mentions"].to_numpy(dtype=object)
    unidentified = raw[np.fromiter(map(bool, mentions[raw]), dtype=bool, count=len(raw))]  # records naming pointers
    named = {int(p) for pointers in mentions[unidentified] for p in pointers}
    called = is_in(kind, [EventKind.REQUEST_COMPLETE_CALLED.value, EventKind.REQUEST_COMPLETED_ON_ARRIVAL.value],
                   with_request)
    completed = is_in(kind, [EventKind.REQUEST_COMPLETED.value], with_request)
    problem = is_in(kind, [EventKind.REQUEST_NOT_OWNED.value, EventKind.COMPLETION_ERROR.value], with_request)
    suspects = set(named)
    if len(request):
        segment_start = is_in(kind, ARRIVAL_KINDS, with_request)  # the tracker forgets completions at an arrival
        segment_start[0] = True
        segment_start[1:] |= request[1:] != request[:-1]
        bounds, pos = np.flatnonzero(segment_start), np.arange(len(request))
        first_called = np.minimum.reduceat(np.where(called, pos, len(pos)), bounds)
        first_completed = np.minimum.reduceat(np.where(completed, pos, len(pos)), bounds)
        bad = (np.add.reduceat(called, bounds) >= 2) | (np.add.reduceat(completed, bounds) >= 2) | \
            (np.add.reduceat(problem, bounds) > 0) | (first_completed < first_called)
        suspects |= {int(r) for r in np.unique(request[bounds[bad]])}
    wanted = np.array(sorted(suspects), dtype=np.uint64)
    lo, hi = np.searchsorted(request, wanted, "left"), np.searchsorted(request, wanted, "right")
    rows = np.concatenate([with_request[a:b] for a, b in zip(lo.tolist(), hi.tolist())] + [unidentified])
    return np.unique(rows)


def _finding(ctx: RuleContext, request: int, lines: list[tuple[int, str]], queue: int | None) -> Finding:
    lines = sorted(set(lines))
    what = sorted({role for _, role in lines if role not in (FIRST, AGAIN)})
    if any(role == AGAIN for _, role in lines):
        what.insert(0, "completed twice")
    at = next(i for i, role in lines if role != FIRST)
    event = ctx.events[at]
    only_inferred = all(role in (FIRST, UNIDENTIFIED) for _, role in lines)
    return Finding(
        rule=RULE_ID, title=TITLE, severity=Severity.WARNING if only_inferred else Severity.ERROR,
        summary=f"WDFREQUEST {hexh(request)}: {', '.join(what)}",
        probable_cause=("More than one code path completes this request (or completes it while it is still "
                        "cancelable, or uses it after completing it), racing with the cancel routine or "
                        "another completion."
                        + (" Inferred: the message that names it is unknown without the framework's TMF or "
                           "PDB; decode with --tmf/--pdb to see it." if only_inferred else "")),
        suggested_fix=("Give each request exactly one completing owner; WdfRequestUnmarkCancelable before "
                       "WdfRequestComplete, and leave STATUS_CANCELLED requests to the cancel routine."),
        log=event.log, queue=queue, request=request,
        evidence=[ctx.evidence(i, role) for i, role in lines],
        at_index=at, at_time=event.timestamp, facts={"problems": what, "inferred": only_inferred},
    )
