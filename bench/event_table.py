"""Timelines + every rule on a large event table: seconds, events/s and peak memory per size, and the ratio
to a plain pandas baseline (min/max/count of the row number per request handle) over the same table.

The table is synthesized as columns (no parsing): request lifetimes (queued, presented, completion call,
completion) over a pool of reused handles on a few power-managed queues, a power-down episode with EvtIoStop
every 50,000 requests, state transitions, and one leaked request in 10,000 (WDF003) plus one unacknowledged
EvtIoStop (WDF002), so every rule has work to do.

    python bench/event_table.py [--sizes 100000,1000000,10000000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.events import CATEGORY_COLUMNS, EVENT_COLUMNS, EventKind, EventTable  # noqa: E402
from analyzer.rules import run_rules  # noqa: E402
from analyzer.rules.base import RuleContext  # noqa: E402
from analyzer.timelines import build_all, by_request  # noqa: E402

DEVICE, QUEUE = 0xFFFFC00012340000, 0xFFFFC00056780000
HANDLES = 50_000
_LIFETIME = (EventKind.REQUEST_QUEUED, EventKind.REQUEST_PRESENTED, EventKind.REQUEST_COMPLETE_CALLED,
             EventKind.REQUEST_COMPLETED)


def synthesize(n_events: int) -> pd.DataFrame:
    """About ``n_events`` rows shaped like a long sleep/resume trace."""
    lifetimes = n_events // 4
    request = np.uint64(0xFFFFC00100000000) + (np.arange(lifetimes, dtype=np.uint64) % np.uint64(HANDLES)) * np.uint64(0x100)
    kinds = np.tile(np.array([k.value for k in _LIFETIME], dtype=object), lifetimes)
    req = np.repeat(request, 4)
    leaked = np.zeros(len(kinds), dtype=bool)
    leaked_lifetimes = np.arange(5_000, lifetimes - HANDLES, 10_000)  # handle not reused afterwards: shift it
    req_leak = req.copy()
    for lt in leaked_lifetimes:
        req_leak[lt * 4: lt * 4 + 4] = np.uint64(0xFFFFC00200000000 + int(lt) * 0x100)
        leaked[lt * 4 + 2: lt * 4 + 4] = True
    keep = ~leaked
    kinds, req = kinds[keep], req_leak[keep]
    frame = pd.DataFrame({
        "kind": pd.Categorical(kinds),
        "request": pd.array(req, dtype="UInt64"),
        "queue": pd.array(np.where(kinds == EventKind.REQUEST_QUEUED.value, np.uint64(QUEUE), np.uint64(0)),
                          dtype="UInt64"),
        "detail": np.where(kinds == EventKind.REQUEST_PRESENTED.value, "EvtIoRead", None),
        "status": pd.array(np.where(np.isin(kinds, [EventKind.REQUEST_COMPLETED.value,
                                                    EventKind.REQUEST_COMPLETE_CALLED.value]), 0, 1), dtype="UInt64"),
    })
    frame.loc[frame["queue"] == 0, "queue"] = pd.NA
    frame.loc[frame["status"] == 1, "status"] = pd.NA
    frame["order"] = np.arange(len(frame), dtype=np.float64)
    frame = pd.concat([frame, _power_episodes(len(frame))], ignore_index=True).sort_values("order", kind="stable")
    frame = frame.drop(columns="order").reset_index(drop=True)
    n = len(frame)
    start = pd.Timestamp("2026-12-01T00:00:00Z")
    columns = {
        "input": pd.Categorical(["bench.txt"] * n), "log": pd.Categorical(["benchdrv"] * n),
        "file": pd.Series(["bench.txt"] * n, dtype=object), "line": pd.array(np.arange(n) + 1, dtype="Int64"),
        "offset": pd.array([None] * n, dtype="Int64"), "sequence": pd.array(np.arange(n), dtype="Int64"),
        "timestamp": pd.Series(start + pd.to_timedelta(np.arange(n) * 1000, unit="us")).dt.as_unit("ns"),  # as the table
        "text": pd.Series(["(synthetic)"] * n, dtype=object), "catalog_id": pd.Series([None] * n, dtype=object),
        "level": pd.Categorical(["TRACE_LEVEL_VERBOSE"] * n), "inferred": np.zeros(n, dtype=bool),
        "mentions": pd.Series([()] * n, dtype=object),
    }
    for name in EVENT_COLUMNS:
        if name not in frame:
            frame[name] = columns.get(name, pd.Series([None] * n, dtype=object))
    for name in ("device", "devobj", "irp", "information"):
        frame[name] = frame[name].astype("UInt64") if frame[name].dtype != object else pd.array(frame[name], "UInt64")
    frame["count"] = pd.array(frame["count"], dtype="Int64")
    for name in CATEGORY_COLUMNS:
        frame[name] = frame[name].astype("category")
    return frame[list(EVENT_COLUMNS)]


def _power_episodes(n_request_rows: int) -> pd.DataFrame:
    """A power-down and power-up every 200,000 request events (at least two episodes); the last power-down leaves one EvtIoStop
    unacknowledged on a request that never completes."""
    rows, step = [], min(200_000, n_request_rows // 2)
    for at in range(step // 2, n_request_rows, step):
        last = at + step >= n_request_rows
        order = at - 0.5
        rows += [
            {"order": order, "kind": EventKind.QUEUE_POWER_ACTION.value, "device": DEVICE, "detail": "FxIoStopProcessingForPowerHold"},
            {"order": order, "kind": EventKind.QUEUE_POWER_STOP.value, "queue": QUEUE, "detail": "stop without in-flight requests"},
            {"order": order, "kind": EventKind.QUEUE_POWER_STATE.value, "queue": QUEUE, "state": "FxIoQueuePowerOff"},
            {"order": order, "kind": EventKind.STATE.value, "device": DEVICE, "machine": "power", "state": "WdfDevStatePowerDx",
             "from_state": "WdfDevStatePowerGotoDx"},
        ]
        if last:
            rows.append({"order": order, "kind": EventKind.POWER_STOP_NOTIFY.value, "queue": QUEUE,
                         "request": 0xFFFFC00300000000, "detail": "stop"})
            continue
        rows += [
            {"order": order + 0.1, "kind": EventKind.QUEUES_RESUMED.value, "device": DEVICE, "detail": "resume"},
            {"order": order + 0.1, "kind": EventKind.QUEUE_POWER_STATE.value, "queue": QUEUE, "state": "FxIoQueuePowerOn"},
            {"order": order + 0.1, "kind": EventKind.STATE.value, "device": DEVICE, "machine": "power", "state": "WdfDevStatePowerD0",
             "from_state": "WdfDevStatePowerWaking"},
        ]
    extra = pd.DataFrame(rows)
    for name in ("queue", "request", "device"):
        extra[name] = pd.array(extra.get(name, pd.Series([None] * len(extra))).tolist(), dtype="UInt64")
    extra["kind"] = extra["kind"].astype(object)
    return extra


def triage_table(frame: pd.DataFrame) -> int:
    """Timelines and every rule over one scope; returns the number of findings."""
    table = EventTable(frame)
    sorted_requests = by_request(frame)  # as analyzer/triage.py does: one sort for the timeline and WDF005
    requests, queues, states = build_all(frame, sorted_requests)
    ctx = RuleContext(events=table, scope=frame, requests=requests, queues=queues, states=states, input="bench.txt",
                      sorted_requests=sorted_requests)
    return len(run_rules(ctx))


def baseline(frame: pd.DataFrame) -> None:
    """One plain grouped aggregation over the same table."""
    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    positions.groupby(frame["request"]).agg(["min", "max", "count"])


def _status(field: str) -> int:
    """A /proc/self/status memory figure in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return -1


