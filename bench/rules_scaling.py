"""How triage cost grows with the number of requests: pastes with 1k, 10k and 100k never-completed
requests (the leaked-request pattern WDF003 reports), each read and triaged whole.

Prints seconds per size, microseconds per request, and the ratio of each size's time to the previous
one's against the size ratio (10x more requests should cost about 10x, not 100x). A size is skipped
when the previous one's growth says it would take longer than --budget seconds.
Usage: python bench/rules_scaling.py [--sizes 1000,10000,100000] [--budget 600]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analyzer.triage import analyze  # noqa: E402
from parsers.logtext import read_report_text  # noqa: E402

HEADER = """0: kd> !wdfkd.wdflogdump wdfsample
There are {n} log entries for wdfsample
--- start of log ---
"""
QUEUE = 0x00003CF5E4D3F818
DEVICE = 0x00003CF5E4D3FD58


def paste(requests: int) -> str:
    """A !wdflogdump paste: the device's queue powered on, then ``requests`` requests queued and presented
    to the driver, none completed."""
    lines = [f"1: FxPkgIo::ResumeProcessingForPower - Power resume all queues of WDFDEVICE 0x{DEVICE:016X}",
             f"2: FxIoQueue::DispatchEvents - WDFQUEUE 0x{QUEUE:016X} Power Transition State FxIoQueuePowerOn"]
    seq = 3
    for i in range(requests):
        handle = 0x00003CF5E0000000 + 0x100 * i
        lines.append(f"{seq}: FxIoQueue::QueueRequest - Queuing WDFREQUEST 0x{handle:016X} on WDFQUEUE 0x{QUEUE:016X}")
        lines.append(f"{seq + 1}: FxIoQueue::DispatchRequestToDriver - Calling driver EvtIoRead for WDFREQUEST "
                     f"0x{handle:016X}")
        seq += 2
    return HEADER.format(n=seq - 1) + "\n".join(lines) + "\n---- end of log ----\n"


def measure(requests: int) -> tuple[float, int]:
    """Seconds to read and triage the paste, and the number of findings."""
    text = paste(requests)
    start = time.perf_counter()
    result = analyze([read_report_text(text, f"leaks-{requests}.txt")])
    return time.perf_counter() - start, len(result.findings)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--budget", type=float, default=600.0, help="skip a size predicted to take longer")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    measure(100)  # warm-up: catalog and imports
    previous = None
    print(f"{'requests':>9} {'seconds':>9} {'us/request':>11} {'findings':>9} {'time ratio':>11} {'size ratio':>11}")
    for size in sizes:
        if previous is not None:
            (p_size, p_seconds, p_growth) = previous
            predicted = p_seconds * (size / p_size) ** p_growth
            if predicted > args.budget:
                print(f"{size:>9} skipped: about {predicted:.0f} s at the measured growth (--budget {args.budget:.0f})")
                continue
        seconds, findings = measure(size)
        ratio = f"{seconds / previous[1]:>10.1f}x" if previous else f"{'':>11}"
        size_ratio = f"{size / previous[0]:>10.1f}x" if previous else f"{'':>11}"
        print(f"{size:>9} {seconds:>9.2f} {seconds / size * 1e6:>11.1f} {findings:>9} {ratio} {size_ratio}", flush=True)
        growth = max(1.0, math.log(seconds / previous[1]) / math.log(size / previous[0])) if previous else 1.0
        previous = (size, seconds, growth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
