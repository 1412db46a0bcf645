"""IFR decoding speed: the project's decoder vs a naive construct baseline, same buffers, same process.

The baseline walks the ring the same way but parses every record header with construct's
``Struct.parse`` (no cached struct layouts). Prints records/s for both and the ratio.
Usage: python bench/ifr_decode.py [BUFFERS]   (default 400 buffers of 16 pages)
"""
from __future__ import annotations

import sys
import time
import uuid

from parsers.ifr import IFR_HEADER_X64, IFR_RECORD_V2, parse_ifr
from samples.ifr_writer import IfrWriter


def make_buffers(count: int) -> list[bytes]:
    """Full 64 KB rings (the largest the framework allows), wrapped several times."""
    guid = uuid.UUID("7f5c2c1e-8d2a-4c65-9b1e-3d0f5e2a9c41")
    buffers = []
    for n in range(count):
        w = IfrWriter("benchdrv", pages=16)
        for i in range(4000):
            w.write(guid, 10 + i % 40, [(n * 7919 + i).to_bytes(8, "little")] * (1 + i % 4), 0x01DB5A0000000000 + i)
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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    buffers = make_buffers(count)
    size = sum(len(b) for b in buffers)
    start = time.perf_counter()
    ours = sum(len(parse_ifr(b, "bench").records) for b in buffers)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    naive = sum(naive_decode(b) for b in buffers)
    t_naive = time.perf_counter() - start
    assert ours == naive, (ours, naive)
    print(f"{count} buffers, {size / 1e6:.1f} MB, {ours} records")
    print(f"wdftriage decoder : {ours / t_ours:12,.0f} records/s ({t_ours:.2f} s)")
    print(f"naive construct   : {naive / t_naive:12,.0f} records/s ({t_naive:.2f} s)")
    print(f"ratio             : {t_naive / t_ours:.1f}x faster")


if __name__ == "__main__":
    main()
