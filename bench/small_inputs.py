"""Cost of one small input, phase by phase: what a batch run (and the fuzzer) pays per file.

Every bundled scenario, IFR sample, dump and real pasted log (samples/, tests/data/real-logs) is run through
the whole pipeline the way ``wdftriage triage`` and ``batch`` do: load -> triage (timelines + rules) -> every
report format -> every timeline export. Prints milliseconds of CPU per input for each phase (best of
REPEATS, each phase timed on its own), and each phase as a multiple of reading the evidence (``load``), the
baseline measured in the same run on the same files.

Usage: python bench/small_inputs.py [REPEATS]   (default 5)
"""
from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.result import InputFile  # noqa: E402
from analyzer.triage import analyze  # noqa: E402
from parsers.decode import DecodeOptions  # noqa: E402
from parsers.errors import WdfTriageError  # noqa: E402
from parsers.evidence import load  # noqa: E402
from reports import render  # noqa: E402
from reports.tables import export_frame  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ("text", "md", "json", "html")
TIMELINES = ("requests", "queues", "states")
EXPORTS = ("table", "csv", "json", "parquet")


def inputs() -> list[tuple[Path, DecodeOptions]]:
    """Every bundled evidence file, with the TMF files the samples were written for."""
    tmf = DecodeOptions(tmf=[str(ROOT / "samples" / "tmf")])
    found = [(p, tmf) for p in sorted((ROOT / "samples" / "scenarios").glob("*.ifr"))]
    found += [(p, tmf) for p in sorted((ROOT / "samples" / "ifr").glob("*.ifr"))]
    found += [(p, tmf) for p in sorted((ROOT / "samples" / "dumps").glob("*.dmp"))]
    found += [(p, DecodeOptions()) for p in sorted((ROOT / "tests" / "data" / "real-logs").rglob("*.txt"))]
    return found


def _cpu(fn) -> tuple[float, object]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def one_pass(files) -> dict[str, float]:
    """CPU seconds per phase summed over ``files``."""
    spent: dict[str, float] = {}

    def add(phase: str, fn):
        seconds, out = _cpu(fn)
        spent[phase] = spent.get(phase, 0.0) + seconds
        return out

    for path, options in files:
        try:
            evidence = add("load", lambda: load(str(path), options))
        except WdfTriageError:
            continue
        info = InputFile(path=evidence.path, sha256=evidence.sha256, size=evidence.size, kind=evidence.kind,
                         read_digest=evidence.read_digest)
        result = add("triage", lambda: analyze([evidence.logset], inputs=[info]))
        for fmt in REPORTS:
            add(f"report {fmt}", lambda: render(result, fmt))
        for name in TIMELINES:
            frame = getattr(result.timelines, name)
            for fmt in EXPORTS:
                add(f"export {fmt}", lambda: export_frame(frame, fmt))
    return spent


def main(argv: list[str]) -> int:
    repeats = int(argv[0]) if argv else 5
    files = inputs()
    one_pass(files[:3])  # warm-up: imports, catalogs and caches loaded once per process
    best: dict[str, float] = {}
    for _ in range(repeats):
        gc.collect()
        for phase, seconds in one_pass(files).items():
            best[phase] = min(best.get(phase, seconds), seconds)
    n = len(files)
    total = sum(best.values())
    print(f"{n} inputs, best of {repeats}: {total / n * 1000:.1f} ms of CPU per input "
          f"({n / total:.1f} inputs/s on one core)")
    print(f"{'phase':16s} {'ms/input':>9s} {'x load':>7s}")
    for phase, seconds in sorted(best.items(), key=lambda kv: -kv[1]):
        print(f"{phase:16s} {seconds / n * 1000:9.2f} {seconds / best['load']:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
