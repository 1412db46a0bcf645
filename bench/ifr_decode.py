"""IFR decoding speed, every figure measured in this process on the same buffers:

- the project's ring walk (``parse_ifr``: header, PrevOffset walk, every check and warning, sequence accounting;
  the offset of each record, whose fields the decoders read from the log area) — what the event table is filled
  from;
- a naive construct walk (``Struct.parse`` per record header), the baseline to beat by 10x;
- a plain ``struct.unpack_from`` loop over the same chain (no checks, no objects), the floor;
- the walked records turned into TraceMessages with their TMF formats (``messages_from_ifr``, the message path
  reports use; the records are read from the area once, then kept by the log; no text is formatted, a message
  formats its own when read);
- the walked records decoded to the event table as triage does for its inputs (``ifr_messages``: each ring's
  messages as columns, no message built; ``EventTable.from_messages`` over every buffer, the arguments of each
  (GUID, number) of every ring read at once with numpy), and the same from the buffers' bytes (walk included);
- the text of every message formatted afterwards, the cost deferred out of decoding (what a full logdump pays).

Each pass ends with a collection of the young generation, so the objects a pass built while the decoders paused
the cyclic collector (parsers/gcpause.py) are scanned once inside the measurement, as a real run would.

Usage: python bench/ifr_decode.py [BUFFERS [PAGES] [LARGE]]   (default 100 buffers of 16 pages = 64 KB rings,
then LARGE = 850 buffers, about a million records)
Target (issue 15): >= 1M records/s decoded to the event table, >= 10x the naive construct walk.
"""
from __future__ import annotations

import gc
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.events import EventTable  # noqa: E402
from parsers.ifr import IFR_HEADER_X64, IFR_RECORD_V2, parse_ifr  # noqa: E402
from parsers.tmf import TmfDatabase  # noqa: E402
from parsers.wpp import ifr_messages, messages_from_ifr  # noqa: E402
from samples.ifr_writer import IfrWriter  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

REPEATS = 3  # best of, to damp the noise of a shared machine


def make_buffers(count: int, pages: int = 16) -> list[bytes]:
    """Full rings wrapped several times, holding the framework messages of the sample scenarios (GUIDs, numbers
    and argument bytes as the sample TMF describes them), each buffer a different rotation with its own times."""
    records = [r for path in sorted((SAMPLES / "scenarios").glob("*.ifr"))
               for r in parse_ifr(path.read_bytes(), str(path)).records]
    buffers = []
    for n in range(count):
        w = IfrWriter("benchdrv", pages=pages)
        for i in range(250 * pages):
            r = records[(n * 7919 + i) % len(records)]
            w.write(r.message_guid, r.message_number, [r.payload], 0x01DB5A0000000000 + n * 100_000 + i)
        buffers.append(w.blob())
    return buffers


def naive_decode(blob: bytes) -> int:
    """Walk newest to oldest with construct parsing each record; returns the record count."""
    h = IFR_HEADER_X64.parse(blob)
    area = blob[IFR_HEADER_X64.sizeof():]
    offset, payloads, past_wrap, seen = h.Offset.Previous, [], False, set()
    while offset not in seen and offset + IFR_RECORD_V2.sizeof() <= len(area):
        rec = IFR_RECORD_V2.parse(area[offset:offset + IFR_RECORD_V2.sizeof()])
        payloads.append(area[offset + IFR_RECORD_V2.sizeof(): offset + rec.Length])
        seen.add(offset)
        if offset == 0:
            if rec.PrevOffset == 0 or past_wrap:
                break
            past_wrap = True
        if past_wrap and rec.PrevOffset < h.Offset.Current:
            break
        offset = rec.PrevOffset
    return len(payloads)


_PLAIN = struct.Struct("<HHiHH16sQ")


def plain_struct_decode(blob: bytes) -> int:
    """The same chain with one unpack_from per record and nothing else: the floor for any Python decoder."""
    current, previous = struct.unpack_from("<HH", blob, 0x1C)
    area, offset, count, past_wrap = blob[0x48:], previous, 0, False
    unpack = _PLAIN.unpack_from
    while True:
        _sig, _length, _seq, prev, _number, _guid, _time = unpack(area, offset)
        count += 1
        if offset == 0:
            if prev == 0 or past_wrap:
                break
            past_wrap = True
        if past_wrap and prev < current:
            break
        offset = prev
    return count


def best(fn) -> float:
    """CPU seconds of the fastest of REPEATS runs of ``fn`` (which returns what it built, kept alive until the
    young generation was collected). Per CPU second of this process: the machine is shared, and other
    processes' load is not the decoder's cost."""
    runs = []
    for _ in range(REPEATS):
        gc.collect()
        cpu = time.process_time()
        built = fn()
        gc.collect(0)
        runs.append(time.process_time() - cpu)
        del built
    return min(runs)


def table_of(logs, tmf) -> EventTable:
    """Every log decoded and put in one event table, one input per log (as ``triage A B ...`` does)."""
    return EventTable.from_messages((f"bench{i}", ifr_messages(log, tmf, f"bench{i}")) for i, log in enumerate(logs))


def measure(count: int, pages: int, tmf: TmfDatabase) -> None:
    buffers = make_buffers(count, pages)
    logs = [parse_ifr(b, "bench") for b in buffers]
    records = sum(len(log.records) for log in logs)
    assert records == sum(plain_struct_decode(b) for b in buffers)
    sample = buffers[: max(1, count // 10)]
    naive_rate = sum(naive_decode(b) for b in sample) / best(lambda: [naive_decode(b) for b in sample])
    plain_rate = records / best(lambda: [plain_struct_decode(b) for b in buffers])
    rates = {
        "ring walk": records / best(lambda: [parse_ifr(b, "bench") for b in buffers]),
        "records -> messages": records / best(lambda: [messages_from_ifr(log, tmf, "bench") for log in logs]),
        "records -> event table": records / best(lambda: table_of(logs, tmf)),
        "bytes -> event table": records / best(lambda: table_of([parse_ifr(b, "bench") for b in buffers], tmf)),
    }
    messages = [messages_from_ifr(log, tmf, "bench") for log in logs]
    cpu = time.process_time()
    for batch in messages:
        for m in batch:
            m.text
    format_rate = records / (time.process_time() - cpu)
    print(f"\n{count} buffers of {pages} pages, {sum(map(len, buffers)) / 1e6:.1f} MB, {records:,} records "
          f"(best of {REPEATS}; records per CPU second)")
    print(f"{'':24}{'records/s':>12}{'x naive':>9}{'x plain':>9}")
    for name, rate in rates.items():
        print(f"{name:24}{rate:12,.0f}{rate / naive_rate:9.1f}{rate / plain_rate:9.2f}")
    print(f"{'naive construct walk':24}{naive_rate:12,.0f}{1:9.1f}{naive_rate / plain_rate:9.2f}")
    print(f"{'plain struct loop':24}{plain_rate:12,.0f}{plain_rate / naive_rate:9.1f}{1:9.2f}")
    print(f"{'text of every message':24}{format_rate:12,.0f}   (formatting, deferred until a text is read)")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    pages = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    large = int(sys.argv[3]) if len(sys.argv) > 3 else 850
    tmf = TmfDatabase.from_paths([SAMPLES / "tmf"])
    print("Targets (issue 15): >= 1,000,000 records/s to the event table, >= 10x the naive construct walk")
    for size in (count, large):
        if size:
            measure(size, pages, tmf)


if __name__ == "__main__":
    main()
