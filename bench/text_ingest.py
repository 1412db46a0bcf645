"""Pasted-text ingestion speed: real logs from tests/data/real-logs repeated to 10k, 100k and 1M lines, as
pasted (debugger chatter, stacks, driver lines and framework lines) and their framework lines alone (a long
!wdflogdump), each written to a file and read as the CLI reads a text file (parsers.evidence.text_chunks, pieces
of whole lines, into parsers.logtext.read_report_text).

Each paste is measured in a process of its own, as the CLI reads one (a warm-up read of 2,000 lines first: the
catalog's expressions are compiled once per process), so that no measurement runs on the heap another left. For each
size prints lines/s and framework lines/s (best of 25 runs at 10k lines, 7 at 100k, 3 from 1M), and the ratio to a baseline measured in
the same process on the same file, its runs taking turns with the reader's: the file read whole and one pass of one
compiled regular expression over it (a wdfkd record pattern, ``finditer`` over the whole text, every match's groups
read). The last column is the rate from the file to the analyzer's event table (read + ``EventTable.from_messages``,
which takes the framework lines typed in bulk as columns: parsers.logtext.TextMessages), what triage waits for.
Usage: python bench/text_ingest.py [LINES...]   (default 10000 100000 1000000)
"""
from __future__ import annotations

import gc
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analyzer.events import EventTable
from parsers.catalog import load
from parsers.evidence import text_chunks
from parsers.logtext import read_report_text

REAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "real-logs"
_FRAMEWORK_LINE = re.compile(r"^\d+: (?:\S+ )?Fx\w*::\w+ - ")
_BASELINE = re.compile(r"^\s*(\d+)\s*:\s+(?:(\S+)\s+-\s+)?(.*)$", re.MULTILINE)


def build_paste(lines: int, framework_only: bool = False) -> str:
    unit = [line for p in sorted(REAL.glob("*.txt")) for line in p.read_text(encoding="utf-8", errors="replace").splitlines()]
    if framework_only:
        unit = [line for line in unit if _FRAMEWORK_LINE.match(line)]
    return "\n".join((unit * (lines // len(unit) + 1))[:lines])


def baseline_seconds(path: Path) -> float:
    start = time.perf_counter()
    for m in _BASELINE.finditer(path.read_text(encoding="utf-8")):
        m.groups()
    return time.perf_counter() - start


def _best(runs: int, *measures) -> list[tuple[float, object]]:
    """For each of ``measures``, the shortest of ``runs`` timings of ``measure()`` (seconds, and its last result);
    the measures take turns, so that a slow spell of the machine falls on each of them alike."""
    best, results = [float("inf")] * len(measures), [None] * len(measures)
    for _ in range(runs):
        for k, measure in enumerate(measures):
            results[k] = None
            gc.collect()  # the previous run's messages are freed first: a full collection would scan them
            start = time.perf_counter()
            results[k] = measure()
            best[k] = min(best[k], time.perf_counter() - start)
    return list(zip(best, results))


def measure(size: int, framework_only: bool) -> str:
    """One row of the table: a paste of ``size`` lines written to a file and read (see the module docstring)."""
    load()  # the catalog is read once per process; the paste still learns its line shapes
    read_report_text(build_paste(2000), "warm-up.txt")  # compiles the catalog's expressions used (once per process)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"paste-{size}.txt"
        path.write_text(build_paste(size, framework_only), encoding="utf-8")
        runs = 25 if size <= 10_000 else 7 if size <= 100_000 else 3  # short timings jitter most: more runs
        (elapsed, logset), (base, _) = _best(runs, lambda: read_report_text(text_chunks(str(path)), str(path)),
                                             lambda: baseline_seconds(path))
        typed = sum(facts["typed"] for facts in logset.logs.values())  # counted without building a message
        logset = None
        [(table, _)] = _best(runs, lambda: EventTable.from_messages(
            [(str(path), read_report_text(text_chunks(str(path)), str(path)).messages)]))
    return (f"{'framework only' if framework_only else 'as pasted':>15} {size:9,} {typed:9,} {size / elapsed:11,.0f} "
            f"{typed / elapsed:11,.0f} {size / base:19,.0f} {elapsed / base:5.1f}x {size / table:23,.0f}")


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        print(measure(int(sys.argv[2]), sys.argv[3] == "framework"))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000]
    print(f"{'paste':>15} {'lines':>9} {'framework':>9} {'lines/s':>11} {'fw lines/s':>11} {'regex pass lines/s':>19} "
          f"{'ratio':>6} {'to event table lines/s':>23}", flush=True)
    for kind in ("pasted", "framework"):
        for size in sizes:  # each in a process of its own, as the CLI reads a paste (no heap left by the others)
            subprocess.run([sys.executable, __file__, "--one", str(size), kind], check=True)


if __name__ == "__main__":
    main()
