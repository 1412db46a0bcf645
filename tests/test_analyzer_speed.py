"""The analyzer's fast paths give exactly what they gave before, and what the simple way gives.

* Request lifetimes (the grouped, binary-searched ``timelines.build_requests``) equal a plain per-request
  Python walk of the rules in the module docstring, on random event tables full of the awkward cases (handle
  reuse, late messages, forwarding, cancellation on the queue, requeue) and on every bundled and real input.
* Every bundled and real input (alone, all together, combined) triages to the committed expectations in
  tests/data/analyzer-expected.json: each timeline's digest (every cell and dtype) and every finding (its main
  fields in the clear, the whole finding as a digest). After a change meant to alter the output, rewrite them
  with ``python tests/test_analyzer_speed.py --write`` and say why in the commit.
"""
from __future__ import annotations

import hashlib
import json
import sys
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from analyzer.events import EVENT_COLUMNS, EventKind
from analyzer.timelines import ARRIVAL_KINDS, REQUEST_COLUMNS, build_requests, queue_devices
from analyzer.triage import triage
from parsers import ntstatus
from parsers.decode import DecodeOptions
from parsers.errors import EvidenceError
from paths import DATA, ROOT, SAMPLES

EXPECTED = DATA / "analyzer-expected.json"
TMF = str(SAMPLES / "tmf")
_END = {EventKind.REQUEST_COMPLETED.value: "completed", EventKind.REQUEST_COMPLETED_ON_ARRIVAL.value: "completed",
        EventKind.REQUEST_CANCELLED.value: "cancelled"}


def _singles() -> list[tuple[str, str, DecodeOptions]]:
    """(name, path, decode options) of every bundled and real input."""
    tmf = DecodeOptions([TMF])
    with_tmf = sorted(SAMPLES.glob("scenarios/*.ifr")) + sorted(SAMPLES.glob("ifr/*.ifr")) + \
        sorted(SAMPLES.glob("dumps/*.dmp")) + sorted(SAMPLES.glob("objects/*.wdfsnap"))
    pastes = sorted((DATA / "real-logs").rglob("*.txt"))
    return [(str(p.relative_to(ROOT)), str(p), tmf) for p in with_tmf] + \
        [(str(p.relative_to(ROOT)), str(p), DecodeOptions()) for p in pastes]


GROUPS = ("scenarios together", "scenarios combined", "pastes together", "pastes combined")
CASES = [name for name, *_ in _singles()] + list(GROUPS)


@lru_cache(maxsize=1)
def _cases() -> dict[str, tuple[list[str], DecodeOptions, bool]]:
    """name -> (paths, decode options, combine) of every case: each input alone, then several together."""
    cases = {name: ([path], options, False) for name, path, options in _singles()}
    scenarios = [str(p) for p in sorted(SAMPLES.glob("scenarios/*.ifr"))]
    pastes = [path for name, path, options in _singles() if name.startswith("tests/") and _readable(path, options)]
    tmf = DecodeOptions([TMF])
    return cases | dict(zip(GROUPS, [(scenarios, tmf, False), (scenarios[:5], tmf, True),
                                     (pastes, DecodeOptions(), False), (pastes[:8], DecodeOptions(), True)]))


def _readable(path: str, options: DecodeOptions) -> bool:
    try:
        triage([path], options)
        return True
    except EvidenceError:
        return False


def _digest(text: str) -> str:
    return hashlib.sha256(text.replace(str(ROOT), "<root>").encode()).hexdigest()[:16]


def _outcome(paths: list[str], options: DecodeOptions, combine: bool) -> dict:
    """What the committed expectations hold for one case."""
    try:
        result = triage(paths, options, combine=combine)
    except EvidenceError as error:
        return {"error": _digest(str(error))}
    timelines = {name: _digest(" ".join(map(str, frame.dtypes)) + "\n" + frame.to_csv(index=False))
                 for name in ("requests", "queues", "states") for frame in [getattr(result.timelines, name)]}
    findings = []
    for f in result.findings:
        everything = {name: getattr(f, name) for name in f.__slots__ if name != "object_view"}
        findings.append({"rule": f.rule, "severity": f.severity.name, "summary": f.summary,
                         "at_index": f.at_index, "requests_explained": [hex(r) for r in f.requests_explained],
                         "evidence": [[e.index, e.role] for e in f.evidence], "digest": _digest(repr(everything))})
    return {"timelines": timelines, "rows": {name: len(getattr(result.timelines, name)) for name in timelines},
            "findings": findings}