def _reset_peak() -> None:
    """Reset the process's peak RSS (VmHWM) so the next peak is the triage's own."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    args = parser.parse_args()
    print("triage s is wall-clock time, cpu s the process's own CPU time (the same on a loaded machine)")
    print(f"{'events':>10} {'triage s':>9} {'cpu s':>6} {'events/s':>11} {'baseline s':>10} {'ratio':>6} {'findings':>8} "
          f"{'table MiB':>9} {'triage peak MiB':>15}")
    for size in (int(s) for s in args.sizes.split(",")):
        frame = synthesize(size)
        table_mib = frame.memory_usage(deep=False).sum() / 2**20
        before = _status("VmRSS")
        _reset_peak()
        t0, cpu0 = time.perf_counter(), time.process_time()
        findings = triage_table(frame)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        peak = _status("VmHWM") - before  # memory the triage itself added on top of the table
        t0 = time.perf_counter()
        baseline(frame)
        base = time.perf_counter() - t0
        print(f"{len(frame):>10} {elapsed:>9.2f} {cpu:>6.2f} {len(frame) / elapsed:>11,.0f} {base:>10.2f} {elapsed / base:>6.1f} "
              f"{findings:>8} {table_mib:>9,.0f} {peak:>15,.0f}")
        del frame


if __name__ == "__main__":
    main()
