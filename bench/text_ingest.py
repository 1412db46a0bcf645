"""Pasted-text ingestion speed on a large synthetic paste (real logs from tests/data/real-logs, repeated).

Prints lines/s and MB/s for parsers.logtext.read_report_text, and the ratio against a naive baseline
run in the same process on the same lines: every framework format's full-match regex tried on every
record line (measured on a sample of lines, extrapolated per line).
Usage: python bench/text_ingest.py [MEGABYTES]   (default 20)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from parsers.catalog import load
from parsers.logtext import read_report_text

REAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "real-logs"


def build_paste(megabytes: float) -> str:
    pieces = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(REAL.glob("*.txt"))]
    unit = "\n".join(pieces)
    return "\n".join([unit] * max(1, int(megabytes * 1e6 / len(unit))))


def naive_seconds_per_line(lines: list[str]) -> float:
    catalog = load()
    patterns = [catalog.pattern(e) for e in catalog.entries]
    sample = [line.split(" - ", 1)[-1] for line in lines if " - " in line][:200]
    start = time.perf_counter()
    for line in sample:
        next((p for p in patterns if p.fullmatch(line)), None)
    return (time.perf_counter() - start) / len(sample)


def main() -> None:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    paste = build_paste(megabytes)
    lines = paste.splitlines()
    start = time.perf_counter()
    logset = read_report_text(paste, "bench.txt")
    elapsed = time.perf_counter() - start
    typed = sum(m.catalog_id is not None for m in logset.messages)
    per_line_naive = naive_seconds_per_line(lines)
    naive_total = per_line_naive * len(lines)
    print(f"paste: {len(paste) / 1e6:.1f} MB, {len(lines):,} lines, {typed:,} framework messages typed")
    print(f"wdftriage reader : {len(lines) / elapsed:12,.0f} lines/s  {len(paste) / 1e6 / elapsed:6.1f} MB/s ({elapsed:.1f} s)")
    print(f"naive all-regex  : {1 / per_line_naive:12,.0f} lines/s  (extrapolated: {naive_total:.1f} s)")
    print(f"ratio            : {naive_total / elapsed:.1f}x faster")


if __name__ == "__main__":
    main()