def expectations() -> dict:
    return {name: _outcome(*_cases()[name]) for name in CASES}


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CASES)
def test_triage_output_is_the_committed_one(name, expected):
    assert _outcome(*_cases()[name]) == expected[name]


def test_every_case_is_expected(expected):
    assert sorted(expected) == sorted(CASES)
    assert sum(len(e.get("findings", ())) for e in expected.values()) > 100  # the cases do exercise the rules


# --- request lifetimes, the simple way --------------------------------------------------------------------------

def reference_requests(frame: pd.DataFrame, devices: dict[int, int]) -> list[dict]:
    """The requests timeline by walking each request's events in table order: its first event opens a lifetime,
    so does an arrival after an end of the current one; other messages after an end are ignored."""
    by_request: dict[int, list] = {}
    for index, e in zip(frame.index, frame.to_dict("records")):
        if not pd.isna(e["request"]):
            by_request.setdefault(int(e["request"]), []).append((int(index), e))
    lifetimes = []
    for request, events in by_request.items():
        current = None
        for index, e in events:
            ends = e["kind"] in _END and (e["kind"] != EventKind.REQUEST_CANCELLED.value
                                          or e["detail"] == "cancelled on queue")
            if current is None or (e["kind"] in ARRIVAL_KINDS and current["ended"]):
                current = {"request": request, "events": [], "ended": False}
                lifetimes.append(current)
            elif current["ended"] and not ends:
                continue
            current["events"].append((index, e, ends))
            current["ended"] |= ends
    return sorted((_reference_row(t["request"], t["events"], devices) for t in lifetimes),
                  key=lambda row: row["first_index"])


def _reference_row(request: int, events: list, devices: dict[int, int]) -> dict:
    def last(kind=None, named=None):
        found = [(i, e) for i, e, _ in events if (kind is None or e["kind"] in kind)
                 and (named is None or not pd.isna(e[named]))]
        return found[-1] if found else (None, None)

    def first(kind):
        return next(((i, e) for i, e, _ in events if e["kind"] in kind), (None, None))

    def value(e, name):
        return None if e is None or pd.isna(e[name]) else e[name]

    end_index, end = next(((i, e) for i, e, ends in events if ends), (None, None))
    outcome = _END[end["kind"]] if end is not None else "outstanding"
    _, with_queue = last(named="queue")
    queue = value(with_queue, "queue")
    named_before, forwarded = None, False
    for _, e, _ in events:
        if e["kind"] == EventKind.REQUEST_QUEUED.value and value(e, "queue") is not None and named_before is not None:
            forwarded |= named_before != e["queue"]
        if value(e, "queue") is not None:
            named_before = e["queue"]
    _, requeue = last({EventKind.REQUEST_ACKNOWLEDGED.value, EventKind.REQUEST_REQUEUED.value})
    status = value(end, "status")
    first_index, opening = events[0][:2]
    return {
        "input": opening["input"], "request": request, "irp": value(last(named="irp")[1], "irp"), "queue": queue,
        "device": devices.get(int(queue)) if queue is not None else None,
        "callback": value(last({EventKind.REQUEST_PRESENTED.value})[1], "detail"),
        "first_index": first_index, "first_time": value(opening, "timestamp"),
        "queued_index": first({EventKind.REQUEST_QUEUED.value})[0],
        "presented_index": last({EventKind.REQUEST_PRESENTED.value})[0],
        "stop_notified_index": last({EventKind.POWER_STOP_NOTIFY.value})[0],
        "acknowledged_index": last({EventKind.REQUEST_ACKNOWLEDGED.value})[0],
        "requeued": requeue is not None and (requeue["kind"] == EventKind.REQUEST_REQUEUED.value
                                             or str(value(requeue, "detail")).startswith("with")),
        "forwarded": forwarded,
        "completed_index": end_index if outcome == "completed" else None,
        "cancelled_index": end_index if outcome == "cancelled" else None,
        "end_index": end_index, "end_time": value(end, "timestamp"), "status": status,
        "status_name": ntstatus.render(int(status)) if status is not None else None,
        "information": value(end, "information"), "outcome": outcome,
    }


def _cells(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values (missing: None), to compare with the reference."""
    def plain(v):
        if isinstance(v, (np.bool_, np.integer)):
            return v.item()
        return None if v is None or v is pd.NA or v is pd.NaT else v
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


_KINDS = [EventKind.REQUEST_QUEUED, EventKind.REQUEST_PRESENTED, EventKind.REQUEST_ACKNOWLEDGED,
          EventKind.REQUEST_REQUEUED, EventKind.REQUEST_CANCELLED, EventKind.REQUEST_COMPLETE_CALLED,
          EventKind.REQUEST_COMPLETED, EventKind.REQUEST_COMPLETED_ON_ARRIVAL, EventKind.REQUEST_NOT_OWNED,
          EventKind.COMPLETION_ERROR, EventKind.POWER_STOP_NOTIFY, EventKind.QUEUE_POWER_ACTION,
          EventKind.QUEUE_POWER_STATE, EventKind.FRAMEWORK, EventKind.RAW]
_DETAILS = ["EvtIoRead", "EvtIoDeviceControl", "cancelled on queue", "cancel routine called", "with requeue",
            "without requeue", None]


def random_events(seed: int) -> pd.DataFrame:
    """A random event table (the event table's dtypes) over a few reused handles."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))

    def handles(pool, missing):
        values = rng.choice(np.array(pool, dtype=np.uint64), n)
        return pd.arrays.IntegerArray(values, rng.random(n) < missing)

    times = pd.Series(pd.Timestamp("2026-12-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**9, n), unit="ns"))
    columns = {
        "input": pd.Categorical(rng.choice(["a.txt", "b.txt"], n)),
        "kind": pd.Categorical(rng.choice([k.value for k in _KINDS], n)),
        "request": handles([0xFFFFC00011110000, 0xFFFFC00022220000, 0x0000111122223330], 0.15),
        "queue": handles([0xFFFFC000AAAA0000, 0xFFFFC000BBBB0000], 0.5),
        "device": handles([0xFFFFC000DDDD0000, 0xFFFFC000EEEE0000], 0.6),
        "irp": handles([0xFFFFC30A1B2C80A0, 0xFFFFC30A1B2C90B0], 0.6),
        "status": handles([0, 0xC0000120, 0x103], 0.5),
        "information": handles([0, 0x10], 0.5),
        "detail": pd.Categorical(rng.choice(np.array(_DETAILS, dtype=object), n)),
        "timestamp": times.where(rng.random(n) > 0.1),
    }
    frame = pd.DataFrame({name: columns.get(name, pd.Series([None] * n, dtype=object)) for name in EVENT_COLUMNS})
    return frame if seed % 2 else frame[rng.random(n) < 0.8]  # odd seeds: a scope of rows, index not 0..n-1


@pytest.mark.parametrize("seed", range(300))
def test_request_lifetimes_equal_the_simple_walk(seed):
    frame = random_events(seed)
    devices = queue_devices(frame)
    got = build_requests(frame, devices)
    assert tuple(got.columns) == REQUEST_COLUMNS
    assert _cells(got) == reference_requests(frame, devices)


def test_request_lifetimes_of_every_input_equal_the_simple_walk():
    for name, path, options in _singles():
        if _readable(path, options):
            result = triage([path], options)
            frame = result.events.frame
            assert _cells(result.timelines.requests) == reference_requests(frame, queue_devices(frame)), name


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_analyzer_speed.py --write   (rewrites " + str(EXPECTED) + ")")
    EXPECTED.write_text(json.dumps(expectations(), indent=1) + "\n", encoding="utf-8")
